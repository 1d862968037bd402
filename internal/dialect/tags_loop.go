package dialect

import (
	"strconv"
	"strings"
)

// Loops: for and tablerow with their forloop and tablerowloop objects,
// break and continue, cycle and ifchanged.

// loopSpec is what for and tablerow share: the loop variable, the
// collection and its modifiers.
type loopSpec struct {
	variable   string
	collection expr
	name       string // variable-collection, as Liquid names a loop
	reversed   bool
	limit      expr
	offset     expr
	continued  bool // offset: continue
	cols       expr // tablerow only
	line       int
}

func parseLoopSpec(tok token, allowCols bool) (*loopSpec, error) {
	variable, rest, ok := variableName(tok.args)
	if !ok {
		return nil, syntaxError(tok.line, "%s: expected {%% %s item in collection %%}", tok.name, tok.name)
	}
	variable = strings.TrimSuffix(variable, "?")
	rest = trimLeftSpace(rest)
	if strings.HasPrefix(rest, "?") {
		variable += "?"
		rest = trimLeftSpace(rest[1:])
	}
	p, err := newExprParser(rest)
	if err != nil {
		return nil, exprError(tok, err)
	}
	if !p.next().word("in") {
		return nil, syntaxError(tok.line, "%s: expected {%% %s item in collection %%}", tok.name, tok.name)
	}
	start := p.peek().pos
	coll, err := p.primary()
	if err != nil {
		return nil, exprError(tok, err)
	}
	spec := &loopSpec{variable: variable, collection: coll, line: tok.line}
	spec.name = variable + "-" + trimSpace(rest[start:p.toks[p.i-1].end])
	for !p.done() {
		t := p.next()
		switch {
		case t.is(","):
		case t.word("reversed"):
			spec.reversed = true
		case t.kind == lexIdent && p.peek().is(":") && (t.text == "limit" || t.text == "offset" || (allowCols && t.text == "cols")):
			p.next()
			if t.text == "offset" && p.peek().word("continue") {
				p.next()
				spec.continued = true
				continue
			}
			v, err := p.primary()
			if err != nil {
				return nil, exprError(tok, err)
			}
			switch t.text {
			case "limit":
				spec.limit = v
			case "offset":
				spec.offset = v
			default:
				spec.cols = v
			}
		default:
			return nil, exprError(tok, p.unexpected(t, ""))
		}
	}
	return spec, nil
}

// sequence is what a loop walks: items, or a window of a range, which is
// not expanded (a loop's iterations are budgeted one by one).
type sequence struct {
	items    []any
	from, n  int // the range window, when items is nil
	isRange  bool
	reversed bool
}

func (s *sequence) len() int {
	if s.isRange {
		return s.n
	}
	return len(s.items)
}

func (s *sequence) at(i int) any {
	if s.reversed {
		i = s.len() - 1 - i
	}
	if s.isRange {
		return s.from + i
	}
	return s.items[i]
}

// items evaluates the collection and applies offset, limit and reversed,
// as Liquid does (in that order). An offset: continue starts where the
// last loop of the same name stopped.
func (l *loopSpec) items(st *state) (*sequence, error) {
	v, err := l.collection.eval(st)
	if err != nil {
		return nil, err
	}
	from := 0
	if l.continued {
		from = st.offsets[l.name]
	} else if l.offset != nil {
		if from, err = l.intArg(st, l.offset, "offset"); err != nil {
			return nil, err
		}
	}
	limit := -1
	if l.limit != nil {
		if limit, err = l.intArg(st, l.limit, "limit"); err != nil {
			return nil, err
		}
	}
	seq := &sequence{reversed: l.reversed}
	var items []any
	switch x := deref(v).(type) {
	case rangeValue:
		lo, hi := window(x.len(), from, limit)
		seq.isRange, seq.from, seq.n = true, x.from+lo, hi-lo
	case string:
		if x != "" && from == 0 && limit != 0 {
			items = []any{x}
		}
	case nil, *undefined, bool, int, float64, specialValue:
	default:
		all, ok := listOf(x)
		if !ok {
			m, isMap := mapOf(x)
			if !isMap {
				break
			}
			all = make([]any, 0, len(m))
			for _, k := range sortedKeys(m) {
				all = append(all, []any{k, m[k]})
			}
		}
		lo, hi := window(len(all), from, limit)
		items = all[lo:hi]
	}
	seq.items = items
	if st.offsets == nil {
		st.offsets = make(map[string]int)
	}
	st.offsets[l.name] = from + seq.len()
	return seq, nil
}

