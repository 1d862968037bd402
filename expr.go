package webhook

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/osteele/liquid/expressions"
	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/values"
)

// {{ }} and assign: strict missing-variable checks and direct evaluation
// of simple filter chains, on a small lexer that mirrors the engine's.

// objectNode replaces a {{ }} node with one that applies the dialect.
func (e *engine) objectNode(n *render.ObjectNode) (render.Node, error) {
	plan, err := e.planExpr(n.Args)
	if err != nil {
		return nil, err
	}
	node, err := e.synthetic(n.SourceLoc, e.objectRenderer(plan))
	if err == nil && e.plans != nil {
		e.plans[node] = plan
	}
	return node, err
}

// exprPlan is an expression with what strictness needs to know about it.
type exprPlan struct {
	expr   expressions.Expression
	chain  *chain       // non-nil when we can evaluate it ourselves
	checks []*varPath   // paths that must exist (strict mode) when the engine evaluates
	ranges []rangeBound // variable bounds of ranges, checked before the engine evaluates
}

func (e *engine) planExpr(src string) (*exprPlan, error) {
	expr, err := expressions.Parse(src)
	if err != nil {
		return nil, err
	}
	p := &exprPlan{expr: expr}
	toks, ok := lexExpr(src)
	if !ok {
		return p, nil
	}
	parts := splitTop(toks, "|")
	p.checks = strictPaths(parts)
	p.chain = planChain(parts)
	p.ranges = rangeBounds(toks)
	return p, nil
}

// chain is an expression evaluated without the engine: a path or a
// literal followed by filters from directFilters whose arguments are paths
// or literals. Most {{ }} in webhook templates are of this form, and the
// engine's reflective filter calls cost more than the rest of a render.
type chain struct {
	head    operand
	filters []chainFilter
}

type operand struct {
	path      *varPath // nil for a literal
	value     any
	tolerated bool // a later default filter stands in for it when missing
}

type chainFilter struct {
	name       string
	fn         directFilter
	args       [2]operand
	nargs      int
	allowFalse bool
}

// directFilter is a filter with at most two positional arguments.
type directFilter func(e *engine, in, a, b any, allowFalse bool) (any, error)

type directSpec struct {
	min, max int
	fn       directFilter
}

func unary(f func(e *engine, in any) (any, error)) directFilter {
	return func(e *engine, in, _, _ any, _ bool) (any, error) { return f(e, in) }
}

func binary(f func(e *engine, in, a any) (any, error)) directFilter {
	return func(e *engine, in, a, _ any, _ bool) (any, error) { return f(e, in, a) }
}

func textFilter(f func(string) string) directFilter {
	return func(e *engine, in, _, _ any, _ bool) (any, error) {
		s, err := e.text(in)
		if err != nil {
			return nil, err
		}
		out := f(s)
		if len(out) > e.maxOutput {
			return nil, e.outputLimit()
		}
		return out, nil
	}
}

// directFilters are the filters a chain may call. Each matches the filter
// of the same name that the engine would call.
var directFilters = map[string]directSpec{
	"date":          {0, 2, func(e *engine, in, f, zone any, _ bool) (any, error) { return e.dateFilter(in, f, zone) }},
	"json":          {0, 0, unary((*engine).jsonFilter)},
	"append":        {1, 1, binary(func(e *engine, in, a any) (any, error) { return e.concatText(false)(in, a) })},
	"prepend":       {1, 1, binary(func(e *engine, in, a any) (any, error) { return e.concatText(true)(in, a) })},
	"replace":       {2, 2, func(e *engine, in, a, b any, _ bool) (any, error) { return e.replaceFilter(-1)(in, a, b) }},
	"replace_first": {2, 2, func(e *engine, in, a, b any, _ bool) (any, error) { return e.replaceFilter(1)(in, a, b) }},
	"replace_last":  {2, 2, func(e *engine, in, a, b any, _ bool) (any, error) { return e.replaceLastFilter(in, a, b) }},
	"join":          {0, 1, binary((*engine).joinFilter)},
	"url_encode":    {0, 0, textFilter(url.QueryEscape)},
	"url_decode":    {0, 0, textFilter(lenientUnescape)},
	"upcase":        {0, 0, textFilter(strings.ToUpper)},
	"downcase":      {0, 0, textFilter(strings.ToLower)},
	"strip":         {0, 0, textFilter(strings.TrimSpace)},
	"default": {1, 1, func(_ *engine, in, d, _ any, allowFalse bool) (any, error) {
		if allowFalse {
			if in == nil || isEmpty(in) {
				return d, nil
			}
			return in, nil
		}
		if in == nil || in == false || isEmpty(in) {
			return d, nil
		}
		return in, nil
	}},
}

