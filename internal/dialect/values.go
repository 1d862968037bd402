package dialect

import (
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Values: what a template holds while it renders. Data comes as Go values
// (ParseData's map[string]any, []any, string, int, float64, bool and nil,
// or any other Go value a program passes); templates add ranges, the
// literals blank and empty, and undefined values.

// specialValue is one of the literals blank and empty: they print and
// filter as empty text, and == compares a value's blankness or emptiness.
type specialValue uint8

const (
	blankValue specialValue = iota + 1
	emptyValue
)

// undefined is what a path that finds nothing evaluates to. It acts as nil
// everywhere except where it is printed, which fails in strict mode
// naming the path as written.
type undefined struct{ name string }

// rangeValue is (from..to), both ends included.
type rangeValue struct{ from, to int }

// items expands the range; callers check its size first.
func (r rangeValue) items() []any {
	out := make([]any, r.len())
	for i := range out {
		out[i] = r.from + i
	}
	return out
}

func (r rangeValue) len() int {
	if r.to < r.from {
		return 0
	}
	return r.to - r.from + 1
}

// isNil reports nil, an undefined value and a nil pointer, map or slice
// held in an interface.
func isNil(v any) bool {
	switch x := v.(type) {
	case nil, *undefined:
		return true
	case map[string]any:
		return x == nil
	case []any:
		return x == nil
	}
	return false
}

// truthy is Liquid's truth: everything but nil and false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil, *undefined:
		return false
	case bool:
		return x
	}
	return true
}

// plain replaces the literals blank and empty by the empty text and an
// undefined value by nil: what a filter sees.
func plain(v any) any {
	switch v.(type) {
	case specialValue:
		return ""
	case *undefined:
		return nil
	}
	return v
}

// number is an integer or a float operand.
type number struct {
	i       int64
	f       float64
	isFloat bool
}

func (n number) float() float64 {
	if n.isFloat {
		return n.f
	}
	return float64(n.i)
}

// value returns n as a template value: int for integers that fit.
func (n number) value() any {
	if n.isFloat {
		return n.f
	}
	if n.i >= math.MinInt && n.i <= math.MaxInt {
		return int(n.i)
	}
	return n.i
}

// numberOf reads a Go number; text is not a number here.
func numberOf(v any) (number, bool) {
	switch x := v.(type) {
	case int:
		return number{i: int64(x)}, true
	case float64:
		return number{f: x, isFloat: true}, true
	case int64:
		return number{i: x}, true
	case nil, string, bool:
		return number{}, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return number{i: rv.Int()}, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return number{i: int64(u)}, true
		}
		return number{f: float64(rv.Uint()), isFloat: true}, true
	case reflect.Float32, reflect.Float64:
		return number{f: rv.Float(), isFloat: true}, true
	}
	return number{}, false
}

// toNumber reads v as Liquid's arithmetic filters do: numbers as they
// are, text as a decimal when it is one and otherwise by its leading
// digits (Ruby's to_i), anything else as 0.
func toNumber(v any) number {
	if n, ok := numberOf(v); ok {
		return n
	}
	switch x := v.(type) {
	case string:
		return textNumber(x)
	case json.Number:
		return textNumber(string(x))
	}
	return number{}
}

func textNumber(s string) number {
	s = trimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return number{i: n}
	}
	if isDecimal(s) {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return number{f: f, isFloat: true}
		}
	}
	// Ruby's to_i: an optional sign and the digits that lead.
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == i {
		return number{}
	}
	n, err := strconv.ParseInt(s[:j], 10, 64)
	if err != nil {
		f, _ := strconv.ParseFloat(s[:j], 64)
		return number{f: f, isFloat: true}
	}
	return number{i: n}
}

// isDecimal matches -?\d+\.\d+.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	dot := strings.IndexByte(s, '.')
	if dot <= 0 || dot == len(s)-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i != dot && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// strictInt reads v as Liquid's Utils.to_integer does: an integer, or
// text that is one; ok is false for anything else.
func strictInt(v any) (int, bool) {
	if s, isText := textOf(v); isText {
		n, err := strconv.Atoi(trimSpace(s))
		return n, err == nil
	}
	n, ok := numberOf(v)
	if !ok || n.isFloat {
		return 0, false
	}
	return int(n.i), true
}

// lenientInt reads v as Ruby's to_i does: numbers truncated, text by its
// leading digits, nil as 0; ok is false for anything else.
func lenientInt(v any) (int, bool) {
	if isNil(v) {
		return 0, true
	}
	if s, isText := textOf(v); isText {
		v = textNumber(s).value()
	}
	n, ok := numberOf(v)
	if !ok {
		return 0, false
	}
	if n.isFloat {
		if math.IsNaN(n.f) || math.Abs(n.f) > 1e18 {
			return 0, false
		}
		return int(n.f), true
	}
	return int(n.i), true
}

// cmpNumbers returns -1, 0 or 1, or 2 when a NaN makes them unordered.
func cmpNumbers(a, b number) int {
	if !a.isFloat && !b.isFloat {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	x, y := a.float(), b.float()
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case x == y:
		return 0
	}
	return 2
}

// textOf returns the text of a string or json.Number.
func textOf(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	}
	return "", false
}

// equal is Liquid's ==: numbers by value (1 == 1.0), text by content,
// arrays and objects element by element, nil equal to undefined.
func equal(a, b any) bool {
	return equalDepth(a, b, 0)
}

