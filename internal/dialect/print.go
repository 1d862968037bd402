package dialect

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Printing values as Customer.io does: text as it is, numbers exactly
// (no exponent; a whole float without a fraction), arrays as their
// elements run together, objects as Ruby hashes with sorted keys, and the
// json filter's encoding.

// maxDepth bounds nesting when printing or encoding a value, so cyclic Go
// data fails instead of exhausting the stack.
const maxDepth = 1000

var errTooDeep = fmt.Errorf("%w: value nested more than %d levels deep", ErrLimitExceeded, maxDepth)

func outputLimit(max int) error {
	return fmt.Errorf("%w: output larger than %d bytes", ErrLimitExceeded, max)
}

// appendOutput appends v as {{ }} prints it: arrays flattened, nil as
// nothing, everything else as its text.
func appendOutput(b []byte, v any, max, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, errTooDeep
	}
	switch x := v.(type) {
	case string:
		return appendBounded(b, x, max)
	case []any:
		var err error
		for _, item := range x {
			if b, err = appendOutput(b, item, max, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case rangeValue, map[string]any, nil, []byte:
		return appendText(b, v, max, depth)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		items, _ := listOf(v)
		return appendOutput(b, items, max, depth)
	}
	return appendText(b, v, max, depth)
}

func appendBounded(b []byte, s string, max int) ([]byte, error) {
	if len(s) > max-len(b) {
		return b, outputLimit(max)
	}
	return append(b, s...), nil
}

// toText is Ruby's to_s of v, for filters that read text.
func toText(v any, max int) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "", nil
	}
	b, err := appendText(nil, v, max, 0)
	return string(b), err
}

// scalarText is the text of a value known to be small (a map key).
func scalarText(v any) string {
	s, _ := toText(v, math.MaxInt)
	return s
}

// appendText appends Ruby's to_s of v: nil is empty, collections inspect.
func appendText(b []byte, v any, max, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil, *undefined, specialValue:
		return b, nil
	case string:
		return appendBounded(b, x, max)
	case []byte:
		return appendBounded(b, string(x), max)
	case json.Number:
		return appendBounded(b, string(x), max)
	case time.Time:
		return x.UTC().AppendFormat(b, "2006-01-02 15:04:05 -0700"), nil
	case rangeValue:
		b = strconv.AppendInt(b, int64(x.from), 10)
		b = append(b, ".."...)
		return strconv.AppendInt(b, int64(x.to), 10), nil
	}
	if nb, ok := appendScalar(b, v); ok {
		return nb, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		return appendInspect(b, v, max, depth)
	case reflect.Pointer:
		if rv.IsNil() {
			return b, nil
		}
		return appendText(b, rv.Elem().Interface(), max, depth+1)
	}
	return appendBounded(b, fmt.Sprint(v), max)
}

// appendScalar appends booleans and numbers.
func appendScalar(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case bool:
		return strconv.AppendBool(b, x), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case float64:
		return appendFloat(b, x, 64), true
	case float32:
		return appendFloat(b, float64(x), 32), true
	}
	n, ok := numberOf(v)
	if !ok {
		return b, false
	}
	if n.isFloat {
		return appendFloat(b, n.f, 64), true
	}
	if rv := reflect.ValueOf(v); rv.CanUint() {
		return strconv.AppendUint(b, rv.Uint(), 10), true
	}
	return strconv.AppendInt(b, n.i, 10), true
}

// appendFloat prints f exactly in plain decimal: 1700000000, not 1.7e+09.
func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case f == 0:
		return append(b, '0') // not -0
	}
	return strconv.AppendFloat(b, f, 'f', -1, bits)
}