// planChain returns the chain for an expression's parts, or nil if the
// engine must evaluate it.
func planChain(parts [][]token) *chain {
	tolerated := 0
	for i := 1; i < len(parts); i++ {
		if len(parts[i]) > 0 && parts[i][0].text == "default" {
			tolerated = i
			break
		}
	}
	head, ok := planOperand(parts[0])
	if !ok {
		return nil
	}
	head.tolerated = tolerated > 0
	c := &chain{head: head}
	for i := 1; i < len(parts); i++ {
		part := parts[i]
		if len(part) == 0 {
			return nil
		}
		spec, ok := directFilters[part[0].text]
		if !ok {
			return nil
		}
		f := chainFilter{name: part[0].text, fn: spec.fn}
		if part[0].kind == tKeyword {
			for _, arg := range splitTop(part[1:], ",") {
				if len(arg) == 2 && arg[0].kind == tKeyword && arg[0].text == "allow_false" && f.name == "default" && arg[1].kind == tIdent && (arg[1].text == "true" || arg[1].text == "false") {
					f.allowFalse = arg[1].text == "true"
					continue
				}
				op, ok := planOperand(arg)
				if !ok || f.nargs == len(f.args) {
					return nil
				}
				op.tolerated = i < tolerated
				f.args[f.nargs] = op
				f.nargs++
			}
		} else if len(part) != 1 {
			return nil
		}
		if f.nargs < spec.min || f.nargs > spec.max {
			return nil // let the engine report it
		}
		c.filters = append(c.filters, f)
	}
	return c
}

// planOperand reads toks as a path or a literal.
func planOperand(toks []token) (operand, bool) {
	if vp, ok := parsePath(toks); ok {
		return operand{path: vp}, true
	}
	if len(toks) != 1 {
		return operand{}, false
	}
	t := toks[0]
	switch t.kind {
	case tString:
		return operand{value: t.text}, true
	case tNumber:
		if n, err := strconv.ParseInt(t.text, 10, strconv.IntSize); err == nil {
			return operand{value: int(n)}, true
		}
		if f, err := strconv.ParseFloat(t.text, 64); err == nil {
			return operand{value: f}, true
		}
	case tIdent:
		switch t.text {
		case "true", "false":
			return operand{value: t.text == "true"}, true
		case "nil":
			return operand{}, true
		}
	}
	return operand{}, false
}

// evalChain evaluates c over b; pathUnknown means the engine must.
func (e *engine) evalChain(b vars, c *chain) (any, lookupResult, error) {
	v, res, err := e.operandValue(b, &c.head)
	if res != pathFound {
		return nil, res, err
	}
	for i := range c.filters {
		f := &c.filters[i]
		var args [2]any
		for j := range f.nargs {
			if args[j], res, err = e.operandValue(b, &f.args[j]); res != pathFound {
				return nil, res, err
			}
		}
		if v, err = f.fn(e, v, args[0], args[1], f.allowFalse); err != nil {
			if !isOurs(err) {
				err = fmt.Errorf("%w: filter %s: %v", ErrTemplate, f.name, err)
			}
			return nil, pathFound, err
		}
	}
	return v, pathFound, nil
}

// operandValue resolves an operand. A missing path is nil where a default
// stands in for it or in lax mode, and an error otherwise (reported with
// pathMissing).
func (e *engine) operandValue(b vars, o *operand) (any, lookupResult, error) {
	if o.path == nil {
		return o.value, pathFound, nil
	}
	v, res := lookupPath(b, o.path)
	switch res {
	case pathFound:
		return values.ToLiquid(v), pathFound, nil
	case pathMissing:
		if o.tolerated || e.lax {
			return nil, pathFound, nil
		}
		return nil, pathMissing, missingError(o.path)
	}
	return nil, pathUnknown, nil
}

// strictPaths lists the paths a filtered expression must find: its head
// and the filters' arguments, except those that come before a default
// filter, which exists to stand in for them.
func strictPaths(parts [][]token) []*varPath {
	tolerated := 0 // parts [0, tolerated) are stood in for by a default
	for i := 1; i < len(parts); i++ {
		if len(parts[i]) > 0 && parts[i][0].text == "default" {
			tolerated = i
			break
		}
	}
	var out []*varPath
	if tolerated == 0 {
		if vp, ok := parsePath(parts[0]); ok {
			out = append(out, vp)
		}
	}
	for i := max(1, tolerated); i < len(parts); i++ {
		if len(parts[i]) < 2 || parts[i][0].kind != tKeyword {
			continue
		}
		for _, arg := range splitTop(parts[i][1:], ",") {
			if len(arg) > 0 && arg[0].kind == tKeyword {
				arg = arg[1:] // a named argument such as allow_false: true
			}
			if vp, ok := parsePath(arg); ok {
				out = append(out, vp)
			}
		}
	}
	return out
}