// window returns the bounds of n items from from, at most limit of them
// (all when limit < 0).
func window(n, from, limit int) (int, int) {
	lo := min(max(from, 0), n)
	hi := n
	if limit >= 0 && lo+limit < hi {
		hi = lo + limit
	}
	return lo, hi
}

func (l *loopSpec) intArg(st *state, e expr, what string) (int, error) {
	v, err := e.eval(st)
	if err != nil {
		return 0, err
	}
	if isNil(v) {
		if what == "limit" {
			return -1, nil
		}
		return 0, nil
	}
	n, ok := strictInt(v)
	if what == "cols" {
		n, ok = lenientInt(v)
	}
	if !ok {
		return 0, renderError("%s: %s is %s, not a whole number", l.variable, what, describe(v))
	}
	return n, nil
}

// forloop is the forloop object of a for loop.
type forloop struct {
	name   string
	index  int // 0-based
	length int
	parent *forloop
}

func (f *forloop) get(key string) (any, bool) {
	switch key {
	case "name":
		return f.name, true
	case "length":
		return f.length, true
	case "index":
		return f.index + 1, true
	case "index0":
		return f.index, true
	case "rindex":
		return f.length - f.index, true
	case "rindex0":
		return f.length - f.index - 1, true
	case "first":
		return f.index == 0, true
	case "last":
		return f.index == f.length-1, true
	case "parentloop":
		if f.parent == nil {
			return nil, true
		}
		return f.parent, true
	}
	return nil, false
}

type forNode struct {
	spec     *loopSpec
	body     []node
	elseBody []node
}

func parseFor(p *parser, tok token) (node, bool, error) {
	spec, err := parseLoopSpec(tok, false)
	if err != nil {
		return nil, false, err
	}
	n := &forNode{spec: spec}
	b, end, err := p.block(tok, "else", "endfor")
	if err != nil {
		return nil, false, err
	}
	bodies := []*body{&b}
	if end.name == "else" {
		eb, _, err := p.block(tok, "endfor")
		if err != nil {
			return nil, false, err
		}
		bodies = append(bodies, &eb)
	}
	blank := dropBlankBodies(bodies)
	n.body = bodies[0].nodes
	if len(bodies) > 1 {
		n.elseBody = bodies[1].nodes
	}
	return n, blank, nil
}

func (n *forNode) render(st *state) error {
	seq, err := n.spec.items(st)
	if err != nil {
		return atLine(n.spec.line, err)
	}
	if seq.len() == 0 {
		return st.renderBody(n.elseBody)
	}
	var parent *forloop
	if len(st.loops) > 0 {
		parent = st.loops[len(st.loops)-1]
	}
	loop := &forloop{name: n.spec.name, length: seq.len(), parent: parent}
	st.loops = append(st.loops, loop)
	st.frames = append(st.frames, binding{"forloop", loop}, binding{n.spec.variable, nil})
	defer func() {
		st.frames = st.frames[:len(st.frames)-2]
		st.loops = st.loops[:len(st.loops)-1]
	}()
	for i := range seq.len() {
		if err := st.run.iterate(); err != nil {
			return atLine(n.spec.line, err)
		}
		loop.index = i
		st.frames[len(st.frames)-1].value = seq.at(i)
		if err := st.renderBody(n.body); err != nil {
			return err
		}
		if st.interrupt == breakLoop {
			st.interrupt = noInterrupt
			break
		}
		st.interrupt = noInterrupt
	}
	return nil
}

// tablerowloop is the tablerowloop object.
type tablerowloop struct {
	forloop
	cols int
}

func (t *tablerowloop) get(key string) (any, bool) {
	col0 := t.index % t.cols
	switch key {
	case "col":
		return col0 + 1, true
	case "col0":
		return col0, true
	case "col_first":
		return col0 == 0, true
	case "col_last":
		return col0 == t.cols-1, true
	case "row":
		return t.index/t.cols + 1, true
	case "parentloop":
		return nil, false
	}
	return t.forloop.get(key)
}

type tablerowNode struct {
	spec *loopSpec
	body []node
}

func parseTablerow(p *parser, tok token) (node, bool, error) {
	spec, err := parseLoopSpec(tok, true)
	if err != nil {
		return nil, false, err
	}
	b, _, err := p.block(tok, "endtablerow")
	if err != nil {
		return nil, false, err
	}
	return &tablerowNode{spec: spec, body: b.nodes}, false, nil
}

