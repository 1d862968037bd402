package dialect

import (
	"strings"
)

// The expression lexer: the words, literals and punctuation inside {{ }}
// and tag arguments.

type lexKind uint8

const (
	lexEOF    lexKind = iota
	lexIdent          // name, name-with-hyphens, name?
	lexString         // 'text' or "text", no escapes (as in Liquid)
	lexInt            // 12, -3
	lexFloat          // 1.5, -0.25
	lexOp             // == != <> < > <= >=
	lexPunct          // . .. [ ] ( ) | : , =
)

type lexeme struct {
	kind lexKind
	text string // the string's content for lexString
	pos  int    // byte offset in the expression
	end  int    // byte offset just past it
}

func (l lexeme) is(p string) bool {
	return (l.kind == lexPunct || l.kind == lexOp) && l.text == p
}

func (l lexeme) word(w string) bool { return l.kind == lexIdent && l.text == w }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c >= 0x80
}

func isIdentByte(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '-' }

// lex splits an expression into lexemes.
func lex(s string) ([]lexeme, error) {
	var out []lexeme
	for i := 0; i < len(s); {
		c := s[i]
		start := i
		switch {
		case isSpace(c):
			i++
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, errorf("a string is not closed in %q", s)
			}
			i += j + 2
			out = append(out, lexeme{lexString, s[start+1 : i-1], start, i})
		case isDigit(c) || (c == '-' && i+1 < len(s) && isDigit(s[i+1])):
			i++
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			kind := lexInt
			if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
				kind = lexFloat
				i++
				for i < len(s) && isDigit(s[i]) {
					i++
				}
			}
			if i < len(s) && isIdentStart(s[i]) {
				return nil, errorf("unexpected %q in %q", s[start:i+1], s)
			}
			out = append(out, lexeme{kind, s[start:i], start, i})
		case isIdentStart(c):
			i++
			for i < len(s) && isIdentByte(s[i]) {
				i++
			}
			if i < len(s) && s[i] == '?' {
				i++
			}
			out = append(out, lexeme{lexIdent, s[start:i], start, i})
		case c == '.' && i+1 < len(s) && s[i+1] == '.':
			i += 2
			out = append(out, lexeme{lexPunct, "..", start, i})
		case (c == '=' || c == '!' || c == '<' || c == '>') && i+1 < len(s) && s[i+1] == '=':
			i += 2
			out = append(out, lexeme{lexOp, s[start:i], start, i})
		case c == '<' && i+1 < len(s) && s[i+1] == '>':
			i += 2
			out = append(out, lexeme{lexOp, "<>", start, i})
		case c == '<' || c == '>':
			i++
			out = append(out, lexeme{lexOp, s[start:i], start, i})
		case strings.IndexByte(".[]()|:,=", c) >= 0:
			i++
			out = append(out, lexeme{lexPunct, s[start:i], start, i})
		default:
			return nil, errorf("unexpected character %q in %q", c, s)
		}
	}
	return out, nil
}
