package dialect

import (
	"strings"
)

// The template parser: tokens into a tree of nodes. Each tag parses its
// own arguments and, for a block, its body up to the tags that end it.

// Compile parses src. Errors are *Error with ErrTemplateSyntax and the
// line of the markup at fault.
func Compile(src string) (*Template, error) {
	if !strings.Contains(src, "{{") && !strings.Contains(src, "{%") {
		return &Template{literal: src, static: true}, nil
	}
	p := &parser{src: newScanner(src, 1)}
	b, end, err := p.parseBody(nil)
	if err != nil {
		return nil, err
	}
	if end.kind != tokEOF {
		return nil, syntaxError(end.line, "unexpected {%% %s %%}", end.name)
	}
	return &Template{body: b.nodes, sizeHint: len(src)}, nil
}

// tokenSource is where a parser reads tokens: a template's scanner, or the
// lines of a {% liquid %} tag.
type tokenSource interface {
	next() (token, error)
	rawUntil(end string) (body string, closing token, ok bool)
}

type parser struct {
	src   tokenSource
	depth int
}

// maxNesting bounds how deep blocks nest, so that parsing cannot exhaust
// the stack.
const maxNesting = 100

// body is a parsed sequence of nodes. blank says it prints nothing but
// whitespace whatever the data: Liquid then drops that whitespace from
// the blocks of if, unless, case and for.
type body struct {
	nodes []node
	blank bool
}

// dropBlankText removes the text of a blank body.
func (b *body) dropBlankText() {
	kept := b.nodes[:0]
	for _, n := range b.nodes {
		if _, isText := n.(textNode); !isText {
			kept = append(kept, n)
		}
	}
	b.nodes = kept
}

// dropBlankBodies reports whether every body of a block is blank and, if
// so, removes their text: Liquid prints nothing for a block whose bodies
// hold only whitespace and tags that print nothing.
func dropBlankBodies(bodies []*body) bool {
	for _, b := range bodies {
		if !b.blank {
			return false
		}
	}
	for _, b := range bodies {
		b.dropBlankText()
	}
	return true
}

// tagParser parses a tag (and, for a block, its body) into a node; blank
// says the tag prints nothing.
type tagParser func(p *parser, tok token) (n node, blank bool, err error)

var tagParsers map[string]tagParser

func init() {
	tagParsers = map[string]tagParser{
		"assign": parseAssign, "capture": parseCapture, "increment": parseCounter, "decrement": parseCounter,
		"echo": parseEcho, "if": parseIf, "unless": parseIf, "case": parseCase,
		"for": parseFor, "tablerow": parseTablerow, "break": parseInterrupt, "continue": parseInterrupt,
		"cycle": parseCycle, "ifchanged": parseIfchanged,
		"raw": parseRaw, "comment": parseComment, "doc": parseDoc, "#": parseInlineComment, "liquid": parseLiquid,
		"include": parseFileTag, "render": parseFileTag,
		"generate_uuid": parseGenerateUUID, "random": parseRandom,
	}
}

// parseBody parses nodes until a tag named in ends, which it returns, or
// the end of the template (a token of kind tokEOF) when ends is nil.
func (p *parser) parseBody(ends []string) (body, token, error) {
	b := body{blank: true}
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		tok, _ := p.src.next()
		return b, token{kind: tokTag}, syntaxError(tok.line, "blocks nested more than %d deep", maxNesting)
	}
	for {
		tok, err := p.src.next()
		if err != nil {
			return b, token{kind: tokTag}, err
		}
		switch tok.kind {
		case tokEOF:
			if ends != nil {
				return b, tok, syntaxError(tok.line, "%s", "unexpected end of template")
			}
			return b, tok, nil
		case tokText:
			if tok.text == "" {
				continue
			}
			b.nodes = append(b.nodes, textNode(tok.text))
			b.blank = b.blank && trimSpace(tok.text) == ""
		case tokOutput:
			e, err := parseFiltered(tok.text)
			if err != nil {
				return b, tok, syntaxError(tok.line, "%v", err)
			}
			b.nodes = append(b.nodes, &outputNode{expr: e, line: tok.line, source: trimSpace(tok.text)})
			b.blank = false
		case tokTag:
			for _, end := range ends {
				if tok.name == end {
					return b, tok, nil
				}
			}
			parse := tagParsers[tok.name]
			if parse == nil {
				if strings.HasPrefix(tok.name, "end") || tok.name == "else" || tok.name == "elsif" || tok.name == "when" {
					return b, tok, syntaxError(tok.line, "unexpected {%% %s %%}", tok.name)
				}
				return b, tok, syntaxError(tok.line, "unknown tag %q", tok.name)
			}
			n, blank, err := parse(p, tok)
			if err != nil {
				return b, tok, err
			}
			if n != nil {
				b.nodes = append(b.nodes, n)
			}
			b.blank = b.blank && blank
		}
	}
}

// block parses a block's body up to one of ends, failing with the
// block's line when the template ends first.
func (p *parser) block(open token, ends ...string) (body, token, error) {
	b, end, err := p.parseBody(ends)
	if err != nil {
		if end.kind == tokEOF {
			return b, end, syntaxError(open.line, "{%% %s %%} is not closed by {%% %s %%}", open.name, ends[len(ends)-1])
		}
		return b, end, err
	}
	return b, end, nil
}

// noArgs fails when a tag that takes no arguments has some.
func noArgs(tok token) error {
	if trimSpace(tok.args) != "" {
		return syntaxError(tok.line, "{%% %s %%} takes no arguments", tok.name)
	}
	return nil
}

// exprError makes an expression's parse error a syntax error at the tag.
func exprError(tok token, err error) error {
	return syntaxError(tok.line, "%s: %v", tok.name, err)
}
