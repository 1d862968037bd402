package dialect

import (
	"fmt"
	"strings"
)

// Expressions as they evaluate: literals, paths, ranges, comparisons,
// and/or, and filter chains.

type expr interface {
	eval(st *state) (any, error)
}

type literal struct{ v any }

func (l literal) eval(*state) (any, error) { return l.v, nil }

// pathExpr is a variable with properties and indexes: customer.address,
// items[0].name, customer["first name"], customer[key], or [key] alone.
type pathExpr struct {
	text    string // as written, for errors
	root    string
	rootKey pathSeg // when the path starts with [key]
	segs    []pathSeg
}

// pathSeg is .name, ["name"], [3], or [expr].
type pathSeg struct {
	name    string
	index   int
	isIndex bool
	key     expr // read when the path is
}

func (s *pathSeg) value(st *state) (any, error) {
	switch {
	case s.key != nil:
		k, err := s.key.eval(st)
		if err != nil {
			return nil, err
		}
		if t, ok := textOf(k); ok {
			return t, nil
		}
		return plain(k), nil
	case s.isIndex:
		return s.index, nil
	}
	return s.name, nil
}

func (p *pathExpr) eval(st *state) (any, error) {
	name := p.root
	if p.segs == nil && p.rootKey.key == nil && p.rootKey.name == "" && !p.rootKey.isIndex {
		// The common case: a plain variable.
		if v, ok := st.lookup(name); ok {
			return v, nil
		}
		return &undefined{name: p.text}, nil
	}
	if name == "" {
		k, err := p.rootKey.value(st)
		if err != nil {
			return nil, err
		}
		s, ok := k.(string)
		if !ok {
			return &undefined{name: p.text}, nil
		}
		name = s
	}
	v, ok := st.lookup(name)
	if !ok {
		return &undefined{name: p.text}, nil
	}
	for i := range p.segs {
		seg := &p.segs[i]
		var key any
		if seg.key == nil && !seg.isIndex {
			key = seg.name
		} else {
			k, err := seg.value(st)
			if err != nil {
				return nil, err
			}
			key = k
		}
		if v, ok = property(v, key); !ok {
			return &undefined{name: p.text}, nil
		}
	}
	return v, nil
}

// rangeExpr is (from..to). Its bounds must be whole numbers: a missing
// bound fails, naming it, even in lax mode.
type rangeExpr struct {
	from, to expr
	text     string
}

func (r *rangeExpr) eval(st *state) (any, error) {
	from, err := rangeBound(st, r.from, "start")
	if err != nil {
		return nil, err
	}
	to, err := rangeBound(st, r.to, "end")
	if err != nil {
		return nil, err
	}
	return rangeValue{from: from, to: to}, nil
}

func rangeBound(st *state, e expr, which string) (int, error) {
	v, err := e.eval(st)
	if err != nil {
		return 0, err
	}
	if u, ok := v.(*undefined); ok {
		if !st.lax {
			return 0, missing(u.name)
		}
		return 0, nil
	}
	n, ok := lenientInt(v)
	if !ok {
		name := "value"
		if p, isPath := e.(*pathExpr); isPath {
			name = p.text
		}
		return 0, renderError("range %s %s is %s, not a whole number", which, name, describe(v))
	}
	return n, nil
}

// describe names the kind of a value for an error message, without the
// value itself, which may be personal data.
func describe(v any) string {
	switch v := deref(v).(type) {
	case nil, *undefined:
		return "null"
	case bool:
		return fmt.Sprint(v)
	case string:
		return "text"
	}
	if n, ok := numberOf(v); ok {
		if n.isFloat {
			return "a decimal number"
		}
		return "a number"
	}
	if _, ok := listOf(v); ok {
		return "a list"
	}
	return "an object"
}

// logicExpr is a and b, or a or b; b is a whole and/or chain to its right.
type logicExpr struct {
	and         bool
	left, right expr
}

func (l *logicExpr) eval(st *state) (any, error) {
	for {
		a, err := l.left.eval(st)
		if err != nil {
			return nil, err
		}
		if l.and && !truthy(a) {
			return false, nil
		}
		if !l.and && truthy(a) {
			return true, nil
		}
		next, ok := l.right.(*logicExpr)
		if !ok {
			b, err := l.right.eval(st)
			if err != nil {
				return nil, err
			}
			return truthy(b), nil
		}
		l = next
	}
}

// compareExpr is a comparison: == != < > <= >= contains.
type compareExpr struct {
	op          string
	left, right expr
}

func (c *compareExpr) eval(st *state) (any, error) {
	a, err := c.left.eval(st)
	if err != nil {
		return nil, err
	}
	b, err := c.right.eval(st)
	if err != nil {
		return nil, err
	}
	return compare(c.op, a, b)
}