func missingError(p *varPath) error {
	return fmt.Errorf("%w %s", ErrMissingVariable, p.text)
}

// rangeBound is a bound of a range, (1..customer.count), that is a path.
// The engine reads a bound that is missing or not an int as a failed Go
// conversion, so the dialect checks each bound first and says what is
// wrong in the template's terms.
type rangeBound struct {
	path *varPath
	end  bool // the bound after the dots
}

// rangeBounds lists the bounds in toks that are paths.
func rangeBounds(toks []token) []rangeBound {
	var out []rangeBound
	for i, t := range toks {
		if !t.is("..") {
			continue
		}
		open, close := i-1, i+1
		for depth := 0; open >= 0 && !(depth == 0 && toks[open].is("(")); open-- {
			switch {
			case toks[open].is(")") || toks[open].is("]"):
				depth++
			case toks[open].is("(") || toks[open].is("["):
				depth--
			}
		}
		for depth := 0; close < len(toks) && !(depth == 0 && toks[close].is(")")); close++ {
			switch {
			case toks[close].is("(") || toks[close].is("["):
				depth++
			case toks[close].is(")") || toks[close].is("]"):
				depth--
			}
		}
		if open < 0 || close >= len(toks) {
			continue
		}
		if p, ok := parsePath(toks[open+1 : i]); ok {
			out = append(out, rangeBound{path: p})
		}
		if p, ok := parsePath(toks[i+1 : close]); ok {
			out = append(out, rangeBound{path: p, end: true})
		}
	}
	return out
}

// checkRanges fails as the engine would on a bound it cannot use, but
// names the bound: a missing one is a missing variable (in lax mode too
// it cannot stand for a number), and one the engine does not take as an
// integer is described in plain words.
func (e *engine) checkRanges(b vars, bounds []rangeBound) error {
	for _, r := range bounds {
		which := "start"
		if r.end {
			which = "end"
		}
		v, res := lookupPath(b, r.path)
		switch {
		case res == pathMissing && !e.lax:
			return missingError(r.path)
		case res == pathMissing:
			return fmt.Errorf("%w: range %s %s is missing, not a whole number", ErrTemplate, which, r.path.text)
		case res == pathFound && !rangeInt(v):
			return fmt.Errorf("%w: range %s %s is %s, not a whole number", ErrTemplate, which, r.path.text, describeValue(v))
		}
	}
	return nil
}

// rangeInt reports whether the engine takes v as a range bound: it
// converts with values.Value.Int, which panics on anything but an int.
func rangeInt(v any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	values.ValueOf(v).Int()
	return true
}

// describeValue names the kind of a value for an error message, without
// the value itself, which may be personal data.
func describeValue(v any) string {
	rv := reflect.ValueOf(values.ToLiquid(v))
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Invalid, reflect.Pointer:
		return "null"
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.String:
		return "text"
	case reflect.Float32, reflect.Float64:
		return "a decimal number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a number of another type"
}

func (e *engine) objectRenderer(p *exprPlan) func(io.Writer, render.Context) error {
	return func(w io.Writer, ctx render.Context) error {
		b := mapVars(ctx.Bindings())
		if p.chain != nil {
			v, res, err := e.evalChain(b, p.chain)
			if err != nil {
				return err
			}
			if res == pathFound {
				return e.writeOutput(w, v)
			}
		}
		if !e.lax {
			for _, c := range p.checks {
				if _, found := lookupPath(b, c); found == pathMissing {
					return missingError(c)
				}
			}
		}
		if err := e.checkRanges(b, p.ranges); err != nil {
			return err
		}
		v, err := ctx.Evaluate(p.expr)
		if err != nil {
			return err
		}
		return e.writeOutput(w, v)
	}
}