func equalDepth(a, b any, depth int) bool {
	if depth > maxDepth {
		return false
	}
	if isNil(a) || isNil(b) {
		return isNil(a) && isNil(b)
	}
	if x, ok := textOf(a); ok {
		y, ok := textOf(b)
		return ok && x == y
	}
	if x, ok := numberOf(a); ok {
		y, ok := numberOf(b)
		return ok && cmpNumbers(x, y) == 0
	}
	switch x := a.(type) {
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case rangeValue:
		y, ok := b.(rangeValue)
		return ok && x == y
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case specialValue:
		y, ok := b.(specialValue)
		return ok && x == y
	}
	if xs, ok := listOf(a); ok {
		ys, ok := listOf(b)
		if !ok || len(xs) != len(ys) {
			return false
		}
		for i := range xs {
			if !equalDepth(xs[i], ys[i], depth+1) {
				return false
			}
		}
		return true
	}
	if xm, ok := mapOf(a); ok {
		ym, ok := mapOf(b)
		if !ok || len(xm) != len(ym) {
			return false
		}
		for k, v := range xm {
			w, ok := ym[k]
			if !ok || !equalDepth(v, w, depth+1) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// isBlank is Ruby on Rails' blank?: nil, false, whitespace-only text and
// empty collections.
func isBlank(v any) bool {
	switch x := v.(type) {
	case nil, *undefined:
		return true
	case bool:
		return !x
	case string:
		return trimSpace(x) == ""
	case specialValue:
		return true
	}
	return isEmpty(v)
}

// isEmpty is Ruby's empty?: empty text and collections; nil is not empty.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil, *undefined, bool:
		return false
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	case rangeValue:
		return x.len() == 0
	case specialValue:
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len() == 0
	}
	return false
}

// listOf returns the elements of an array: a []any or any Go slice or
// array but []byte. A range is not expanded here: see filterArgs.list,
// which checks its size first.
func listOf(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case string, map[string]any, nil, []byte, rangeValue:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); k != reflect.Slice && k != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// mapOf returns an object as a map[string]any: maps with keys of any kind
// (their text as keys), and structs by their exported fields.
func mapOf(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case string, []any, nil:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, false
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map:
		m := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			m[scalarText(iter.Key().Interface())] = iter.Value().Interface()
		}
		return m, true
	case reflect.Struct:
		if _, isTime := rv.Interface().(time.Time); isTime {
			return nil, false
		}
		t := rv.Type()
		m := make(map[string]any, t.NumField())
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				m[fieldName(f)] = rv.Field(i).Interface()
			}
		}
		return m, true
	}
	return nil, false
}

// fieldName is the name a template gives a struct field: its JSON name
// when it has one.
func fieldName(f reflect.StructField) string {
	if tag, ok := f.Tag.Lookup("json"); ok {
		if name, _, _ := strings.Cut(tag, ","); name != "" && name != "-" {
			return name
		}
	}
	return f.Name
}

// sortedKeys returns m's keys in order: Go maps have none of their own,
// and a template must render the same way every time.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// deref follows pointers.
func deref(v any) any {
	switch v.(type) {
	case nil, string, int, float64, bool, map[string]any, []any:
		return v
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer {
		return v
	}
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	return rv.Interface()
}

// drop is an object a tag makes, such as forloop.
type drop interface {
	get(key string) (any, bool)
}

// property looks key up in v as a path does: an object's key, an
// array's index, and size, first and last. ok is false when there is
// nothing there.
func property(v any, key any) (any, bool) {
	if d, ok := v.(drop); ok {
		if k, ok := key.(string); ok {
			return d.get(k)
		}
		return nil, false
	}
	v = deref(v)
	switch x := v.(type) {
	case map[string]any:
		if k, ok := key.(string); ok {
			if e, ok := x[k]; ok {
				return e, true
			}
			return mapMethod(x, k)
		}
		if k, ok := textOf(key); ok {
			e, ok := x[k]
			return e, ok
		}
		return nil, false
	case []any:
		return listProperty(x, key)
	case string:
		if key == "size" {
			return utf8.RuneCountInString(x), true
		}
		return nil, false
	case rangeValue:
		switch key {
		case "size":
			return x.len(), true
		case "first":
			return x.from, true
		case "last":
			return x.to, true
		}
		if i, ok := key.(int); ok {
			if i < 0 {
				i += x.len()
			}
			if i >= 0 && i < x.len() {
				return x.from + i, true
			}
		}
		return nil, false
	case nil, bool, int, float64, specialValue, *undefined, time.Time:
		return nil, false
	case drop:
		if k, ok := key.(string); ok {
			return x.get(k)
		}
		return nil, false
	}
	if s, ok := textOf(v); ok {
		return property(s, key)
	}
	if items, ok := listOf(v); ok {
		return listProperty(items, key)
	}
	if m, ok := mapOf(v); ok {
		return property(m, key)
	}
	return nil, false
}

// mapMethod gives an object's size, and first (its first [key, value]
// pair in key order), when it has no key of that name.
func mapMethod(m map[string]any, k string) (any, bool) {
	switch k {
	case "size":
		return len(m), true
	case "first":
		if len(m) == 0 {
			return nil, true
		}
		first := sortedKeys(m)[0]
		return []any{first, m[first]}, true
	}
	return nil, false
}

func listProperty(items []any, key any) (any, bool) {
	n := len(items)
	switch k := key.(type) {
	case string:
		switch k {
		case "size":
			return n, true
		case "first":
			if n == 0 {
				return nil, true
			}
			return items[0], true
		case "last":
			if n == 0 {
				return nil, true
			}
			return items[n-1], true
		}
		return nil, false
	case int:
		if k < 0 {
			k += n
		}
		if k >= 0 && k < n {
			return items[k], true
		}
		return nil, false
	case float64:
		if k == math.Trunc(k) && math.Abs(k) < 1e15 {
			return listProperty(items, int(k))
		}
	}
	return nil, false
}