// appendInspect appends v the way Customer.io prints an object: Ruby's
// inspect, {"id"=>"1", "tags"=>["a", "b"], "n"=>nil}, keys sorted so the
// output is deterministic. Times print as quoted strings so the
// replace: "=>", ":" idiom still yields JSON.
func appendInspect(b []byte, v any, max, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, errTooDeep
	}
	if len(b) > max {
		return b, outputLimit(max)
	}
	switch x := v.(type) {
	case nil, *undefined:
		return append(b, "nil"...), nil
	case string:
		return appendRubyString(b, x), nil
	case []byte:
		return appendRubyString(b, string(x)), nil
	case json.Number:
		return append(b, x...), nil
	case specialValue:
		return append(b, `""`...), nil
	case time.Time:
		return appendRubyString(b, x.UTC().Format("2006-01-02 15:04:05 -0700")), nil
	case rangeValue:
		return appendText(b, x, max, depth)
	case map[string]any:
		b = append(b, '{')
		var err error
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendRubyString(b, k)
			b = append(b, "=>"...)
			if b, err = appendInspect(b, x[k], max, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		var err error
		for i, item := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			if b, err = appendInspect(b, item, max, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	if nb, ok := appendScalar(b, v); ok {
		return nb, nil
	}
	if reflect.ValueOf(v).Kind() == reflect.Pointer {
		return appendInspect(b, deref(v), max, depth+1)
	}
	if items, ok := listOf(v); ok {
		return appendInspect(b, items, max, depth)
	}
	if m, ok := mapOf(v); ok {
		return appendInspect(b, m, max, depth)
	}
	return appendRubyString(b, fmt.Sprint(v)), nil
}

// appendRubyString appends s quoted and escaped as Ruby's String#inspect
// does for UTF-8 text.
func appendRubyString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\x`...)
			b = append(b, bytes.ToUpper([]byte(hex.EncodeToString([]byte{s[i]})))...)
			i++
			continue
		}
		switch r {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\t':
			b = append(b, `\t`...)
		case '\r':
			b = append(b, `\r`...)
		case '\f':
			b = append(b, `\f`...)
		case '\v':
			b = append(b, `\v`...)
		case '\b':
			b = append(b, `\b`...)
		case '\a':
			b = append(b, `\a`...)
		case 0x1b:
			b = append(b, `\e`...)
		case '#':
			if i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '$' || s[i+1] == '@') {
				b = append(b, '\\')
			}
			b = append(b, '#')
		default:
			switch {
			case unicode.IsPrint(r):
				b = append(b, s[i:i+size]...)
			case r < 0x10000:
				b = fmt.Appendf(b, `\u%04X`, r)
			default:
				b = fmt.Appendf(b, `\u{%X}`, r)
			}
		}
		i += size
	}
	return append(b, '"')
}

// appendJSON appends v as JSON: keys sorted, no HTML escaping, numbers
// exact, times as RFC 3339 strings in UTC. NaN and infinities have no JSON
// form and are an error.
func appendJSON(b []byte, v any, max, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, errTooDeep
	}
	if len(b) > max {
		return b, outputLimit(max)
	}
	switch x := v.(type) {
	case nil, *undefined:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case []byte:
		return appendJSONString(b, string(x)), nil
	case specialValue:
		return append(b, `""`...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case json.Number:
		if !json.Valid([]byte(x)) {
			return appendJSONString(b, string(x)), nil
		}
		return append(b, x...), nil
	case time.Time:
		return appendJSONString(b, x.UTC().Format(time.RFC3339Nano)), nil
	case map[string]any:
		b = append(b, '{')
		var err error
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			if b, err = appendJSON(b, x[k], max, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		var err error
		for i, item := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, item, max, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	if n, ok := numberOf(v); ok {
		if n.isFloat && (math.IsNaN(n.f) || math.IsInf(n.f, 0)) {
			return b, fmt.Errorf("%w: json: %v has no JSON form", ErrTemplate, n.f)
		}
		nb, _ := appendScalar(b, v)
		return nb, nil
	}
	if reflect.ValueOf(v).Kind() == reflect.Pointer {
		return appendJSON(b, deref(v), max, depth+1)
	}
	if r, ok := v.(rangeValue); ok {
		if r.len() > max {
			return b, outputLimit(max)
		}
		return appendJSON(b, r.items(), max, depth)
	}
	if items, ok := listOf(v); ok {
		return appendJSON(b, items, max, depth)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Map {
		m, _ := mapOf(v)
		return appendJSON(b, m, max, depth)
	}
	// Structs and the like: let encoding/json apply their tags.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return b, fmt.Errorf("%w: json: %v", ErrTemplate, err)
	}
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...), nil
}

// appendJSONString quotes s for JSON. Unlike encoding/json it leaves <, >
// and & alone; like it, it escapes U+2028 and U+2029 and replaces invalid
// UTF-8 with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20:
				b = append(b, `\u00`...)
				b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = fmt.Appendf(b, `\u%04x`, r)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
