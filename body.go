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

// checkJSON validates body and, when it is invalid, locates the first error
// from the offset encoding/json reports.
func checkJSON(contentType string, body []byte) error {
	if json.Valid(body) {
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
	ContentType string // the media type the body was checked as
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
