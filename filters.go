package webhook

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/osteele/liquid/tags"
	"github.com/osteele/liquid/values"
)

// Filters: the dialect's additions, and every engine filter wrapped so it
// cannot build an unbounded string or array.

var (
	anyType      = reflect.TypeFor[any]()
	anySliceType = reflect.TypeFor[[]any]()
	errorType    = reflect.TypeFor[error]()
)

// guard wraps a standard filter so that it cannot build a string or array
// beyond the limits, nor be handed a huge range (the engine would expand
// it into an array before the filter runs), and so that numbers passed
// where text is expected print exactly.
func (e *engine) guard(fn any) any {
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	if ft.IsVariadic() {
		return fn
	}
	in := make([]reflect.Type, ft.NumIn())
	conv := make([]reflect.Type, ft.NumIn())
	for i := range in {
		switch t := ft.In(i); t.Kind() {
		case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
			in[i], conv[i] = anyType, t
		default:
			in[i] = t
		}
	}
	wt := reflect.FuncOf(in, []reflect.Type{anyType, errorType}, false)
	fail := func(err error) []reflect.Value {
		return []reflect.Value{reflect.Zero(anyType), reflect.ValueOf(&err).Elem()}
	}
	return reflect.MakeFunc(wt, func(args []reflect.Value) []reflect.Value {
		call := make([]reflect.Value, len(args))
		for i, a := range args {
			switch {
			case conv[i] != nil:
				v, err := e.convertArg(a.Interface(), conv[i])
				if err != nil {
					return fail(err)
				}
				call[i] = v
				continue
			case in[i].Kind() == reflect.Interface:
				// The filter may expand a range itself (slice does).
				if err := e.checkValue(a.Interface()); err != nil {
					return fail(err)
				}
			}
			call[i] = a
		}
		out := fv.Call(call)
		if len(out) == 2 && !out[1].IsNil() {
			return fail(out[1].Interface().(error))
		}
		res := out[0].Interface()
		if err := e.checkValue(res); err != nil {
			return fail(err)
		}
		return []reflect.Value{reflect.ValueOf(&res).Elem(), reflect.Zero(errorType)}
	}).Interface()
}

// convertArg converts a filter argument to the type the filter declares,
// after checking its size.
func (e *engine) convertArg(v any, t reflect.Type) (reflect.Value, error) {
	v = values.ToLiquid(v)
	if v == nil {
		return reflect.Zero(t), nil
	}
	if t.Kind() == reflect.String {
		s, err := e.text(v)
		if err != nil {
			return reflect.Value{}, err
		}
		return reflect.ValueOf(s).Convert(t), nil
	}
	if err := e.checkValue(v); err != nil {
		return reflect.Value{}, err
	}
	if t == anySliceType {
		// Convert would convert each element to any, and fails on nil.
		if r, ok := v.(values.Range); ok {
			return reflect.ValueOf(r.AsArray()), nil
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
			if _, isBytes := v.([]byte); !isBytes {
				items := make([]any, rv.Len())
				for i := range items {
					items[i] = rv.Index(i).Interface()
				}
				return reflect.ValueOf(items), nil
			}
		}
	}
	out, err := values.Convert(v, t)
	if err != nil {
		return reflect.Value{}, err
	}
	return reflect.ValueOf(out), nil
}

// checkValue refuses strings above the output cap and arrays (ranges
// included) above the iteration budget.
func (e *engine) checkValue(v any) error {
	switch x := v.(type) {
	case string:
		if len(x) > e.maxOutput {
			return e.outputLimit()
		}
		return nil
	case values.Range:
		if x.Len() > e.maxIter {
			return e.valueLimit("range", e.maxIter)
		}
		return nil
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		if rv.Len() > e.maxIter {
			return e.valueLimit("array", e.maxIter)
		}
	}
	return nil
}

