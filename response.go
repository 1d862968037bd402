package webhook

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultMaxResponseBytes is the response cap when a Sender sets none:
// Customer.io's 10 KB.
const DefaultMaxResponseBytes = 10 << 10

// Response is what a receiver answered, with its body read up to the cap.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header holds the response headers.
	Header http.Header
	// Body holds the response body after decompression, at most the
	// Sender's cap. It is nil when the body exceeded the cap.
	Body []byte
}

// ErrResponseTooLarge is returned when a response body, once decompressed,
// is larger than the Sender's cap. The webhook fails and no attributes are
// set, as in Customer.io.
var ErrResponseTooLarge = errors.New("webhook: response too large")

// readResponseBody reads resp's body, decompressing gzip that the
// transport left compressed, and fails with ErrResponseTooLarge past limit
// bytes. It never reads more than limit+1 decompressed bytes, so neither a
// huge body nor a gzip bomb can make it allocate more than that.
func readResponseBody(resp *http.Response, limit int64) ([]byte, error) {
	body := io.Reader(resp.Body)
	compressed := !resp.Uncompressed && isGzip(resp.Header.Get("Content-Encoding"))
	if compressed {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("webhook: reading gzip response: %w", err)
		}
		defer zr.Close()
		body = zr
	} else if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes declared, limit %d", ErrResponseTooLarge, resp.ContentLength, limit)
	}

	// A declared length lets the common response be read in one
	// allocation; the read still stops at limit+1 whatever was declared.
	if !compressed && resp.ContentLength >= 0 {
		buf := make([]byte, resp.ContentLength)
		n, err := io.ReadFull(body, buf)
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				err = fmt.Errorf("webhook: response body ended after %d of %d bytes: %w", n, resp.ContentLength, err)
			}
			return nil, err
		}
		// Read to EOF, so that the connection can be reused; a body longer
		// than declared is refused rather than half read.
		var one [1]byte
		for {
			n, err := body.Read(one[:])
			switch {
			case n > 0:
				return nil, fmt.Errorf("webhook: response body longer than its Content-Length of %d", resp.ContentLength)
			case err == io.EOF:
				return buf, nil
			case err != nil:
				return nil, err
			}
		}
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

func isGzip(enc string) bool {
	enc = strings.TrimSpace(enc)
	return strings.EqualFold(enc, "gzip") || strings.EqualFold(enc, "x-gzip")
}

// MapResponse renders the response templates of the Action that r was
// rendered from over resp and r's data, and returns the attributes. The
// variable response is resp's body parsed as JSON, or the body as a string
// when it is not JSON. It returns nil, nil for a request with no response
// templates (one built with NewRequest, for example).
//
// Each value is typed: a rendered value that is exactly a JSON number,
// boolean, object or array becomes that value, unless that would lose
// information, so "42" becomes 42 but a zip code "0123", "1.50" or an
// integer too large for a float64 stays a string.
func (r *Request) MapResponse(resp *Response) (map[string]any, error) {
	if r == nil || r.action == nil || len(r.action.response) == 0 || resp == nil {
		return nil, nil
	}
	attrs := make(map[string]any, len(r.action.response))
	err := r.action.renderResponse(r.data, parseResponseBody(resp.Body), func(name, text string) {
		attrs[name] = typedValue(text)
	})
	if err != nil {
		return nil, err
	}
	return attrs, nil
}

// parseResponseBody returns the response root for templates: the body as
// JSON with numbers as int64 or float64 (which the template engine does
// arithmetic on), or the body as a string when it is not JSON.
func parseResponseBody(body []byte) any {
	// JSON's whitespace only: a body padded with other Unicode spaces is
	// not JSON.
	trimmed := bytes.Trim(body, " \t\r\n")
	if len(trimmed) == 0 {
		return string(body)
	}
	v, ok := decodeJSONNumbers(trimmed, templateNumber)
	if !ok {
		return string(body)
	}
	return v
}

// responseNumber is what a decoded json.Number becomes: a number where
// that is exact, and otherwise the number's text when keep is false (for
// templates) or the json.Number itself when keep is true (for attributes,
// so the value still encodes as the same JSON number). An integer is an
// int64 in attributes and an int in templates, as ParseData gives data,
// since the engine takes only an int as a range bound.
func responseNumber(t json.Number, keep bool) any {
	if n, ok := exactNumber(string(t)); ok {
		if i, isInt := n.(int64); isInt && !keep && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		return n
	}
	if keep {
		return t
	}
	return string(t)
}

// templateNumber and attributeNumber are responseNumber for the decoder.
func templateNumber(t json.Number) any  { return responseNumber(t, false) }
func attributeNumber(t json.Number) any { return responseNumber(t, true) }