// compare applies a comparison as Liquid does: blank and empty compare a
// value's blankness or emptiness, order comparisons between text and a
// number fail, and any comparison with nothing on one side is false.
func compare(op string, a, b any) (bool, error) {
	switch op {
	case "==":
		return same(a, b), nil
	case "!=":
		return !same(a, b), nil
	case "contains":
		return contains(a, b), nil
	}
	if _, ok := a.(specialValue); ok {
		return false, nil
	}
	if _, ok := b.(specialValue); ok {
		return false, nil
	}
	if isNil(a) || isNil(b) {
		return false, nil
	}
	var c int
	x, okA := numberOf(a)
	y, okB := numberOf(b)
	s, isTextA := textOf(a)
	t, isTextB := textOf(b)
	switch {
	case okA && okB:
		c = cmpNumbers(x, y)
		if c == 2 {
			return false, nil
		}
	case isTextA && isTextB:
		c = strings.Compare(s, t)
	case (okA || isTextA) && (okB || isTextB), (okA || isTextA) && isBool(b), isBool(a) && (okB || isTextB || isBool(b)):
		return false, renderError("comparison of %s with %s failed", rubyClass(a), scalarText(b))
	default:
		return false, nil
	}
	switch op {
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, renderError("unknown operator %s", op)
}

func isBool(v any) bool { _, ok := v.(bool); return ok }

// rubyClass names v's type as Liquid's error messages do.
func rubyClass(v any) string {
	switch v.(type) {
	case string:
		return "String"
	case bool:
		return "Boolean"
	}
	if n, ok := numberOf(v); ok && n.isFloat {
		return "Float"
	}
	return "Integer"
}

// same is == with blank and empty.
func same(a, b any) bool {
	if s, ok := a.(specialValue); ok {
		return special(s, b)
	}
	if s, ok := b.(specialValue); ok {
		return special(s, a)
	}
	return equal(a, b)
}

func special(s specialValue, v any) bool {
	if _, ok := v.(specialValue); ok {
		return v == s
	}
	if s == blankValue {
		return isBlank(v)
	}
	return isEmpty(v)
}

// contains is Liquid's contains: a substring of text, an element of an
// array, a key of an object. Nothing contains nil or false.
func contains(a, b any) bool {
	if isNil(b) || b == false {
		return false
	}
	if s, ok := textOf(a); ok {
		t, ok := textOf(b)
		if !ok {
			t = scalarText(plain(b))
		}
		return strings.Contains(s, t)
	}
	if r, ok := a.(rangeValue); ok {
		n, isNum := numberOf(b)
		return isNum && !n.isFloat && int64(r.from) <= n.i && n.i <= int64(r.to)
	}
	if items, ok := listOf(a); ok {
		for _, item := range items {
			if equal(item, b) {
				return true
			}
		}
		return false
	}
	if m, ok := mapOf(a); ok {
		k, ok := textOf(b)
		if !ok {
			return false
		}
		_, found := m[k]
		return found
	}
	return false
}

// filteredExpr is an expression followed by filters.
type filteredExpr struct {
	head    expr
	filters []filterCall
	// lastDefault is the index of the last default filter, or -1: a
	// missing argument to a filter before it is left for it to stand in
	// for.
	lastDefault int
}

type namedArg struct {
	name  string
	value expr
}

// filterCall is one | name: args.
type filterCall struct {
	name  string
	def   *filterDef
	args  []expr
	named []namedArg
	prep  any // see filterDef.prepare
}

func (f *filteredExpr) eval(st *state) (any, error) {
	v, err := f.head.eval(st)
	if err != nil {
		return nil, err
	}
	for i := range f.filters {
		if v, err = f.filters[i].apply(st, v, i < f.lastDefault); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// lastFilter names the filter applied last, or "".
func (f *filteredExpr) lastFilter() string {
	if len(f.filters) == 0 {
		return ""
	}
	return f.filters[len(f.filters)-1].name
}

// apply calls the filter on in. In strict mode an undefined input passes
// through unchanged, so that a later default stands in for it or printing
// it fails naming it; an undefined argument fails the render, naming it,
// unless a default follows (rescued), and is nil then. Filters that stand
// in for missing values (default) are handed them.
func (c *filterCall) apply(st *state, in any, rescued bool) (any, error) {
	if u, ok := in.(*undefined); ok && !st.lax && !c.def.tolerant {
		return u, nil
	}
	mark := len(st.args)
	defer func() { st.args = st.args[:mark] }()
	for _, a := range c.args {
		v, err := a.eval(st)
		if err != nil {
			return nil, err
		}
		if u, ok := v.(*undefined); ok && !st.lax {
			if !c.def.tolerant {
				if !rescued {
					return nil, missing(u.name)
				}
				st.args = append(st.args, nil)
				continue
			}
			st.args = append(st.args, u) // default hands it on
			continue
		}
		st.args = append(st.args, plain(v))
	}
	fa := filterArgs{st: st, args: st.args[mark:], named: c.named, prep: c.prep}
	out, err := c.def.fn(&fa, plain(in))
	if err != nil {
		if isOurs(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrTemplate, c.name, err)
	}
	return out, nil
}
