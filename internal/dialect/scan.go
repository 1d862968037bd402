package dialect

import "strings"

// The scanner splits a template into text, {{ output }} and {% tag %}
// tokens, applying whitespace control ({{- -}}, {%- -%}) to the text
// beside them. Like Shopify's tokenizer it does not look inside markup
// for quotes: the first }} or %} closes it, whatever line it is on.

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokText
	tokOutput
	tokTag
)

type token struct {
	kind tokKind
	line int
	text string // text, or the expression of an output
	name string // a tag's name
	args string // a tag's arguments
	// trimRight says the markup ends with -}} or -%}: the text after it
	// loses its leading whitespace.
	trimRight bool
}

// scanner produces tokens one at a time, so that raw and comment blocks
// can take the source that follows them as it is.
type scanner struct {
	src      string
	pos      int
	line     int
	trimNext bool // the previous markup asked for the next text's leading whitespace to go
}

func newScanner(src string, line int) *scanner {
	return &scanner{src: src, line: line}
}

// isSpace is Ruby's whitespace for strip: space, \t, \n, \v, \f, \r and NUL.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == 0
}

func trimLeftSpace(s string) string {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return s[i:]
}

func trimRightSpace(s string) string {
	i := len(s)
	for i > 0 && isSpace(s[i-1]) {
		i--
	}
	return s[:i]
}

func trimSpace(s string) string { return trimRightSpace(trimLeftSpace(s)) }

// markupStart returns the offset of the next {{ or {% at or after from,
// or -1.
func markupStart(s string, from int) int {
	for i := from; i+1 < len(s); i++ {
		j := strings.IndexByte(s[i:], '{')
		if j < 0 {
			return -1
		}
		i += j
		if i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '%') {
			return i
		}
	}
	return -1
}

// next returns the next token.
func (s *scanner) next() (token, error) {
	if s.pos >= len(s.src) {
		return token{kind: tokEOF, line: s.line}, nil
	}
	start := markupStart(s.src, s.pos)
	if start != s.pos {
		end := start
		if end < 0 {
			end = len(s.src)
		}
		text := s.src[s.pos:end]
		tok := token{kind: tokText, line: s.line}
		s.line += strings.Count(text, "\n")
		s.pos = end
		if s.trimNext {
			text = trimLeftSpace(text)
			s.trimNext = false
		}
		if end+2 < len(s.src) && s.src[end+2] == '-' {
			text = trimRightSpace(text)
		}
		tok.text = text
		return tok, nil
	}
	s.trimNext = false
	line := s.line
	if s.src[start+1] == '{' {
		end := strings.Index(s.src[start+2:], "}}")
		if end < 0 {
			return token{}, syntaxError(line, "{{ is not closed by }}")
		}
		end += start + 2
		inner := s.src[start+2 : end]
		s.advance(end + 2)
		tok := token{kind: tokOutput, line: line}
		tok.text, tok.trimRight = trimMarkers(inner)
		s.trimNext = tok.trimRight
		return tok, nil
	}
	end := strings.Index(s.src[start+2:], "%}")
	if end < 0 {
		return token{}, syntaxError(line, "{%% does not start a tag closed by %%}")
	}
	end += start + 2
	inner := s.src[start+2 : end]
	s.advance(end + 2)
	tok := token{kind: tokTag, line: line}
	inner, tok.trimRight = trimMarkers(inner)
	s.trimNext = tok.trimRight
	name, args, ok := splitTag(inner)
	if !ok {
		return token{}, syntaxError(line, "tag {%%%s%%} has no name", inner)
	}
	tok.name, tok.args = name, args
	return tok, nil
}

// trimMarkers removes the whitespace control from the inside of {{ }} or
// {% %}: a leading - (which trimmed the text before, as it was scanned)
// and a trailing one, reported as trimRight.
func trimMarkers(inner string) (_ string, trimRight bool) {
	inner = strings.TrimPrefix(inner, "-")
	if strings.HasSuffix(inner, "-") {
		return inner[:len(inner)-1], true
	}
	return inner, false
}

// advance moves to offset to, counting lines.
func (s *scanner) advance(to int) {
	s.line += strings.Count(s.src[s.pos:to], "\n")
	s.pos = to
}

// splitTag reads a tag's name (a word, or # for an inline comment) and
// its arguments.
func splitTag(inner string) (name, args string, ok bool) {
	i := 0
	for i < len(inner) && isSpace(inner[i]) {
		i++
	}
	if i < len(inner) && inner[i] == '#' {
		return "#", inner[i+1:], true
	}
	j := i
	for j < len(inner) && isWordByte(inner[j]) {
		j++
	}
	if j == i {
		return "", "", false
	}
	return inner[i:j], inner[j:], true
}

func isWordByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// rawUntil returns the source up to the tag {% end %} (with optional
// whitespace control) and moves past it. ok is false when there is none.
func (s *scanner) rawUntil(end string) (body string, closing token, ok bool) {
	for from := s.pos; ; {
		i := strings.Index(s.src[from:], "{%")
		if i < 0 {
			return "", token{}, false
		}
		i += from
		j := i + 2
		if j < len(s.src) && s.src[j] == '-' {
			j++
		}
		for j < len(s.src) && isSpace(s.src[j]) {
			j++
		}
		if !strings.HasPrefix(s.src[j:], end) || (j+len(end) < len(s.src) && isWordByte(s.src[j+len(end)])) {
			from = i + 2
			continue
		}
		k := strings.Index(s.src[j:], "%}")
		if k < 0 {
			return "", token{}, false
		}
		k += j
		body = s.src[s.pos:i]
		closing = token{kind: tokTag, name: end, line: s.line + strings.Count(body, "\n")}
		closing.trimRight = s.src[k-1] == '-'
		s.advance(k + 2)
		s.trimNext = closing.trimRight
		return body, closing, true
	}
}