// assignTag wraps the standard assign: the assigned value's paths must
// exist, and each assign counts as work for the deadline.
func (e *engine) assignTag(orig render.TagCompiler) render.TagCompiler {
	return func(args string) (func(io.Writer, render.Context) error, error) {
		fn, err := orig(args)
		if err != nil {
			return nil, err
		}
		var checks []*varPath
		var ranges []rangeBound
		if toks, ok := lexExpr(args); ok && len(toks) > 2 && toks[1].is("=") {
			checks = strictPaths(splitTop(toks[2:], "|"))
			ranges = rangeBounds(toks[2:])
		}
		return func(w io.Writer, ctx render.Context) error {
			st, err := stateOf(ctx)
			if err != nil {
				return err
			}
			if err := st.step(); err != nil {
				return err
			}
			b := mapVars(ctx.Bindings())
			if !e.lax {
				for _, c := range checks {
					if _, found := lookupPath(b, c); found == pathMissing {
						return missingError(c)
					}
				}
			}
			if err := e.checkRanges(b, ranges); err != nil {
				return err
			}
			return fn(w, ctx)
		}, nil
	}
}

// cond is the test of an if, elsif or unless that the dialect evaluates
// without the engine: comparisons and truth tests of paths and literals,
// joined by and/or. The engine groups and/or from the left, ((a and b) or
// c), and so does test; parenthesized expressions, contains and filters
// are left to the engine.
type cond struct {
	rels   []rel
	and    []bool // and[i] joins rels[i] and rels[i+1]; false is or
	negate bool   // unless
}

// rel is a truth test of a (op empty) or a comparison a op b.
type rel struct {
	a, b operand
	op   string
}

// planCond reads a tag's arguments as a cond, or reports false.
func planCond(args string) (*cond, bool) {
	toks, ok := lexExpr(args)
	if !ok || len(toks) == 0 {
		return nil, false
	}
	c := &cond{}
	from := 0
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && !(toks[i].kind == tIdent && (toks[i].text == "and" || toks[i].text == "or")) {
			continue
		}
		r, ok := planRel(toks[from:i])
		if !ok {
			return nil, false
		}
		c.rels = append(c.rels, r)
		if i < len(toks) {
			c.and = append(c.and, toks[i].text == "and")
		}
		from = i + 1
	}
	return c, true
}

func planRel(toks []token) (rel, bool) {
	split := -1
	for i, t := range toks {
		if t.kind == tOp {
			if split >= 0 {
				return rel{}, false
			}
			split = i
		}
	}
	if split < 0 {
		a, ok := planOperand(toks)
		return rel{a: a}, ok
	}
	a, okA := planOperand(toks[:split])
	b, okB := planOperand(toks[split+1:])
	return rel{a: a, b: b, op: toks[split].text}, okA && okB
}

// test evaluates c as the engine's if and unless do; known is false when
// a value is one whose comparison the dialect does not mirror.
func (c *cond) test(b vars) (holds, known bool) {
	for i := range c.rels {
		if i > 0 {
			// Short-circuit as the engine does; the rest is never looked at.
			if c.and[i-1] && !holds || !c.and[i-1] && holds {
				continue
			}
		}
		if holds, known = c.rels[i].test(b); !known {
			return false, false
		}
	}
	return holds != c.negate, true
}

func (r *rel) test(b vars) (holds, known bool) {
	a, ok := condValue(b, &r.a)
	if !ok {
		return false, false
	}
	if r.op == "" {
		return a != nil && a != false, true
	}
	v, ok := condValue(b, &r.b)
	if !ok {
		return false, false
	}
	switch r.op {
	case "==":
		return equal(a, v), true
	case "!=":
		return !equal(a, v), true
	case "<":
		return less(a, v), true
	case ">":
		return less(v, a), true
	case "<=":
		return less(a, v) || equal(a, v), true
	case ">=":
		return less(v, a) || equal(a, v), true
	}
	return false, false
}

// equal and less compare as the engine does (values.Equal, values.Less):
// integers as int64, an integer and a float as float64, strings as
// strings. The common cases are decided here, without the reflection
// (and allocation) the engine spends on them.
func equal(a, b any) bool {
	if x, y, ok := numbers(a, b); ok {
		return x.cmp(y) == 0
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return x == y
		}
	}
	return values.Equal(a, b)
}

func less(a, b any) bool {
	if x, y, ok := numbers(a, b); ok {
		return x.cmp(y) < 0
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return x < y
		}
	}
	return values.Less(a, b)
}

// number is an int, int64 or float64 operand.
type number struct {
	i       int64
	f       float64
	isFloat bool
}

func numberOf(v any) (number, bool) {
	switch x := v.(type) {
	case int:
		return number{i: int64(x)}, true
	case int64:
		return number{i: x}, true
	case float64:
		return number{f: x, isFloat: true}, true
	}
	return number{}, false
}

// float returns x as a float64.
func (x number) float() float64 {
	if x.isFloat {
		return x.f
	}
	return float64(x.i)
}

func numbers(a, b any) (number, number, bool) {
	x, okA := numberOf(a)
	y, okB := numberOf(b)
	return x, y, okA && okB
}