// exactNumber parses s as an int64, or a float64 that prints back as s.
func exactNumber(s string) (any, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if strconv.FormatInt(i, 10) == s {
			return i, true
		}
		return nil, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, false
	}
	if b, err := json.Marshal(f); err == nil && string(b) == s {
		return f, true
	}
	return nil, false
}

// typedValue gives a rendered attribute its JSON type when the text is
// exactly that value; otherwise the text itself.
func typedValue(s string) any {
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "":
		return s
	}
	switch c := s[0]; {
	case c == '-' || c >= '0' && c <= '9':
		if n, ok := exactNumber(s); ok {
			return n
		}
		return s
	case c == '{' || c == '[':
		v, ok := decodeJSONNumbers([]byte(s), attributeNumber)
		if !ok {
			return s
		}
		return v
	}
	return s
}

// decodeJSON decodes b, which must hold exactly one JSON value, keeping
// numbers as json.Number: what a json.Decoder with UseNumber gives for a
// document json.Valid accepts, without its buffering and reflection, since
// every delivered response is decoded.
func decodeJSON(b []byte) (any, bool) { return decodeJSONNumbers(b, nil) }

// decodeJSONNumbers is decodeJSON with each number given to number, when
// it is not nil, for the value to keep in its place.
func decodeJSONNumbers(b []byte, number func(json.Number) any) (any, bool) {
	if !validJSON(b) {
		return nil, false
	}
	d := jsonDecoder{b: b, s: string(b), number: number}
	d.space()
	return d.value(), true
}

// jsonDecoder builds the value of a document validJSON accepted: objects
// as map[string]any (a repeated key keeps its last value), arrays as
// []any, numbers as json.Number (or what number makes of one, when set),
// and strings as encoding/json unquotes them, invalid UTF-8 and lone
// surrogates becoming U+FFFD. Since the document is valid it checks
// nothing. Keys, strings without escapes and numbers are slices of one
// copy of the document, s: one allocation for them all.
type jsonDecoder struct {
	b      []byte
	s      string
	i      int
	number func(json.Number) any
}

func (d *jsonDecoder) space() {
	for d.i < len(d.b) && (d.b[d.i] == ' ' || d.b[d.i] == '\n' || d.b[d.i] == '\t' || d.b[d.i] == '\r') {
		d.i++
	}
}

func (d *jsonDecoder) value() any {
	switch c := d.b[d.i]; c {
	case '"':
		return d.str()
	case '{':
		d.i++
		m := make(map[string]any)
		d.space()
		if d.b[d.i] == '}' {
			d.i++
			return m
		}
		for {
			d.space()
			k := d.str()
			d.space()
			d.i++ // :
			d.space()
			m[k] = d.value()
			d.space()
			c := d.b[d.i]
			d.i++ // , or }
			if c == '}' {
				return m
			}
		}
	case '[':
		d.i++
		a := make([]any, 0)
		d.space()
		if d.b[d.i] == ']' {
			d.i++
			return a
		}
		for {
			d.space()
			a = append(a, d.value())
			d.space()
			c := d.b[d.i]
			d.i++ // , or ]
			if c == ']' {
				return a
			}
		}
	case 't':
		d.i += len("true")
		return true
	case 'f':
		d.i += len("false")
		return false
	case 'n':
		d.i += len("null")
		return nil
	}
	start := d.i
	for d.i < len(d.b) && strings.IndexByte("+-.0123456789eE", d.b[d.i]) >= 0 {
		d.i++
	}
	n := json.Number(d.s[start:d.i])
	if d.number != nil {
		return d.number(n)
	}
	return n
}

// str reads a string at d.i.
func (d *jsonDecoder) str() string {
	b := d.b
	start := d.i + 1
	i := start
	for {
		c := b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return d.s[start:i]
		case c == '\\':
		case c < utf8.RuneSelf:
			i++
			continue
		default:
			if r, size := utf8.DecodeRune(b[i:]); r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		break // an escape or invalid UTF-8: build the string
	}
	out := make([]byte, i-start, i-start+32)
	copy(out, b[start:i])
	for {
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return string(out)
		case c == '\\':
			switch e := b[i+1]; e {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(b[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					next := rune(-1)
					if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
						next = hex4(b[i+2 : i+6])
					}
					if pair := utf16.DecodeRune(r, next); pair != utf8.RuneError {
						out = utf8.AppendRune(out, pair)
						i += 6
						continue
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default: // " \\ /
				out = append(out, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			out = utf8.AppendRune(out, r)
			i += size
		}
	}
}

// hex4 reads four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
