package dialect

// Conditional tags: if, unless (with elsif and else) and case.

type branch struct {
	cond expr // nil for else
	body []node
}

type ifNode struct {
	branches []branch
	negate   bool // unless: the first condition is negated
	line     int
}

func parseIf(p *parser, tok token) (node, bool, error) {
	n := &ifNode{negate: tok.name == "unless", line: tok.line}
	endName := "end" + tok.name
	cond, err := parseCondition(tok.args)
	if err != nil {
		return nil, false, exprError(tok, err)
	}
	var bodies []*body
	// After an else, Liquid ignores further else and elsif blocks.
	collecting, inElse := true, false
	for {
		b, end, err := p.block(tok, "elsif", "else", endName)
		if err != nil {
			return nil, false, err
		}
		if collecting {
			n.branches = append(n.branches, branch{cond: cond})
			bodies = append(bodies, &b)
		}
		if end.name == endName {
			break
		}
		if inElse {
			collecting = false
			continue
		}
		if end.name == "else" {
			inElse, cond = true, nil
			continue
		}
		if cond, err = parseCondition(end.args); err != nil {
			return nil, false, exprError(end, err)
		}
	}
	blank := dropBlankBodies(bodies)
	for i, b := range bodies {
		n.branches[i].body = b.nodes
	}
	return n, blank, nil
}

func (n *ifNode) render(st *state) error {
	if err := st.run.step(); err != nil {
		return err
	}
	for i, br := range n.branches {
		if br.cond != nil {
			v, err := br.cond.eval(st)
			if err != nil {
				return atLine(n.line, err)
			}
			holds := truthy(v)
			if i == 0 && n.negate {
				holds = !holds
			}
			if !holds {
				continue
			}
		}
		return st.renderBody(br.body)
	}
	return nil
}

type whenClause struct {
	values []expr // nil for else
	body   []node
}

type caseNode struct {
	subject expr
	whens   []whenClause
	line    int
}

func parseCase(p *parser, tok token) (node, bool, error) {
	subject, err := parseFiltered(tok.args)
	if err != nil {
		return nil, false, exprError(tok, err)
	}
	n := &caseNode{subject: subject, line: tok.line}
	// What comes before the first when is never rendered.
	_, end, err := p.block(tok, "when", "else", "endcase")
	if err != nil {
		return nil, false, err
	}
	var bodies []*body
	for end.name != "endcase" {
		var clause whenClause
		if end.name == "when" {
			if clause.values, err = parseWhen(end.args); err != nil {
				return nil, false, exprError(end, err)
			}
		}
		b, next, err := p.block(tok, "when", "else", "endcase")
		if err != nil {
			return nil, false, err
		}
		n.whens = append(n.whens, clause)
		bodies = append(bodies, &b)
		end = next
	}
	blank := dropBlankBodies(bodies)
	for i, b := range bodies {
		n.whens[i].body = b.nodes
	}
	return n, blank, nil
}

// parseWhen reads a when clause's values, separated by commas or or.
func parseWhen(src string) ([]expr, error) {
	p, err := newExprParser(src)
	if err != nil {
		return nil, err
	}
	if p.done() {
		return nil, errorf("when needs a value")
	}
	var values []expr
	for {
		v, err := p.primary()
		if err != nil {
			return nil, err
		}
		values = append(values, v)
		if t := p.peek(); t.is(",") || t.word("or") {
			p.next()
			continue
		}
		// Liquid reads a when clause up to the first value it cannot
		// join and ignores the rest.
		return values, nil
	}
}

// render renders every when clause that matches, or else the else
// clauses when none did, as Liquid does.
func (n *caseNode) render(st *state) error {
	if err := st.run.step(); err != nil {
		return err
	}
	subject, err := n.subject.eval(st)
	if err != nil {
		return atLine(n.line, err)
	}
	matched := false
	for _, w := range n.whens {
		if w.values == nil {
			if !matched {
				if err := st.renderBody(w.body); err != nil || st.interrupt != noInterrupt {
					return err
				}
			}
			continue
		}
		for _, v := range w.values {
			x, err := v.eval(st)
			if err != nil {
				return atLine(n.line, err)
			}
			if same(x, subject) {
				// Each matching value renders the block, as in Liquid.
				matched = true
				if err := st.renderBody(w.body); err != nil || st.interrupt != noInterrupt {
					return err
				}
			}
		}
	}
	return nil
}
