package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// bodyKind is how a body is checked.
type bodyKind int

const (
	bodyText bodyKind = iota
	bodyJSON
	bodyForm
)

func kindOf(contentType string) bodyKind {
	if contentType == contentTypeJSON {
		return bodyJSON
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch {
	case mt == contentTypeJSON || strings.HasSuffix(mt, "+json"):
		return bodyJSON
	case mt == contentTypeForm:
		return bodyForm
	}
	return bodyText
}

// checkBody checks body against its content type before anything is sent.
// No body at all (nil) is always fine. An empty or all-space body is fine
// for GET and DELETE, and for any method when the content type is not
// JSON; a JSON POST, PUT or PATCH whose body template rendered nothing is
// refused, as that is almost always a mistake in the template.
func checkBody(method, contentType string, body []byte) error {
	if body == nil {
		return nil
	}
	kind := kindOf(contentType)
	if len(bytes.TrimSpace(body)) == 0 {
		if kind == bodyJSON && method != http.MethodGet && method != http.MethodDelete {
			return &BodyError{ContentType: contentType, Err: errors.New("empty body is not JSON")}
		}
		return nil
	}
	switch kind {
	case bodyJSON:
		return checkJSON(contentType, body)
	case bodyForm:
		return checkForm(contentType, body)
	}
	return nil
}

// checkJSON validates body and, when it is invalid, locates the first error.
// validJSON is the fast path; the slow path runs only for a bad body.
func checkJSON(contentType string, body []byte) error {
	if validJSON(body) {
		return nil
	}
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return &BodyError{ContentType: contentType, Err: err}
	}
	off := int(se.Offset)
	if strings.Contains(se.Error(), "unexpected end") {
		off = len(body) + 1 // the input ended early: point just past it
	}
	line, col, snippet := locate(body, off)
	return &BodyError{ContentType: contentType, Line: line, Column: col, Snippet: snippet, Err: se}
}

// validJSON reports whether b is one JSON value, with optional whitespace
// around it: exactly the documents json.Valid accepts (no check that
// strings are UTF-8, nesting at most 10,000 deep), several times faster,
// since every body is checked before it is sent.
func validJSON(b []byte) bool {
	v := jsonValidator{b: b}
	v.space()
	if !v.value() {
		return false
	}
	v.space()
	return v.i == len(b)
}

// jsonMaxDepth is encoding/json's nesting limit.
const jsonMaxDepth = 10000

type jsonValidator struct {
	b     []byte
	i     int
	depth int
}

// jsonPlain marks the bytes a string may hold unescaped: anything but a
// quote, a backslash or a control character.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (v *jsonValidator) space() {
	b, i := v.b, v.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	v.i = i
}

// value reads one value at v.i.
func (v *jsonValidator) value() bool {
	if v.i >= len(v.b) {
		return false
	}
	switch c := v.b[v.i]; {
	case c == '"':
		return v.str()
	case c == '{':
		return v.object()
	case c == '[':
		return v.array()
	case c == '-' || ('0' <= c && c <= '9'):
		return v.number()
	case c == 't':
		return v.literal("true")
	case c == 'f':
		return v.literal("false")
	case c == 'n':
		return v.literal("null")
	}
	return false
}

func (v *jsonValidator) literal(word string) bool {
	if len(v.b)-v.i < len(word) || string(v.b[v.i:v.i+len(word)]) != word {
		return false
	}
	v.i += len(word)
	return true
}

func (v *jsonValidator) str() bool {
	v.i++ // the opening quote
	for {
		b, i := v.b, v.i
		for i < len(b) && jsonPlain[b[i]] {
			i++
		}
		v.i = i
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case '"':
			v.i++
			return true
		case '\\':
			v.i++
			if v.i >= len(v.b) {
				return false
			}
			switch v.b[v.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				v.i++
			case 'u':
				if len(v.b)-v.i < 5 || !isHex(v.b[v.i+1]) || !isHex(v.b[v.i+2]) || !isHex(v.b[v.i+3]) || !isHex(v.b[v.i+4]) {
					return false
				}
				v.i += 5
			default:
				return false
			}
		default:
			return false // a control character
		}
	}
}

func (v *jsonValidator) digits() int {
	start := v.i
	for v.i < len(v.b) && '0' <= v.b[v.i] && v.b[v.i] <= '9' {
		v.i++
	}
	return v.i - start
}

func (v *jsonValidator) number() bool {
	if v.b[v.i] == '-' {
		v.i++
	}
	if v.i >= len(v.b) {
		return false
	}
	if v.b[v.i] == '0' {
		v.i++
	} else if v.digits() == 0 {
		return false
	}
	if v.i < len(v.b) && v.b[v.i] == '.' {
		v.i++
		if v.digits() == 0 {
			return false
		}
	}
	if v.i < len(v.b) && (v.b[v.i] == 'e' || v.b[v.i] == 'E') {
		v.i++
		if v.i < len(v.b) && (v.b[v.i] == '+' || v.b[v.i] == '-') {
			v.i++
		}
		if v.digits() == 0 {
			return false
		}
	}
	return true
}

