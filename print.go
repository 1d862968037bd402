package webhook

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/osteele/liquid/values"
)

// Printing values as Customer.io does: strings as they are, numbers
// exactly, objects as Ruby hashes, and the json filter's encoding.

// maxDepth bounds nesting when printing or encoding a value, so cyclic Go
// data fails instead of exhausting the stack.
const maxDepth = 1000

var errTooDeep = fmt.Errorf("%w: value nested more than %d levels deep", ErrLimitExceeded, maxDepth)

// writeOutput prints v as {{ }} does: strings as they are, numbers exactly,
// arrays as their elements' text run together, objects in Ruby hash style.
func (e *engine) writeOutput(w io.Writer, v any) error {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		_, err := io.WriteString(w, x)
		return err
	}
	b, err := e.appendOutput(nil, v, 0)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (e *engine) appendOutput(b []byte, v any, depth int) ([]byte, error) {
	v = values.ToLiquid(v)
	if depth > maxDepth {
		return b, errTooDeep
	}
	switch x := v.(type) {
	case []any:
		var err error
		for _, item := range x {
			if b, err = e.appendOutput(b, item, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case string, []byte, nil, map[string]any:
		return e.appendText(b, v, depth)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		var err error
		for i := range rv.Len() {
			if b, err = e.appendOutput(b, rv.Index(i).Interface(), depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	return e.appendText(b, v, depth)
}

// text converts v to a string as Ruby's to_s does, for filters.
func (e *engine) text(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := e.appendText(nil, v, 0)
	return string(b), err
}

// appendText appends Ruby's to_s of v: nil is empty, collections inspect.
func (e *engine) appendText(b []byte, v any, depth int) ([]byte, error) {
	v = values.ToLiquid(v)
	switch x := v.(type) {
	case nil:
		return b, nil
	case string:
		return e.appendBounded(b, x)
	case []byte:
		return e.appendBounded(b, string(x))
	case json.Number:
		return append(b, x...), nil
	case time.Time:
		return x.UTC().AppendFormat(b, "2006-01-02 15:04:05 -0700"), nil
	case values.Range:
		return appendRange(b, x), nil
	}
	if nb, ok := appendScalar(b, v); ok {
		return nb, nil
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Map, reflect.Slice, reflect.Array:
		return e.appendInspect(b, v, depth)
	case reflect.Pointer:
		rv := reflect.ValueOf(v)
		if rv.IsNil() {
			return b, nil
		}
		return e.appendText(b, rv.Elem().Interface(), depth+1)
	}
	return e.appendBounded(b, fmt.Sprint(v))
}

func (e *engine) appendBounded(b []byte, s string) ([]byte, error) {
	if len(s) > e.maxOutput-len(b) {
		return b, e.outputLimit()
	}
	return append(b, s...), nil
}

func appendRange(b []byte, r values.Range) []byte {
	first, _ := r.Index(0).(int)
	b = strconv.AppendInt(b, int64(first), 10)
	b = append(b, ".."...)
	return strconv.AppendInt(b, int64(first+r.Len()-1), 10)
}

// appendScalar appends booleans and numbers; floats print exactly in plain
// decimal (1700000000, not 1.7e+09).
func appendScalar(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case bool:
		return strconv.AppendBool(b, x), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int8:
		return strconv.AppendInt(b, int64(x), 10), true
	case int16:
		return strconv.AppendInt(b, int64(x), 10), true
	case int32:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(b, x, 10), true
	case float32:
		return appendFloat(b, float64(x), 32), true
	case float64:
		return appendFloat(b, x, 64), true
	}
	return b, false
}

func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	return strconv.AppendFloat(b, f, 'f', -1, bits)
}

// appendInspect appends v the way Customer.io prints an object: Ruby's
// inspect, {"id"=>"1", "tags"=>["a", "b"], "n"=>nil}, keys sorted so the
// output is deterministic. Times print as quoted strings so the
// replace: "=>", ":" idiom still yields JSON.
func (e *engine) appendInspect(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, errTooDeep
	}
	if len(b) > e.maxOutput {
		return b, e.outputLimit()
	}
	v = values.ToLiquid(v)
	switch x := v.(type) {
	case nil:
		return append(b, "nil"...), nil
	case string:
		return appendRubyString(b, x), nil
	case []byte:
		return appendRubyString(b, string(x)), nil
	case json.Number:
		return append(b, x...), nil
	case time.Time:
		return appendRubyString(b, x.UTC().Format("2006-01-02 15:04:05 -0700")), nil
	case values.Range:
		return appendRange(b, x), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendRubyString(b, k)
			b = append(b, "=>"...)
			if b, err = e.appendInspect(b, x[k], depth+1); err != nil {
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
			if b, err = e.appendInspect(b, item, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	if nb, ok := appendScalar(b, v); ok {
		return nb, nil
	}
	switch u, deeper, ok, err := e.unreflect(v); {
	case err != nil:
		return b, err
	case deeper:
		return e.appendInspect(b, u, depth+1)
	case ok:
		return e.appendInspect(b, u, depth)
	}
	return appendRubyString(b, fmt.Sprint(v)), nil
}

// unreflect turns a map, slice, array or pointer of a type the printers do
// not switch on into one they do: a map[string]any keyed by the keys as
// text, a []any, or what a pointer points to (nil for a nil pointer);
// deeper says the value pointed to is one level down. ok is false for any
// other kind.
func (e *engine) unreflect(v any) (u any, deeper, ok bool, err error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		m := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			k, err := e.text(iter.Key().Interface())
			if err != nil {
				return nil, false, false, err
			}
			m[k] = iter.Value().Interface()
		}
		return m, false, true, nil
	case reflect.Slice, reflect.Array:
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return items, false, true, nil
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, false, true, nil
		}
		return rv.Elem().Interface(), true, true, nil
	}
	return nil, false, false, nil
}

// appendRubyString appends s quoted and escaped as Ruby's String#inspect
// does for UTF-8 text.
func appendRubyString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\x`...)
			b = append(b, strings.ToUpper(hex.EncodeToString([]byte{s[i]}))...)
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
func (e *engine) appendJSON(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, errTooDeep
	}
	if len(b) > e.maxOutput {
		return b, e.outputLimit()
	}
	v = values.ToLiquid(v)
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case []byte:
		return appendJSONString(b, string(x)), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case json.Number:
		if !json.Valid([]byte(x)) {
			return appendJSONString(b, string(x)), nil
		}
		return append(b, x...), nil
	case float32, float64:
		f := reflect.ValueOf(x).Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, fmt.Errorf("%w: json: %v has no JSON form", ErrTemplate, f)
		}
		nb, _ := appendScalar(b, x)
		return nb, nil
	case time.Time:
		return appendJSONString(b, x.UTC().Format(time.RFC3339Nano)), nil
	case values.Range:
		if x.Len() > e.maxIter {
			return b, e.valueLimit("array", e.maxIter)
		}
		return e.appendJSON(b, x.AsArray(), depth)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			if b, err = e.appendJSON(b, x[k], depth+1); err != nil {
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
			if b, err = e.appendJSON(b, item, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	if nb, ok := appendScalar(b, v); ok {
		return nb, nil
	}
	switch u, deeper, ok, err := e.unreflect(v); {
	case err != nil:
		return b, err
	case deeper:
		return e.appendJSON(b, u, depth+1)
	case ok:
		return e.appendJSON(b, u, depth)
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
