package dialect

import (
	"strconv"
)

// The expression parser: paths, literals, ranges, comparisons joined by
// and/or (grouped from the right, as Liquid does), and filter chains.

type exprParser struct {
	src   string
	toks  []lexeme
	i     int
	depth int // brackets and ranges open
}

// maxExprNesting bounds brackets and ranges within one another.
const maxExprNesting = 50

func newExprParser(src string) (*exprParser, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	return &exprParser{src: src, toks: toks}, nil
}

func (p *exprParser) peek() lexeme {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return lexeme{kind: lexEOF, pos: len(p.src), end: len(p.src)}
}

func (p *exprParser) peekAt(k int) lexeme {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return lexeme{kind: lexEOF, pos: len(p.src), end: len(p.src)}
}

func (p *exprParser) next() lexeme {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

func (p *exprParser) done() bool { return p.i >= len(p.toks) }

func (p *exprParser) expect(punct string) error {
	if t := p.next(); !t.is(punct) {
		return p.unexpected(t, punct)
	}
	return nil
}

func (p *exprParser) unexpected(t lexeme, want string) error {
	if t.kind == lexEOF {
		if want != "" {
			return errorf("expected %s at the end of %q", want, trimSpace(p.src))
		}
		return errorf("unexpected end of %q", trimSpace(p.src))
	}
	if want != "" {
		return errorf("expected %s, found %q in %q", want, p.src[t.pos:t.end], trimSpace(p.src))
	}
	return errorf("unexpected %q in %q", p.src[t.pos:t.end], trimSpace(p.src))
}

// end fails unless every lexeme was read.
func (p *exprParser) end() error {
	if !p.done() {
		return p.unexpected(p.peek(), "")
	}
	return nil
}

// filtered parses a condition followed by filters: the expression of
// {{ }}, assign and echo.
func (p *exprParser) filtered() (*filteredExpr, error) {
	head, err := p.cond()
	if err != nil {
		return nil, err
	}
	f := &filteredExpr{head: head, lastDefault: -1}
	for p.peek().is("|") {
		p.next()
		call, err := p.filter()
		if err != nil {
			return nil, err
		}
		if call.name == "default" {
			f.lastDefault = len(f.filters)
		}
		f.filters = append(f.filters, call)
	}
	return f, nil
}

func (p *exprParser) filter() (filterCall, error) {
	name := p.next()
	if name.kind != lexIdent {
		return filterCall{}, p.unexpected(name, "a filter name")
	}
	def := filterDefs[name.text]
	if def == nil {
		return filterCall{}, errorf("unknown filter %q", name.text)
	}
	call := filterCall{name: name.text, def: def}
	if !p.peek().is(":") {
		return call, call.checkArity()
	}

	p.next()
	for {
		if t := p.peek(); t.kind == lexIdent && p.peekAt(1).is(":") {
			p.next()
			p.next()
			v, err := p.primary()
			if err != nil {
				return filterCall{}, err
			}
			call.named = append(call.named, namedArg{name: t.text, value: v})
		} else {
			v, err := p.primary()
			if err != nil {
				return filterCall{}, err
			}
			call.args = append(call.args, v)
		}
		if !p.peek().is(",") {
			break
		}
		p.next()
	}
	if def.prepare != nil {
		call.prep = def.prepare(call.args)
	}
	return call, call.checkArity()
}

// cond parses comparisons joined by and/or. Liquid groups them from the
// right: a and b or c is a and (b or c).
func (p *exprParser) cond() (expr, error) {
	var terms []expr
	var ands []bool
	for {
		term, err := p.comparison()
		if err != nil {
			return nil, err
		}
		terms = append(terms, term)
		t := p.peek()
		if !t.word("and") && !t.word("or") {
			break
		}
		p.next()
		ands = append(ands, t.text == "and")
	}
	e := terms[len(terms)-1]
	for i := len(terms) - 2; i >= 0; i-- {
		e = &logicExpr{and: ands[i], left: terms[i], right: e}
	}
	return e, nil
}

func (p *exprParser) comparison() (expr, error) {
	left, err := p.primary()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != lexOp && !t.word("contains") {
		return left, nil
	}
	p.next()
	right, err := p.primary()
	if err != nil {
		return nil, err
	}
	op := t.text
	if op == "<>" {
		op = "!="
	}
	return &compareExpr{op: op, left: left, right: right}, nil
}

// primary parses a literal, a range or a path.
func (p *exprParser) primary() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxExprNesting {
		return nil, errorf("expression nested more than %d deep", maxExprNesting)
	}
	t := p.peek()
	switch {
	case t.kind == lexString:
		p.next()
		return literal{t.text}, nil
	case t.kind == lexInt:
		p.next()
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, errorf("integer %s is too large", t.text)
		}
		return literal{int(n)}, nil
	case t.kind == lexFloat:
		p.next()
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, errorf("number %s is out of range", t.text)
		}
		return literal{f}, nil
	case t.is("("):
		return p.rangeExpr()
	case t.is("["):
		return p.path()
	case t.kind == lexIdent:
		if next := p.peekAt(1); !next.is(".") && !next.is("[") {
			switch t.text {
			case "true", "false":
				p.next()
				return literal{t.text == "true"}, nil
			case "nil", "null":
				p.next()
				return literal{nil}, nil
			case "empty":
				p.next()
				return literal{emptyValue}, nil
			case "blank":
				p.next()
				return literal{blankValue}, nil
			}
		}
		return p.path()
	}
	return nil, p.unexpected(t, "a value")
}