func (n *tablerowNode) render(st *state) error {
	seq, err := n.spec.items(st)
	if err != nil {
		return atLine(n.spec.line, err)
	}
	cols := seq.len()
	if n.spec.cols != nil {
		c, err := n.spec.intArg(st, n.spec.cols, "cols")
		if err != nil {
			return atLine(n.spec.line, err)
		}
		if c > 0 {
			cols = c
		}
	}
	cols = max(cols, 1)
	loop := &tablerowloop{forloop: forloop{name: n.spec.name, length: seq.len()}, cols: cols}
	st.frames = append(st.frames, binding{"tablerowloop", loop}, binding{n.spec.variable, nil})
	defer func() { st.frames = st.frames[:len(st.frames)-2] }()
	if err := st.write("<tr class=\"row1\">\n"); err != nil {
		return err
	}
	for i := range seq.len() {
		if err := st.run.iterate(); err != nil {
			return atLine(n.spec.line, err)
		}
		loop.index = i
		st.frames[len(st.frames)-1].value = seq.at(i)
		if err := st.write(`<td class="col` + strconv.Itoa(i%cols+1) + `">`); err != nil {
			return err
		}
		if err := st.renderBody(n.body); err != nil {
			return err
		}
		if err := st.write("</td>"); err != nil {
			return err
		}
		if i%cols == cols-1 && i != seq.len()-1 {
			if err := st.write("</tr>\n<tr class=\"row" + strconv.Itoa(i/cols+2) + "\">"); err != nil {
				return err
			}
		}
		brk := st.interrupt == breakLoop
		st.interrupt = noInterrupt
		if brk {
			break
		}
	}
	return st.write("</tr>\n")
}

type interruptNode interrupt

func parseInterrupt(p *parser, tok token) (node, bool, error) {
	if tok.name == "break" {
		return interruptNode(breakLoop), false, nil
	}
	return interruptNode(continueLoop), false, nil
}

// render stops the enclosing loop, or outside a loop the rest of the
// template, as in Liquid.
func (n interruptNode) render(st *state) error {
	st.interrupt = interrupt(n)
	return nil
}

type cycleNode struct {
	group  expr // nil: the values name the group
	key    string
	values []expr
	line   int
}

func parseCycle(p *parser, tok token) (node, bool, error) {
	ep, err := newExprParser(tok.args)
	if err != nil {
		return nil, false, exprError(tok, err)
	}
	n := &cycleNode{line: tok.line}
	first, err := ep.primary()
	if err != nil {
		return nil, false, exprError(tok, err)
	}
	if ep.peek().is(":") {
		ep.next()
		n.group = first
	} else {
		n.values = append(n.values, first)
		if !ep.done() {
			if err := ep.expect(","); err != nil {
				return nil, false, exprError(tok, err)
			}
		}
	}
	for !ep.done() {
		v, err := ep.primary()
		if err != nil {
			return nil, false, exprError(tok, err)
		}
		n.values = append(n.values, v)
		if !ep.done() {
			if err := ep.expect(","); err != nil {
				return nil, false, exprError(tok, err)
			}
		}
	}
	if len(n.values) == 0 {
		return nil, false, syntaxError(tok.line, "cycle needs values")
	}
	if n.group == nil {
		var key strings.Builder
		for i, t := range ep.toks {
			if i > 0 {
				key.WriteByte(' ')
			}
			key.WriteString(tok.args[t.pos:t.end])
		}
		n.key = "values " + key.String()
	}
	return n, false, nil
}

func (n *cycleNode) render(st *state) error {
	key := n.key
	if n.group != nil {
		g, err := n.group.eval(st)
		if err != nil {
			return atLine(n.line, err)
		}
		key = "group " + scalarText(plain(g))
	}
	if st.cycles == nil {
		st.cycles = make(map[string]int)
	}
	i := st.cycles[key]
	var v any
	if i < len(n.values) {
		var err error
		if v, err = n.values[i].eval(st); err != nil {
			return atLine(n.line, err)
		}
	}
	i++
	if i >= len(n.values) {
		i = 0
	}
	st.cycles[key] = i
	return atLine(n.line, st.print(v, "", "cycle"))
}

type ifchangedNode struct{ body []node }

func parseIfchanged(p *parser, tok token) (node, bool, error) {
	b, _, err := p.block(tok, "endifchanged")
	if err != nil {
		return nil, false, err
	}
	return &ifchangedNode{body: b.nodes}, b.blank, nil
}

// render prints the body's output when it differs from what the last
// ifchanged printed.
func (n *ifchangedNode) render(st *state) error {
	s, err := st.capture(n.body)
	if err != nil {
		return err
	}
	if st.changed != nil && *st.changed == s {
		return nil
	}
	st.changed = &s
	// Through the hook, as a print: the block may print data.
	return st.print(s, "", "ifchanged")
}