// dialectFilters are Customer.io's filters that the engine lacks or gets
// wrong for this dialect. Each checks its own sizes.
func (e *engine) dialectFilters() map[string]any {
	str := func(f func(string) (string, error)) func(any) (any, error) {
		return func(v any) (any, error) {
			s, err := e.text(v)
			if err != nil {
				return nil, err
			}
			out, err := f(s)
			if err != nil {
				return nil, err
			}
			if len(out) > e.maxOutput {
				return nil, e.outputLimit()
			}
			return out, nil
		}
	}
	digest := func(h func() hash.Hash) func(any) (any, error) {
		return str(func(s string) (string, error) {
			d := h()
			d.Write([]byte(s))
			return hex.EncodeToString(d.Sum(nil)), nil
		})
	}
	mac := func(h func() hash.Hash) func(v, key any) (any, error) {
		return func(v, key any) (any, error) {
			s, err := e.text(v)
			if err != nil {
				return nil, err
			}
			k, err := e.text(key)
			if err != nil {
				return nil, err
			}
			m := hmac.New(h, []byte(k))
			m.Write([]byte(s))
			return hex.EncodeToString(m.Sum(nil)), nil
		}
	}
	decode64 := func(encs ...*base64.Encoding) func(any) (any, error) {
		return str(func(s string) (string, error) {
			for _, enc := range encs {
				if b, err := enc.DecodeString(strings.TrimSpace(s)); err == nil {
					return string(b), nil
				}
			}
			return "", errors.New("not valid base64")
		})
	}
	return map[string]any{
		"json":          e.jsonFilter,
		"date":          e.dateFilter,
		"append":        e.concatText(false),
		"prepend":       e.concatText(true),
		"replace":       e.replaceFilter(-1),
		"replace_first": e.replaceFilter(1),
		"replace_last":  e.replaceLastFilter,
		"join":          e.joinFilter,
		"divided_by":    dividedBy,
		"modulo":        modulo,
		"round":         roundFilter,
		"size":          sizeFilter,
		"abs":           absFilter,
		"ceil":          integerPart(math.Ceil),
		"floor":         integerPart(math.Floor),
		"url_decode":    str(func(s string) (string, error) { return lenientUnescape(s), nil }),
		"base64_encode": str(func(s string) (string, error) { return base64.StdEncoding.EncodeToString([]byte(s)), nil }),
		"base64_decode": decode64(base64.StdEncoding, base64.RawStdEncoding),
		"base64_url_safe_encode": str(func(s string) (string, error) {
			return base64.URLEncoding.EncodeToString([]byte(s)), nil
		}),
		"base64_url_safe_decode": decode64(base64.URLEncoding, base64.RawURLEncoding),
		"md5":                    digest(md5.New),
		"sha1":                   digest(sha1.New),
		"sha256":                 digest(sha256.New),
		"hmac_sha1":              mac(sha1.New),
		"hmac_sha256":            mac(sha256.New),
		"__blank":                func(v any) any { return isBlank(v) },
		"__not_blank":            func(v any) any { return !isBlank(v) },
		"__empty":                func(v any) any { return isEmpty(v) },
		"__not_empty":            func(v any) any { return !isEmpty(v) },
		"__when_blank":           whenMatch(isBlank),
		"__when_empty":           whenMatch(isEmpty),
		"__for":                  forIterable,
	}
}

// jsonFilter encodes v as JSON; the result is always valid JSON.
func (e *engine) jsonFilter(v any) (any, error) {
	b, err := e.appendJSON(nil, v, 0)
	if err != nil {
		return nil, err
	}
	if len(b) > e.maxOutput {
		return nil, e.outputLimit()
	}
	return string(b), nil
}

func (e *engine) concatText(prepend bool) func(s, other any) (any, error) {
	return func(s, other any) (any, error) {
		a, err := e.text(s)
		if err != nil {
			return nil, err
		}
		o, err := e.text(other)
		if err != nil {
			return nil, err
		}
		if len(a)+len(o) > e.maxOutput {
			return nil, e.outputLimit()
		}
		if prepend {
			return o + a, nil
		}
		return a + o, nil
	}
}

// replaceFilter replaces the first n occurrences (all when n < 0), after
// checking the result's size: a replacement can multiply a string.
func (e *engine) replaceFilter(n int) func(s, old, repl any) (any, error) {
	return func(s, old, repl any) (any, error) {
		a, o, r, err := e.texts3(s, old, repl)
		if err != nil {
			return nil, err
		}
		count := strings.Count(a, o)
		if n >= 0 {
			count = min(count, n)
		}
		if len(a)+count*(len(r)-len(o)) > e.maxOutput {
			return nil, e.outputLimit()
		}
		return strings.Replace(a, o, r, n), nil
	}
}

func (e *engine) replaceLastFilter(s, old, repl any) (any, error) {
	a, o, r, err := e.texts3(s, old, repl)
	if err != nil {
		return nil, err
	}
	i := strings.LastIndex(a, o)
	if i < 0 {
		return a, nil
	}
	if len(a)+len(r)-len(o) > e.maxOutput {
		return nil, e.outputLimit()
	}
	return a[:i] + r + a[i+len(o):], nil
}