func (v *jsonValidator) object() bool {
	if v.depth++; v.depth > jsonMaxDepth {
		return false
	}
	v.i++ // {
	v.space()
	if v.i < len(v.b) && v.b[v.i] == '}' {
		v.i++
		v.depth--
		return true
	}
	for {
		if v.i >= len(v.b) || v.b[v.i] != '"' || !v.str() {
			return false
		}
		v.space()
		if v.i >= len(v.b) || v.b[v.i] != ':' {
			return false
		}
		v.i++
		v.space()
		if !v.value() {
			return false
		}
		v.space()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
			v.space()
		case '}':
			v.i++
			v.depth--
			return true
		default:
			return false
		}
	}
}

func (v *jsonValidator) array() bool {
	if v.depth++; v.depth > jsonMaxDepth {
		return false
	}
	v.i++ // [
	v.space()
	if v.i < len(v.b) && v.b[v.i] == ']' {
		v.i++
		v.depth--
		return true
	}
	for {
		if !v.value() {
			return false
		}
		v.space()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
			v.space()
		case ']':
			v.i++
			v.depth--
			return true
		default:
			return false
		}
	}
}

// checkForm checks that body decodes as application/x-www-form-urlencoded
// and, if not, locates the first bad pair.
func checkForm(contentType string, body []byte) error {
	s := string(body)
	off := 0
	for off <= len(s) {
		end := strings.IndexByte(s[off:], '&')
		if end < 0 {
			end = len(s)
		} else {
			end += off
		}
		pair := s[off:end]
		var err error
		if i := strings.IndexByte(pair, ';'); i >= 0 {
			err = errors.New("semicolons are not separators: use &")
			off += i
		} else {
			key, value, _ := strings.Cut(pair, "=")
			if _, err = url.QueryUnescape(key); err == nil {
				_, err = url.QueryUnescape(value)
			}
			var ee url.EscapeError
			if errors.As(err, &ee) {
				off += badEscape(pair)
				err = fmt.Errorf("malformed percent-escape %q", string(ee))
			}
		}
		if err != nil {
			line, col, snippet := locate(body, off+1)
			return &BodyError{ContentType: contentType, Line: line, Column: col, Snippet: snippet, Err: err}
		}
		off = end + 1
	}
	return nil
}

// badEscape returns the offset of the first malformed %XX in s.
func badEscape(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && !(i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])) {
			return i
		}
	}
	return 0
}

// locate turns offset, the 1-based position of a byte as encoding/json
// counts it, into a 1-based line and column (in characters) and a short
// excerpt of the line around it.
func locate(b []byte, offset int) (line, col int, snippet string) {
	if offset > len(b)+1 {
		offset = len(b) + 1
	}
	if offset > 0 {
		offset--
	}
	line = 1 + bytes.Count(b[:offset], []byte("\n"))
	start := bytes.LastIndexByte(b[:offset], '\n') + 1
	col = utf8.RuneCount(b[start:offset]) + 1
	end := len(b)
	if i := bytes.IndexByte(b[offset:], '\n'); i >= 0 {
		end = offset + i
	}
	const around = 30
	from, to := max(start, offset-around), min(end, offset+around)
	// Move the cuts to character boundaries, at most a character's length
	// (invalid UTF-8 may have no boundary near).
	for i := 0; i < utf8.UTFMax-1 && from > start && !utf8.RuneStart(b[from]); i++ {
		from--
	}
	for i := 0; i < utf8.UTFMax-1 && to < end && !utf8.RuneStart(b[to]); i++ {
		to++
	}
	snippet = strings.TrimSpace(string(b[from:to]))
	if from > start {
		snippet = "…" + snippet
	}
	if to < end {
		snippet += "…"
	}
	return line, col, snippet
}

// BodyError reports a rendered body that does not match its Content-Type.
// It matches ErrInvalidBody with errors.Is.
type BodyError struct {
	ContentType string
	Line        int    // 1-based; 0 when the position is unknown
	Column      int    // 1-based, in characters, within Line
	Snippet     string // the text around the error
	Err         error  // the parser's error
}

// Error says what is wrong with the body and where, with the text around
// it.
func (e *BodyError) Error() string {
	var b strings.Builder
	b.WriteString("webhook: invalid ")
	switch kindOf(e.ContentType) {
	case bodyJSON:
		b.WriteString("JSON ")
	case bodyForm:
		b.WriteString("form ")
	}
	b.WriteString("body")
	if e.Line > 0 {
		fmt.Fprintf(&b, " at line %d, column %d", e.Line, e.Column)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Snippet != "" {
		fmt.Fprintf(&b, ", near %q", e.Snippet)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidBody) hold for every BodyError.
func (e *BodyError) Is(target error) bool { return target == ErrInvalidBody }

// Unwrap returns the parser's error.
func (e *BodyError) Unwrap() error { return e.Err }