func (p *exprParser) rangeExpr() (expr, error) {
	open := p.next()
	from, err := p.primary()
	if err != nil {
		return nil, err
	}
	if err := p.expect(".."); err != nil {
		return nil, err
	}
	to, err := p.primary()
	if err != nil {
		return nil, err
	}
	closing := p.next()
	if !closing.is(")") {
		return nil, p.unexpected(closing, ")")
	}
	return &rangeExpr{from: from, to: to, text: p.src[open.pos:closing.end]}, nil
}

// path parses name.prop[index]... or [key]....
func (p *exprParser) path() (expr, error) {
	first := p.peek()
	pe := &pathExpr{}
	if first.kind == lexIdent {
		p.next()
		pe.root = first.text
	} else {
		key, err := p.bracket()
		if err != nil {
			return nil, err
		}
		pe.rootKey = key
	}
	last := p.toks[p.i-1]
	for {
		t := p.peek()
		switch {
		case t.is("."):
			p.next()
			name := p.next()
			if name.kind != lexIdent {
				return nil, p.unexpected(name, "a property name after .")
			}
			pe.segs = append(pe.segs, pathSeg{name: name.text})
			last = name
			continue
		case t.is("["):
			key, err := p.bracket()
			if err != nil {
				return nil, err
			}
			pe.segs = append(pe.segs, key)
			last = p.toks[p.i-1]
			continue
		}
		break
	}
	pe.text = p.src[first.pos:last.end]
	return pe, nil
}

// bracket parses [expr] into a segment: a literal key or index, or an
// expression read when the path is.
func (p *exprParser) bracket() (pathSeg, error) {
	if err := p.expect("["); err != nil {
		return pathSeg{}, err
	}
	key, err := p.primary()
	if err != nil {
		return pathSeg{}, err
	}
	if err := p.expect("]"); err != nil {
		return pathSeg{}, err
	}
	if lit, ok := key.(literal); ok {
		switch v := lit.v.(type) {
		case string:
			return pathSeg{name: v}, nil
		case int:
			return pathSeg{index: v, isIndex: true}, nil
		}
	}
	return pathSeg{key: key}, nil
}

// parseFiltered parses a whole {{ }} expression.
func parseFiltered(src string) (*filteredExpr, error) {
	p, err := newExprParser(src)
	if err != nil {
		return nil, err
	}
	if p.done() {
		return &filteredExpr{head: literal{nil}, lastDefault: -1}, nil
	}
	f, err := p.filtered()
	if err != nil {
		return nil, err
	}
	return f, p.end()
}

// parseCondition parses a whole if, elsif or unless condition.
func parseCondition(src string) (expr, error) {
	p, err := newExprParser(src)
	if err != nil {
		return nil, err
	}
	if p.done() {
		return nil, errorf("a condition is missing")
	}
	c, err := p.cond()
	if err != nil {
		return nil, err
	}
	return c, p.end()
}