func (e *engine) texts3(x, y, z any) (string, string, string, error) {
	a, err := e.text(x)
	if err != nil {
		return "", "", "", err
	}
	b, err := e.text(y)
	if err != nil {
		return "", "", "", err
	}
	c, err := e.text(z)
	return a, b, c, err
}

// errDivisionByZero is the error of a division or modulo by zero.
var errDivisionByZero = errors.New("division by zero")

// liquidNumber reads v as Liquid's arithmetic filters do (Ruby's
// Utils.to_number): integers stay integers, text is read as a number, and
// anything else, nil included, is 0. A json.Number is not text here, as
// in the engine's plus, minus and times (see Render).
func liquidNumber(v any) number {
	switch x := values.ToLiquid(v).(type) {
	case int:
		return number{i: int64(x)}
	case int64:
		return number{i: x}
	case float64:
		return number{f: x, isFloat: true}
	case string:
		return textNumber(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return number{i: rv.Int()}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return number{i: int64(u)}
		}
		return number{f: float64(rv.Uint()), isFloat: true}
	case reflect.Float32, reflect.Float64:
		return number{f: rv.Float(), isFloat: true}
	}
	return number{}
}

func textNumber(s string) number {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return number{i: n}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return number{f: f, isFloat: true}
	}
	return number{}
}

// dividedBy divides as Liquid does: two integers give an integer rounded
// down (-7 / 2 is -4, as in Ruby), anything else a float, so 12.5 / 2 is
// 6.25 (the engine's filter truncated a float dividend to an integer).
// Dividing by zero is an error, for floats too, where Ruby would give an
// Infinity that no JSON body can carry.
func dividedBy(a, b any) (any, error) {
	x, y := liquidNumber(a), liquidNumber(b)
	if !x.isFloat && !y.isFloat {
		if y.i == 0 {
			return nil, errDivisionByZero
		}
		q := x.i / y.i
		if x.i%y.i != 0 && (x.i < 0) != (y.i < 0) {
			q--
		}
		return q, nil
	}
	if y.float() == 0 {
		return nil, errDivisionByZero
	}
	return x.float() / y.float(), nil
}

// modulo is Ruby's %, as in Liquid: the remainder takes the divisor's sign
// (-7 % 3 is 2), and integers stay integers. By zero it is an error, as
// divided_by is.
func modulo(a, b any) (any, error) {
	x, y := liquidNumber(a), liquidNumber(b)
	if !x.isFloat && !y.isFloat {
		if y.i == 0 {
			return nil, errDivisionByZero
		}
		r := x.i % y.i
		if r != 0 && (r < 0) != (y.i < 0) {
			r += y.i
		}
		return r, nil
	}
	af, bf := x.float(), y.float()
	if bf == 0 {
		return nil, errDivisionByZero
	}
	r := math.Mod(af, bf)
	if r != 0 && (r < 0) != (bf < 0) {
		r += bf
	}
	return r, nil
}

// maxRoundPlaces bounds round's places: beyond it a float64 has no digit
// left to round, and the arithmetic below would only grow.
const maxRoundPlaces = 400

// roundFilter rounds as Liquid does, which rounds the number as written
// in decimal, half away from zero: 2.675 gives 2.68 and -2.5 gives -3,
// where rounding the binary value gives 2.67 and -2. An integer is kept
// exact unless rounded to tens or more.
func roundFilter(v, places any) any {
	p := liquidNumber(places)
	n64 := p.i
	if p.isFloat {
		n64 = int64(p.f)
	}
	n := int(max(-maxRoundPlaces, min(n64, maxRoundPlaces)))
	x := liquidNumber(v)
	var r *big.Rat
	switch {
	case !x.isFloat && n >= 0:
		return x.i
	case !x.isFloat:
		r = new(big.Rat).SetInt64(x.i)
	case math.IsNaN(x.f) || math.IsInf(x.f, 0):
		return x.f
	default:
		r, _ = new(big.Rat).SetString(strconv.FormatFloat(x.f, 'g', -1, 64))
	}
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(n, -n))), nil))
	if n >= 0 {
		r.Mul(r, scale)
	} else {
		r.Quo(r, scale)
	}
	if r.Sign() < 0 {
		r.Sub(r, big.NewRat(1, 2))
	} else {
		r.Add(r, big.NewRat(1, 2))
	}
	r.SetInt(new(big.Int).Quo(r.Num(), r.Denom())) // toward zero
	if n >= 0 {
		r.Quo(r, scale)
	} else {
		r.Mul(r, scale)
	}
	if !x.isFloat && r.Num().IsInt64() {
		return r.Num().Int64()
	}
	out, _ := r.Float64()
	if out == 0 {
		out = 0 // not -0
	}
	return out
}

