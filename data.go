package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
func ParseData(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	first := skipSpace(b, 0)
	if first < len(b) && b[first] != '{' {
		// Text that is not JSON at all gets the syntax error; only JSON of
		// another kind is told to be an object.
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, jsonError(ErrInvalidData, b, err, false)
		}
		return nil, newParseError(ErrInvalidData, b, first, "", errors.New("data must be a JSON object"))
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
		c, err := convertNumbers(x, k)
		if err != nil {
			return nil, &ParseError{Field: err.field, Err: err.err, kind: ErrInvalidData}
		}
		v[k] = c
	}
	return v, nil
}

type numberError struct {
	field string
	err   error
}

// convertNumbers replaces json.Number values in place.
func convertNumbers(v any, path string) (any, *numberError) {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, strconv.IntSize); err == nil {
			return int(n), nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, &numberError{path, fmt.Errorf("number %s is out of range", truncate(string(x), 40))}
		}
		return f, nil
	case map[string]any:
		for k, item := range x {
			c, err := convertNumbers(item, path+"."+k)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	case []any:
		for i, item := range x {
			c, err := convertNumbers(item, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	}
	return v, nil
}
