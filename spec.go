package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ParseError reports where a JSON document given to ParseSpec or ParseData
// is wrong. It matches ErrInvalidSpec or ErrInvalidData with errors.Is.
type ParseError struct {
	// Field names the field at fault, such as "headers.X-Team", or is empty
	// when the document as a whole is at fault.
	Field string
	// Line and Column are 1-based (Column counts characters); both are 0
	// when the position is unknown.
	Line, Column int
	// Err says what is wrong.
	Err error

	kind error
}

// Error gives the document's kind, the line and column, the field and
// what is wrong, each when known.
func (e *ParseError) Error() string {
	var b strings.Builder
	if e.kind != nil {
		b.WriteString(e.kind.Error())
	} else {
		b.WriteString("webhook: invalid document")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d, column %d", e.Line, e.Column)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is the sentinel for this document's kind.
func (e *ParseError) Is(target error) bool { return target != nil && target == e.kind }

// Unwrap returns what is wrong.
func (e *ParseError) Unwrap() error { return e.Err }

func newParseError(kind error, doc []byte, offset int, field string, err error) *ParseError {
	line, col, _ := locate(doc, offset+1)
	return &ParseError{Field: field, Line: line, Column: col, Err: err, kind: kind}
}

// jsonError converts an encoding/json error into a *ParseError at its
// position. A SyntaxError's Offset counts the bytes read up to and
// including the bad one from Decode, but only those before it from Token;
// tokenErr says which.
func jsonError(kind error, doc []byte, err error, tokenErr bool) *ParseError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := int(se.Offset) - 1
		if tokenErr {
			off++
		}
		return newParseError(kind, doc, off, "", se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newParseError(kind, doc, len(doc), "", errors.New("unexpected end of input"))
	}
	return &ParseError{Err: err, kind: kind}
}

// skipSpace returns the offset of the first byte at or after off that is
// not JSON whitespace.
func skipSpace(b []byte, off int) int {
	for off < len(b) && (b[off] == ' ' || b[off] == '\t' || b[off] == '\n' || b[off] == '\r') {
		off++
	}
	return off
}

// specReader streams a spec document token by token, so every error has a
// position and unknown or repeated fields are caught.
type specReader struct {
	doc []byte
	dec *json.Decoder
}

// next returns the next token and the offset where it starts.
func (r *specReader) next() (json.Token, int, error) {
	off := int(r.dec.InputOffset())
	tok, err := r.dec.Token()
	// Token consumes the separators (',' and ':') before a value.
	for off < len(r.doc) && strings.IndexByte(" \t\r\n,:", r.doc[off]) >= 0 {
		off++
	}
	if err != nil {
		return nil, off, jsonError(ErrInvalidSpec, r.doc, err, true)
	}
	return tok, off, nil
}

func (r *specReader) fail(off int, field, format string, a ...any) error {
	return newParseError(ErrInvalidSpec, r.doc, off, field, fmt.Errorf(format, a...))
}

// str reads a string (or null) value for field.
func (r *specReader) str(field string) (string, int, error) {
	tok, off, err := r.next()
	if err != nil {
		return "", off, err
	}
	switch v := tok.(type) {
	case string:
		return v, off, nil
	case nil:
		return "", off, nil
	}
	return "", off, r.fail(off, field, "want a string, got %s", describeToken(tok))
}

// strMap reads an object of strings (or null) for field.
func (r *specReader) strMap(field string) (map[string]string, error) {
	tok, off, err := r.next()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, r.fail(off, field, "want an object of strings, got %s", describeToken(tok))
	}
	m := make(map[string]string)
	for r.dec.More() {
		keyTok, keyOff, err := r.next()
		if err != nil {
			return nil, err
		}
		key := keyTok.(string)
		if _, dup := m[key]; dup {
			return nil, r.fail(keyOff, field+"."+key, "appears twice")
		}
		v, _, err := r.str(field + "." + key)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
	if _, _, err := r.next(); err != nil { // the closing brace
		return nil, err
	}
	return m, nil
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case nil:
		return "null"
	}
	return "a string"
}

// ParseSpec reads a Spec from JSON strictly: unknown or repeated fields,
// values of the wrong type, an unknown method or sending behaviour, and
// anything after the object are refused. An error is a *ParseError with
// the line, column and field.
func ParseSpec(b []byte) (Spec, error) {
	r := &specReader{doc: b, dec: json.NewDecoder(bytes.NewReader(b))}
	r.dec.UseNumber()
	var s Spec
	tok, off, err := r.next()
	if err != nil {
		return Spec{}, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Spec{}, r.fail(off, "", "a spec must be a JSON object")
	}
	seen := make(map[string]bool)
	for r.dec.More() {
		keyTok, keyOff, err := r.next()
		if err != nil {
			return Spec{}, err
		}
		key := keyTok.(string)
		if seen[key] {
			return Spec{}, r.fail(keyOff, key, "appears twice")
		}
		seen[key] = true
		switch key {
		case "method":
			m, off, err := r.str(key)
			if err != nil {
				return Spec{}, err
			}
			if _, err := normalizeMethod(m); err != nil {
				return Spec{}, newParseError(ErrInvalidSpec, b, off, key, errors.New(strings.TrimPrefix(err.Error(), "webhook: ")))
			}
			s.Method = m
		case "url":
			if s.URL, _, err = r.str(key); err != nil {
				return Spec{}, err
			}
		case "body":
			if s.Body, _, err = r.str(key); err != nil {
				return Spec{}, err
			}
		case "sending":
			v, off, err := r.str(key)
			if err != nil {
				return Spec{}, err
			}
			switch Sending(v) {
			case "", SendingDraft, SendingAutomatic:
			default:
				return Spec{}, r.fail(off, key, "%q: want %q or %q", truncate(v, 20), SendingDraft, SendingAutomatic)
			}
			s.Sending = Sending(v)
		case "headers":
			if s.Headers, err = r.strMap(key); err != nil {
				return Spec{}, err
			}
		case "response":
			if s.Response, err = r.strMap(key); err != nil {
				return Spec{}, err
			}
		default:
			return Spec{}, r.fail(keyOff, "", "unknown field %q%s", truncate(key, 40), suggestField(key))
		}
	}
	if _, _, err := r.next(); err != nil { // the closing brace
		return Spec{}, err
	}
	if off := skipSpace(b, int(r.dec.InputOffset())); off < len(b) {
		return Spec{}, r.fail(off, "", "unexpected text after the spec")
	}
	return s, nil
}

// suggestField names the known field closest to an unknown one.
func suggestField(key string) string {
	best, bestDist := "", 3
	for _, f := range []string{"method", "url", "headers", "body", "response", "sending"} {
		if d := editDistance(strings.ToLower(key), f); d < bestDist {
			best, bestDist = f, d
		}
	}
	if best == "" {
		return " (want method, url, headers, body, response or sending)"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if utf8.RuneCountInString(a) > 32 {
		return 99
	}
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}