// absFilter, and ceil and floor (integerPart), read their input as Liquid
// does (liquidNumber): text that is not a number is 0 rather than an error
// naming Go types, and an integer stays exact rather than passing through
// a float.
func absFilter(v any) any {
	x := liquidNumber(v)
	switch {
	case x.isFloat:
		return math.Abs(x.f)
	case x.i == math.MinInt64:
		return -float64(x.i)
	case x.i < 0:
		return -x.i
	}
	return x.i
}

func integerPart(round func(float64) float64) func(any) any {
	return func(v any) any {
		x := liquidNumber(v)
		if !x.isFloat {
			return x.i
		}
		r := round(x.f)
		if r >= math.MinInt64 && r < math.MaxInt64 {
			return int64(r)
		}
		return r
	}
}

// sizeFilter is Liquid's size: characters in text, items in an array, and
// keys in an object, as .size counts them (the engine's filter gives 0 for
// an object).
func sizeFilter(v any) any {
	if rv := reflect.ValueOf(values.ToLiquid(v)); rv.Kind() == reflect.Map {
		return rv.Len()
	}
	return values.Length(v)
}

// joinFilter joins an array's elements (nested arrays flattened, nils
// skipped) with sep, " " by default.
func (e *engine) joinFilter(v, sep any) (any, error) {
	s := " "
	if sep != nil {
		var err error
		if s, err = e.text(sep); err != nil {
			return nil, err
		}
	}
	var b []byte
	first := true
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > maxDepth {
			return errTooDeep
		}
		v = values.ToLiquid(v)
		if r, ok := v.(values.Range); ok {
			if r.Len() > e.maxIter {
				return e.valueLimit("range", e.maxIter)
			}
			v = r.AsArray()
		}
		rv := reflect.ValueOf(v)
		if k := rv.Kind(); k == reflect.Slice || k == reflect.Array {
			if _, isBytes := v.([]byte); !isBytes {
				for i := range rv.Len() {
					if err := walk(rv.Index(i).Interface(), depth+1); err != nil {
						return err
					}
				}
				return nil
			}
		}
		if v == nil {
			return nil
		}
		if !first {
			if len(s) > e.maxOutput-len(b) {
				return e.outputLimit()
			}
			b = append(b, s...)
		}
		first = false
		var err error
		b, err = e.appendText(b, v, depth)
		return err
	}
	if err := walk(v, 0); err != nil {
		return nil, err
	}
	return string(b), nil
}

// lenientUnescape decodes %XX and + like Ruby's CGI.unescape, keeping
// malformed escapes as they are instead of failing.
func lenientUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v, _ := hex.DecodeString(s[i+1 : i+3])
			b = append(b, v[0])
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// isBlank is Ruby on Rails' blank?: nil, false, whitespace-only text and
// empty collections.
func isBlank(v any) bool {
	v = values.ToLiquid(v)
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return strings.TrimFunc(x, unicode.IsSpace) == ""
	}
	return isEmpty(v)
}

// isEmpty is Ruby's empty?: empty text and collections; nil is not empty.
func isEmpty(v any) bool {
	v = values.ToLiquid(v)
	if v == nil {
		return false
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len() == 0
	}
	return false
}

// noMatch is equal to no value a template can hold (see rewriteWhen).
type noMatch struct{}

// whenMatch makes a when clause's blank or empty match the case's subject
// v exactly when test holds for it: it returns v, which equals itself,
// or noMatch, which equals nothing.
func whenMatch(test func(any) bool) func(any) any {
	return func(v any) any {
		if test(v) {
			return v
		}
		return noMatch{}
	}
}

// forIterable makes a for loop walk an object's [key, value] pairs in key
// order; the engine would use Go's random map order.
func forIterable(v any) any {
	if _, ok := v.(tags.IterationKeyedMap); ok {
		return v
	}
	rv := reflect.ValueOf(values.ToLiquid(v))
	if rv.Kind() != reflect.Map {
		return v
	}
	type pair struct {
		key string
		kv  []any
	}
	pairs := make([]pair, 0, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		k := iter.Key().Interface()
		pairs = append(pairs, pair{fmt.Sprint(k), []any{k, iter.Value().Interface()}})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.key, b.key) })
	out := make([]any, len(pairs))
	for i, p := range pairs {
		out[i] = p.kv
	}
	return out
}