// cmp returns -1, 0 or 1, or 2 when either is NaN (unordered, unequal).
func (x number) cmp(y number) int {
	if !x.isFloat && !y.isFloat {
		switch {
		case x.i < y.i:
			return -1
		case x.i > y.i:
			return 1
		}
		return 0
	}
	xf, yf := x.f, y.f
	if !x.isFloat {
		xf = float64(x.i)
	}
	if !y.isFloat {
		yf = float64(y.i)
	}
	switch {
	case xf < yf:
		return -1
	case xf > yf:
		return 1
	case xf == yf:
		return 0
	}
	return 2
}

// condValue resolves an operand of a condition. A missing path is nil, as
// the engine's undefined value compares. Only plain values are known: the
// engine dereferences pointers and resolves drops before comparing.
func condValue(b vars, o *operand) (any, bool) {
	if o.path == nil {
		return o.value, true
	}
	v, res := lookupPath(b, o.path)
	switch res {
	case pathMissing:
		return nil, true
	case pathFound:
		return v, plainValue(v)
	}
	return nil, false
}

// plainValue reports whether the engine holds v as it is: a value that
// JSON data decodes to, or a Go number.
func plainValue(v any) bool {
	switch v.(type) {
	case nil, bool, string, json.Number, map[string]any, []any,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return true
	}
	return false
}

// varPath is a variable with properties and indexes:
// customer.address.city, event.items[0].name, customer["first name"], and
// customer[key], whose key is itself a path, read when the path is.
type varPath struct {
	text string
	segs []pathSeg
}

type segKind uint8

const (
	segProp  segKind = iota // .name (and the variable itself)
	segIndex                // [3]
	segKey                  // ["name"]
	segVar                  // [key]: a segIndex or segKey once key is read
)

type pathSeg struct {
	kind  segKind
	name  string
	index int
	key   *varPath // for segVar
}

// lookupResult says what lookupPath found.
type lookupResult uint8

const (
	pathUnknown lookupResult = iota // a value the engine resolves in ways we do not mirror
	pathFound
	pathMissing
)

// vars resolves a template's top-level variables: the engine's bindings
// (mapVars) or, when the dialect renders a template itself, a scope.
type vars interface {
	lookup(name string) (any, bool)
}

type mapVars map[string]any

func (m mapVars) lookup(name string) (any, bool) {
	v, ok := m[name]
	return v, ok
}

// lookupPath resolves p in b the way the engine does, but tells a missing
// key from a null value.
func lookupPath(b vars, p *varPath) (any, lookupResult) {
	v, ok := b.lookup(p.segs[0].name)
	if !ok {
		return nil, pathMissing
	}
	for _, s := range p.segs[1:] {
		v = values.ToLiquid(v)
		if s.kind == segVar {
			var res lookupResult
			if s, res = keySeg(b, s.key, v); res != pathFound {
				return nil, res
			}
		}
		var found lookupResult
		v, found = stepInto(v, s)
		if found != pathFound {
			return nil, found
		}
	}
	return v, pathFound
}

// keySeg reads the key of a segVar segment into the static segment the
// engine's index takes it as: text is a key, an int an index. A missing or
// null key finds nothing in a value the engine holds as it is; other keys
// (a float truncated to an index, a number converted to a map key) are
// left to the engine.
func keySeg(b vars, key *varPath, in any) (pathSeg, lookupResult) {
	k, res := lookupPath(b, key)
	if res == pathUnknown {
		return pathSeg{}, pathUnknown
	}
	switch k := k.(type) {
	case string:
		return pathSeg{kind: segKey, name: k}, pathFound
	case int:
		return pathSeg{kind: segIndex, index: k}, pathFound
	case nil:
		if plainValue(in) {
			return pathSeg{}, pathMissing
		}
	}
	return pathSeg{}, pathUnknown
}

func stepInto(v any, s pathSeg) (any, lookupResult) {
	switch x := v.(type) {
	case map[string]any:
		switch s.kind {
		case segProp, segKey:
			if e, ok := x[s.name]; ok {
				return e, pathFound
			}
			if s.kind == segProp && s.name == "size" {
				return len(x), pathFound
			}
			return nil, pathMissing
		}
		return nil, pathUnknown // an integer index on a map: the engine converts it oddly
	case []any:
		return stepItems(x, s)
	case string:
		return stepText(len(x), s)
	case json.Number: // the engine treats it as text
		return stepText(len(x), s)
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return nil, pathMissing
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String || s.kind == segIndex {
			return nil, pathUnknown
		}
		if e := rv.MapIndex(reflect.ValueOf(s.name).Convert(rv.Type().Key())); e.IsValid() {
			return e.Interface(), pathFound
		}
		if s.kind == segProp && s.name == "size" {
			return rv.Len(), pathFound
		}
		return nil, pathMissing
	case reflect.Slice, reflect.Array:
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return stepItems(items, s)
	case reflect.String:
		return stepText(rv.Len(), s)
	}
	return nil, pathUnknown
}

