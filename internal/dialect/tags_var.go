package dialect

import (
	"strconv"
)

// Tags that set and print variables: assign, capture, increment,
// decrement, echo.

// variableName reads the name a tag sets: letters, digits, _ and -, not
// starting with -.
func variableName(s string) (name, rest string, ok bool) {
	s = trimLeftSpace(s)
	i := 0
	for i < len(s) && (isWordByte(s[i]) || s[i] == '-' || s[i] >= 0x80) {
		i++
	}
	if i == 0 || s[0] == '-' {
		return "", s, false
	}
	return s[:i], s[i:], true
}

type assignNode struct {
	name string
	expr *filteredExpr
	line int
}

func parseAssign(p *parser, tok token) (node, bool, error) {
	name, rest, ok := variableName(tok.args)
	rest = trimLeftSpace(rest)
	if !ok || len(rest) == 0 || rest[0] != '=' {
		return nil, false, syntaxError(tok.line, "assign: expected {%% assign name = value %%}, found %q", trimSpace(tok.args))
	}
	e, err := parseFiltered(rest[1:])
	if err != nil {
		return nil, false, exprError(tok, err)
	}
	return &assignNode{name: name, expr: e, line: tok.line}, true, nil
}

// render stores the value, an undefined one included: a later default or
// if stands in for it, and printing it fails naming what was missing.
func (a *assignNode) render(st *state) error {
	if err := st.run.step(); err != nil {
		return err
	}
	v, err := a.expr.eval(st)
	if err != nil {
		return atLine(a.line, err)
	}
	st.assign(a.name, v)
	return nil
}

type captureNode struct {
	name string
	body []node
	line int
}

func parseCapture(p *parser, tok token) (node, bool, error) {
	args := trimSpace(tok.args)
	name, rest, ok := variableName(args)
	if !ok && len(args) >= 2 && (args[0] == '"' || args[0] == '\'') && args[len(args)-1] == args[0] {
		name, rest, ok = args[1:len(args)-1], "", true
	}
	if !ok || trimSpace(rest) != "" {
		return nil, false, syntaxError(tok.line, "capture: expected {%% capture name %%}, found %q", args)
	}
	b, _, err := p.block(tok, "endcapture")
	if err != nil {
		return nil, false, err
	}
	return &captureNode{name: name, body: b.nodes, line: tok.line}, true, nil
}

func (c *captureNode) render(st *state) error {
	s, err := st.capture(c.body)
	if err != nil {
		return err
	}
	st.assign(c.name, s)
	return nil
}

// counterNode is increment (step 1, printing before) or decrement (step
// -1, printing after). Counters live apart from assigned variables, as in
// Liquid: an assign of the same name hides a counter.
type counterNode struct {
	name string
	step int
}

func parseCounter(p *parser, tok token) (node, bool, error) {
	name, rest, ok := variableName(tok.args)
	if !ok || trimSpace(rest) != "" {
		return nil, false, syntaxError(tok.line, "%s: expected a variable name, found %q", tok.name, trimSpace(tok.args))
	}
	step := 1
	if tok.name == "decrement" {
		step = -1
	}
	return &counterNode{name: name, step: step}, false, nil
}

func (c *counterNode) render(st *state) error {
	n, ok := st.counters[c.name]
	if !ok {
		if v, found := st.run.data[c.name]; found {
			n, _ = lenientInt(v)
		}
	}
	if st.counters == nil {
		st.counters = make(map[string]int)
	}
	if c.step > 0 {
		st.counters[c.name] = n + 1
		return st.write(strconv.Itoa(n))
	}
	n--
	st.counters[c.name] = n
	return st.write(strconv.Itoa(n))
}

func parseEcho(p *parser, tok token) (node, bool, error) {
	e, err := parseFiltered(tok.args)
	if err != nil {
		return nil, false, exprError(tok, err)
	}
	return &outputNode{expr: e, line: tok.line, source: trimSpace(tok.args)}, false, nil
}
