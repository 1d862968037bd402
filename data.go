package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Template data: JSON documents decoded so numbers print exactly and still
// compute.

// ErrInvalidData marks a data document that ParseData cannot use.
var ErrInvalidData = errors.New("webhook: invalid data")

// ParseData decodes a JSON object into template data: each top-level key
// (customer, event, ...) becomes a variable. Numbers are converted so that
// they print exactly and work in arithmetic and comparisons: integers that
// fit become int, others float64. An error is a *ParseError with the line
// and column, or, for a number too large for a float64, the field that
// holds it (such as "customer.ltv").
//
// Memory and time are linear in the size of the document. A document of
// more than MaxDataValues keys and values in all is refused before any of
// it is decoded, with the line and column where it crosses the limit.
func ParseData(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	first := skipSpace(b, 0)
	over := overValues(b, MaxDataValues)
	if first < len(b) && b[first] != '{' || over >= 0 {
		// Check the syntax without building values: text that is not JSON
		// at all gets the syntax error; only JSON of another kind is told
		// to be an object, and only valid JSON that it holds too much.
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonError(ErrInvalidData, b, err, false)
		}
		if b[first] != '{' {
			return nil, newParseError(ErrInvalidData, b, first, "", errors.New("data must be a JSON object"))
		}
		return nil, newParseError(ErrInvalidData, b, over, "", fmt.Errorf("more than %d keys and values", MaxDataValues))
	}
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(ErrInvalidData, b, err, false)
	}
	if v == nil {
		return nil, newParseError(ErrInvalidData, b, first, "", errors.New("data must be a JSON object"))
	}
	if off := skipSpace(b, int(dec.InputOffset())); off < len(b) {
		return nil, newParseError(ErrInvalidData, b, off, "", errors.New("unexpected text after the object"))
	}
	for k, x := range v {
		c, err := convertNumbers(x)
		if err != nil {
			return nil, &ParseError{Field: err.path(k), Err: err.err, kind: ErrInvalidData}
		}
		v[k] = c
	}
	return v, nil
}

// MaxDataValues bounds the keys and values, counted together, of a
// document that ParseData decodes. Decoded, each takes up to about a
// hundred bytes: a document of small values (an array of a million
// zeros is 2 MB) would otherwise take fifty times its size.
const MaxDataValues = 300_000

// overValues returns the offset in the JSON text b at which it has held
// more than max keys and values, or -1. It counts the characters that
// open a key or a value outside strings ('{', '[', ',' and ':'), which
// for valid JSON is an upper bound on the keys and values seen so far,
// and looks at nothing else: whether b is JSON is the decoder's to say.
func overValues(b []byte, max int) int {
	n, inString := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++ // the escaped character, which may be a quote
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[' || c == ',' || c == ':':
			if n++; n > max {
				return i
			}
		}
	}
	return -1
}

// numberError is a number out of range. Its field's path is gathered as
// the walk unwinds, innermost segment first, and joined only then: a walk
// that built the path of every value on its way down would take memory
// quadratic in the depth of the document.
type numberError struct {
	segs []string // ".key" or "[i]", innermost first
	err  error
}

// path returns the field's path below the top-level key top, as
// "customer.ltv" or "a.b[0]". A path too long to read is shortened: keys
// to 40 bytes, and the middle of a deep path to "…", keeping its outer
// and inner ends.
func (e *numberError) path(top string) string {
	segs := append(slices.Clone(e.segs), top)
	slices.Reverse(segs)
	if len(segs) > 2*pathEnds {
		segs = slices.Concat(segs[:pathEnds], []string{".…"}, segs[len(segs)-pathEnds:])
	}
	var b strings.Builder
	for _, s := range segs {
		if key, ok := strings.CutPrefix(s, "."); ok {
			b.WriteByte('.')
			s = key
		}
		b.WriteString(truncate(s, 40))
	}
	return b.String()
}

// pathEnds is how many segments of each end of a deep path an error keeps.
const pathEnds = 3

// convertNumbers replaces json.Number values in place.
func convertNumbers(v any) (any, *numberError) {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, strconv.IntSize); err == nil {
			return int(n), nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, &numberError{err: fmt.Errorf("number %s is out of range", truncate(string(x), 40))}
		}
		return f, nil
	case map[string]any:
		for k, item := range x {
			c, err := convertNumbers(item)
			if err != nil {
				err.segs = append(err.segs, "."+k)
				return nil, err
			}
			x[k] = c
		}
	case []any:
		for i, item := range x {
			c, err := convertNumbers(item)
			if err != nil {
				err.segs = append(err.segs, "["+strconv.Itoa(i)+"]")
				return nil, err
			}
			x[i] = c
		}
	}
	return v, nil
}