// stepText: text has a size (in bytes, as the engine counts) and nothing
// else.
func stepText(n int, s pathSeg) (any, lookupResult) {
	if s.kind == segProp && s.name == "size" {
		return n, pathFound
	}
	return nil, pathMissing
}

// stepItems: an array has first, last, size and integer indexes
// (negative ones count from the end).
func stepItems(items []any, s pathSeg) (any, lookupResult) {
	n := len(items)
	switch s.kind {
	case segProp:
		switch s.name {
		case "size":
			return n, pathFound
		case "first":
			if n == 0 {
				return nil, pathFound
			}
			return items[0], pathFound
		case "last":
			if n == 0 {
				return nil, pathFound
			}
			return items[n-1], pathFound
		}
	case segIndex:
		i := s.index
		if i < 0 {
			i += n
		}
		if 0 <= i && i < n {
			return items[i], pathFound
		}
	}
	return nil, pathMissing
}

// parsePath reads toks as a variable path, or reports false.
func parsePath(toks []token) (*varPath, bool) {
	if len(toks) == 0 || toks[0].kind != tIdent || reserved[toks[0].text] {
		return nil, false
	}
	p := &varPath{segs: []pathSeg{{kind: segProp, name: toks[0].text}}}
	var text strings.Builder
	text.WriteString(toks[0].text)
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == tProp:
			p.segs = append(p.segs, pathSeg{kind: segProp, name: t.text})
			text.WriteString(".")
			text.WriteString(t.text)
		case t.is("["):
			end := matchFwd(toks, i, "[", "]")
			if end < 0 {
				return nil, false
			}
			in := toks[i+1 : end]
			switch {
			case len(in) == 1 && in[0].kind == tString:
				p.segs = append(p.segs, pathSeg{kind: segKey, name: in[0].text})
				text.WriteString("[" + strconv.Quote(in[0].text) + "]")
			case len(in) == 1 && in[0].kind == tNumber && !strings.Contains(in[0].text, "."):
				n, err := strconv.Atoi(in[0].text)
				if err != nil {
					return nil, false
				}
				p.segs = append(p.segs, pathSeg{kind: segIndex, index: n})
				text.WriteString("[" + in[0].text + "]")
			default:
				key, ok := parsePath(in)
				if !ok {
					return nil, false
				}
				p.segs = append(p.segs, pathSeg{kind: segVar, key: key})
				text.WriteString("[" + key.text + "]")
			}
			i = end
		default:
			return nil, false
		}
	}
	p.text = text.String()
	return p, true
}

// reserved are the words the expression lexer does not read as variables.
var reserved = map[string]bool{"and": true, "or": true, "contains": true, "in": true, "true": true, "false": true, "nil": true}

// A small lexer for Liquid expressions, mirroring the engine's.

type tokKind uint8

const (
	tIdent   tokKind = iota + 1 // name, name-with-dashes, name?
	tProp                       // .name (text without the dot)
	tKeyword                    // name: (text without the colon)
	tString                     // "..." or '...' (text unquoted)
	tNumber                     // -12, 3.5
	tOp                         // == != >= <= < >
	tPunct                      // | , : [ ] ( ) .. =
)

type token struct {
	kind       tokKind
	text       string
	start, end int // byte offsets in the source
}

func (t token) is(p string) bool { return (t.kind == tPunct || t.kind == tOp) && t.text == p }

