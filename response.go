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

// ResponseMapper turns the response of a delivered request into
// attributes. A Sender calls MapResponse once per Send, with the response
// of the attempt that delivered it; an error fails that attempt (class
// mapping) for the retry policy to judge. A mapper shared between Sends
// must be safe for concurrent use.
type ResponseMapper interface {
	MapResponse(resp *Response) (map[string]any, error)
}

// ResponseMapperFunc adapts a function to a ResponseMapper.
type ResponseMapperFunc func(resp *Response) (map[string]any, error)

// MapResponse calls f(resp).
func (f ResponseMapperFunc) MapResponse(resp *Response) (map[string]any, error) { return f(resp) }

// Mapper returns the ResponseMapper of the requests a renders from data:
// it renders a's response templates over data and the variable response,
// which is the response body parsed as JSON, or the body as a string when
// it is not JSON. It maps to nil when a has no response templates.
//
// Each value is typed: a rendered value that is exactly a JSON number,
// boolean, object or array becomes that value, unless that would lose
// information, so "42" becomes 42 but a zip code "0123", "1.50" or an
// integer too large for a float64 stays a string.
func (a *Action) Mapper(data map[string]any) ResponseMapper {
	return actionMapper{a: a, data: data}
}

type actionMapper struct {
	a    *Action
	data map[string]any
}

func (m actionMapper) MapResponse(resp *Response) (map[string]any, error) {
	if m.a == nil || len(m.a.response) == 0 || resp == nil {
		return nil, nil
	}
	attrs := make(map[string]any, len(m.a.response))
	err := m.a.renderResponse(m.data, parseResponseBody(resp.Body), func(name, text string) {
		attrs[name] = typedValue(text)
	})
	if err != nil {
		return nil, err
	}
	return attrs, nil
}

// parseResponseBody returns the response root for templates: the body as
// JSON with numbers as int or float64, as ParseData gives data, or the
// body as a string when it is not JSON.
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
// int64 in attributes and an int in templates, as ParseData gives data.
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

// decodeJSONNumbers decodes b, which must hold exactly one JSON value, as
// a json.Decoder with UseNumber does, and gives each number to number for
// the value to keep in its place. It reports whether b was one JSON value.
func decodeJSONNumbers(b []byte, number func(json.Number) any) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // something after the value
	}
	return replaceNumbers(v, number), true
}

// replaceNumbers puts number(n) in place of every json.Number n in v.
func replaceNumbers(v any, number func(json.Number) any) any {
	switch v := v.(type) {
	case json.Number:
		return number(v)
	case map[string]any:
		for k, e := range v {
			v[k] = replaceNumbers(e, number)
		}
	case []any:
		for i, e := range v {
			v[i] = replaceNumbers(e, number)
		}
	}
	return v
}
