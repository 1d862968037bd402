package dialect

import (
	"strings"
)

// Tags about the template's text: raw, comment, doc, inline comments
// ({% # %}), the liquid tag, and include and render, which are refused.

func parseRaw(p *parser, tok token) (node, bool, error) {
	if err := noArgs(tok); err != nil {
		return nil, false, err
	}
	text, _, ok := p.src.rawUntil("endraw")
	if !ok {
		return nil, false, syntaxError(tok.line, "{%% raw %%} is not closed by {%% endraw %%}")
	}
	if text == "" {
		return nil, true, nil
	}
	return textNode(text), false, nil
}

// parseComment skips everything up to the matching endcomment: nested
// comments and raw blocks are skipped whole.
func parseComment(p *parser, tok token) (node, bool, error) {
	depth := 1
	for {
		t, err := p.src.next()
		if err != nil {
			return nil, false, err
		}
		switch {
		case t.kind == tokEOF:
			return nil, false, syntaxError(tok.line, "{%% comment %%} is not closed by {%% endcomment %%}")
		case t.kind != tokTag:
		case t.name == "comment":
			depth++
		case t.name == "endcomment":
			depth--
			if depth == 0 {
				return nil, true, nil
			}
		case t.name == "raw":
			if _, _, ok := p.src.rawUntil("endraw"); !ok {
				return nil, false, syntaxError(t.line, "{%% raw %%} is not closed by {%% endraw %%}")
			}
		}
	}
}

func parseDoc(p *parser, tok token) (node, bool, error) {
	if err := noArgs(tok); err != nil {
		return nil, false, err
	}
	body, _, ok := p.src.rawUntil("enddoc")
	if !ok {
		return nil, false, syntaxError(tok.line, "{%% doc %%} is not closed by {%% enddoc %%}")
	}
	if strings.Contains(body, "{% doc") || strings.Contains(body, "{%- doc") {
		return nil, false, syntaxError(tok.line, "{%% doc %%} cannot contain another")
	}
	return nil, true, nil
}

// parseInlineComment accepts {% # text %}; a comment over several lines
// needs a # on each.
func parseInlineComment(p *parser, tok token) (node, bool, error) {
	lines := strings.Split(tok.args, "\n")
	for _, l := range lines[1:] {
		if l = trimSpace(l); l != "" && l[0] != '#' {
			return nil, false, syntaxError(tok.line, "every line of a {%% # %%} comment starts with #")
		}
	}
	return nil, true, nil
}

func parseFileTag(p *parser, tok token) (node, bool, error) {
	return nil, false, syntaxError(tok.line, "{%% %s %%} is not supported: templates cannot read files", tok.name)
}

// lineSource gives the lines of a {% liquid %} tag as tags.
type lineSource struct {
	lines []string
	lineN []int
	i     int
	end   int // the line after the tag, for tokEOF
}

func newLineSource(args string, line int) *lineSource {
	ls := &lineSource{end: line + strings.Count(args, "\n")}
	for _, l := range strings.Split(args, "\n") {
		ls.lines = append(ls.lines, strings.TrimSuffix(l, "\r"))
		ls.lineN = append(ls.lineN, line)
		line++
	}
	return ls
}

func (l *lineSource) next() (token, error) {
	for l.i < len(l.lines) {
		text, line := trimSpace(l.lines[l.i]), l.lineN[l.i]
		l.i++
		if text == "" {
			continue
		}
		name, args, ok := splitTag(text)
		if !ok {
			return token{}, syntaxError(line, "%q in {%% liquid %%} is not a tag", text)
		}
		if strings.ContainsRune(args, '\r') {
			return token{}, syntaxError(line, "a line of {%% liquid %%} ends with a lone carriage return")
		}
		return token{kind: tokTag, line: line, name: name, args: args}, nil
	}
	return token{kind: tokEOF, line: l.end}, nil
}

func (l *lineSource) rawUntil(string) (string, token, bool) { return "", token{}, false }

type bodyNode []node

func (b bodyNode) render(st *state) error { return st.renderBody(b) }

func parseLiquid(p *parser, tok token) (node, bool, error) {
	inner := &parser{src: newLineSource(tok.args, tok.line), depth: p.depth}
	b, _, err := inner.parseBody(nil)
	if err != nil {
		return nil, false, err
	}
	return bodyNode(b.nodes), b.blank, nil
}