// lexExpr splits an expression into tokens, or reports false for input the
// analysis should not touch (the engine then reports any error itself).
func lexExpr(s string) ([]token, bool) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		start := i
		switch {
		case isSpaceByte(c):
			i++
			continue
		case c == '"':
			var b strings.Builder
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					switch s[i] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					case '"', '\\':
						b.WriteByte(s[i])
					default:
						b.WriteByte('\\')
						b.WriteByte(s[i])
					}
					i++
					continue
				}
				b.WriteByte(s[i])
				i++
			}
			if i >= len(s) {
				return nil, false
			}
			i++
			toks = append(toks, token{tString, b.String(), start, i})
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, false
			}
			i += j + 2
			toks = append(toks, token{tString, s[start+1 : i-1], start, i})
		case isDigit(c) || (c == '-' && i+1 < len(s) && isDigit(s[i+1])):
			i++
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
				i++
				for i < len(s) && isDigit(s[i]) {
					i++
				}
			}
			toks = append(toks, token{tNumber, s[start:i], start, i})
		case c == '.' && i+1 < len(s) && s[i+1] == '.':
			i += 2
			toks = append(toks, token{tPunct, "..", start, i})
		case c == '.' && i+1 < len(s) && isIdentStart(s[i+1]):
			i = scanIdent(s, i+1)
			toks = append(toks, token{tProp, s[start+1 : i], start, i})
		case isIdentStart(c):
			i = scanIdent(s, i)
			if i < len(s) && s[i] == ':' {
				toks = append(toks, token{tKeyword, s[start:i], start, i + 1})
				i++
			} else {
				toks = append(toks, token{tIdent, s[start:i], start, i})
			}
		case (c == '=' || c == '!' || c == '<' || c == '>') && i+1 < len(s) && s[i+1] == '=':
			i += 2
			toks = append(toks, token{tOp, s[start:i], start, i})
		case c == '<' || c == '>':
			i++
			toks = append(toks, token{tOp, s[start:i], start, i})
		default:
			i++
			toks = append(toks, token{tPunct, s[start:i], start, i})
		}
	}
	return toks, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool {
	return c == '_' || c >= 0x80 || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func scanIdent(s string, i int) int {
	for i < len(s) && (isIdentStart(s[i]) || isDigit(s[i]) || s[i] == '-') {
		i++
	}
	if i < len(s) && s[i] == '?' {
		i++
	}
	return i
}

// splitTop splits toks at sep outside brackets and parentheses.
func splitTop(toks []token, sep string) [][]token {
	var parts [][]token
	depth, from := 0, 0
	for i, t := range toks {
		switch {
		case t.is("(") || t.is("["):
			depth++
		case t.is(")") || t.is("]"):
			depth--
		case depth == 0 && t.is(sep):
			parts = append(parts, toks[from:i])
			from = i + 1
		}
	}
	return append(parts, toks[from:])
}

// rewriteBlank turns comparisons with blank and empty, which the engine
// reads as undefined variables, into the dialect's filters:
// "x == blank" becomes "(x | __blank)", "x != empty" "(x | __not_empty)".
func rewriteBlank(src string, toks []token) string {
	type edit struct {
		from, to int
		text     string
	}
	var edits []edit
	isWord := func(i int) bool {
		return i >= 0 && i < len(toks) && toks[i].kind == tIdent && (toks[i].text == "blank" || toks[i].text == "empty")
	}
	bare := func(i int) bool { // not followed by .prop or [index]
		return i+1 >= len(toks) || (toks[i+1].kind != tProp && !toks[i+1].is("["))
	}
	for i, t := range toks {
		if t.kind != tOp || (t.text != "==" && t.text != "!=") {
			continue
		}
		var word string
		var from, to int // operand token range
		switch {
		case isWord(i+1) && bare(i+1):
			word = toks[i+1].text
			from, to = operandBefore(toks, i-1), i-1
			if from < 0 {
				continue
			}
			edits = append(edits, edit{toks[from].start, toks[i+1].end, ""})
		case isWord(i-1) && (i-2 < 0 || !toks[i-2].is("[")):
			word = toks[i-1].text
			from, to = i+1, operandAfter(toks, i+1)
			if to < 0 {
				continue
			}
			edits = append(edits, edit{toks[i-1].start, toks[to].end, ""})
		default:
			continue
		}
		filter := "__" + word
		if t.text == "!=" {
			filter = "__not_" + word
		}
		edits[len(edits)-1].text = "(" + src[toks[from].start:toks[to].end] + " | " + filter + ")"
	}
	if len(edits) == 0 {
		return src
	}
	var b strings.Builder
	last := 0
	for _, ed := range edits {
		if ed.from < last {
			return src // overlapping: leave the expression alone
		}
		b.WriteString(src[last:ed.from])
		b.WriteString(ed.text)
		last = ed.to
	}
	b.WriteString(src[last:])
	return b.String()
}

// rewriteWhen turns blank and empty among a when clause's values, which
// the engine compares as undefined variables, into filters of the case's
// subject: "when blank, 'x'" in {% case s %} becomes
// "when ((s) | __when_blank), 'x'". The filter returns the subject itself
// when it is blank and a value equal to nothing otherwise, so the engine's
// equality test matches exactly what "s == blank" holds for. The subject is
// evaluated again, which is safe: filters have no side effects.
func rewriteWhen(src string, toks []token, subject string) string {
	sub, ok := oneLine(subject)
	if !ok {
		return src
	}
	var b strings.Builder
	last := 0
	depth := 0
	for i, t := range toks {
		switch {
		case t.is("(") || t.is("["):
			depth++
		case t.is(")") || t.is("]"):
			depth--
		}
		if depth != 0 || t.kind != tIdent || (t.text != "blank" && t.text != "empty") {
			continue
		}
		separated := func(j int) bool {
			return j < 0 || j >= len(toks) || toks[j].is(",") || (toks[j].kind == tIdent && toks[j].text == "or")
		}
		if !separated(i-1) || !separated(i+1) {
			continue // part of a larger expression, such as blank.size
		}
		b.WriteString(src[last:t.start])
		b.WriteString("((" + sub + ") | __when_" + t.text + ")")
		last = t.end
	}
	if last == 0 {
		return src
	}
	b.WriteString(src[last:])
	return b.String()
}

// oneLine returns expression src with the whitespace between its tokens
// made single spaces, so that copying it elsewhere adds no line; false if
// it cannot (a string literal holds a line break).
func oneLine(src string) (string, bool) {
	toks, ok := lexExpr(src)
	if !ok || len(toks) == 0 {
		return "", false
	}
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && t.start > toks[i-1].end {
			b.WriteByte(' ')
		}
		b.WriteString(src[t.start:t.end])
	}
	out := b.String()
	return out, !strings.ContainsAny(out, "\r\n")
}

// operandBefore returns the first token of the postfix expression ending at
// end, or -1.
func operandBefore(toks []token, end int) int {
	k := end
	for k >= 0 {
		t := toks[k]
		switch {
		case t.kind == tProp:
			k--
		case t.is("]"):
			k = matchBack(toks, k, "[", "]")
			if k <= 0 {
				return -1
			}
			k--
		case t.is(")"):
			return matchBack(toks, k, "(", ")")
		case t.kind == tString || t.kind == tNumber || (t.kind == tIdent && !reserved[t.text]) || (t.kind == tIdent && (t.text == "true" || t.text == "false" || t.text == "nil")):
			return k
		default:
			return -1
		}
	}
	return -1
}

// operandAfter returns the last token of the postfix expression starting at
// start, or -1.
func operandAfter(toks []token, start int) int {
	if start >= len(toks) {
		return -1
	}
	k := start
	switch t := toks[k]; {
	case t.is("("):
		k = matchFwd(toks, k, "(", ")")
		if k < 0 {
			return -1
		}
	case t.kind == tString || t.kind == tNumber || (t.kind == tIdent && (!reserved[t.text] || t.text == "true" || t.text == "false" || t.text == "nil")):
	default:
		return -1
	}
	for k+1 < len(toks) {
		switch t := toks[k+1]; {
		case t.kind == tProp:
			k++
		case t.is("["):
			k = matchFwd(toks, k+1, "[", "]")
			if k < 0 {
				return -1
			}
		default:
			return k
		}
	}
	return k
}

func matchBack(toks []token, k int, open, close string) int {
	depth := 0
	for ; k >= 0; k-- {
		switch {
		case toks[k].is(close):
			depth++
		case toks[k].is(open):
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

func matchFwd(toks []token, k int, open, close string) int {
	depth := 0
	for ; k < len(toks); k++ {
		switch {
		case toks[k].is(open):
			depth++
		case toks[k].is(close):
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

// rewriteFor adds the __for filter to a loop's collection so that objects
// are iterated in key order: "item in coll limit: 2" becomes
// "item in coll | __for limit: 2".
func rewriteFor(src string, toks []token) string {
	if len(toks) < 3 || toks[0].kind != tIdent || toks[1].kind != tIdent || toks[1].text != "in" {
		return src
	}
	end := len(src)
	depth := 0
	for k := 2; k < len(toks); k++ {
		t := toks[k]
		switch {
		case t.is("(") || t.is("["):
			depth++
			continue
		case t.is(")") || t.is("]"):
			depth--
			continue
		}
		if depth != 0 || k == 2 {
			continue
		}
		prev := toks[k-1]
		afterOperand := !(prev.is("|") || prev.is(",") || prev.is(":") || prev.kind == tKeyword || prev.kind == tOp || prev.is("(") || prev.is("[") || prev.is(".."))
		isModifier := (t.kind == tKeyword && (t.text == "limit" || t.text == "offset" || t.text == "cols") && !prev.is("|")) ||
			(t.kind == tIdent && t.text == "reversed" && afterOperand)
		if isModifier {
			end = t.start
			break
		}
	}
	head := strings.TrimRight(src[:end], " \t\r\n")
	return head + " | __for " + src[end:]
}
