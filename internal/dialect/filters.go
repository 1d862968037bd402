package dialect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Filters: the registry, what a filter is handed, and the functions that
// keep every string and array a filter builds within the limits.

// filterDef describes a filter: how many positional arguments it takes,
// which named ones, and its function.
type filterDef struct {
	min, max int
	named    []string
	// tolerant filters stand in for a missing value (default): they are
	// handed an undefined input or argument instead of passing it on.
	tolerant bool
	fn       func(fa *filterArgs, in any) (any, error)
	// prepare, if set, readies what can be known at compile time from the
	// arguments (a literal date format); the filter finds it in prep.
	prepare func(args []expr) any
}

// filterArgs is what a filter is handed besides its input.
type filterArgs struct {
	st    *state
	args  []any
	named []namedArg
	prep  any
}

// filterDefs is filled by the filter files' init functions.
var filterDefs = map[string]*filterDef{}

func register(name string, min, max int, fn func(fa *filterArgs, in any) (any, error)) *filterDef {
	d := &filterDef{min: min, max: max, fn: fn}
	filterDefs[name] = d
	return d
}

func (c *filterCall) checkArity() error {
	n := len(c.args)
	if n < c.def.min || n > c.def.max {
		switch {
		case c.def.min == c.def.max:
			return errorf("filter %s takes %d arguments, not %d", c.name, c.def.min, n)
		default:
			return errorf("filter %s takes %d to %d arguments, not %d", c.name, c.def.min, c.def.max, n)
		}
	}
	for _, na := range c.named {
		ok := false
		for _, allowed := range c.def.named {
			ok = ok || allowed == na.name
		}
		if !ok {
			return errorf("filter %s has no argument %s", c.name, na.name)
		}
	}
	return nil
}

// arg returns positional argument i, or nil when it was not given.
func (fa *filterArgs) arg(i int) any {
	if i < len(fa.args) {
		return fa.args[i]
	}
	return nil
}

// has reports whether positional argument i was given.
func (fa *filterArgs) has(i int) bool { return i < len(fa.args) }

// namedArg evaluates the named argument name, or returns nil.
func (fa *filterArgs) namedArg(name string) (any, error) {
	for _, na := range fa.named {
		if na.name == name {
			v, err := na.value.eval(fa.st)
			return plain(v), err
		}
	}
	return nil, nil
}

// text converts v to text within the output cap.
func (fa *filterArgs) text(v any) (string, error) {
	s, err := toText(v, fa.st.max)
	if err != nil {
		return "", fa.st.run.fail(err)
	}
	return s, nil
}

// argText is the text of positional argument i ("" when absent).
func (fa *filterArgs) argText(i int) (string, error) { return fa.text(fa.arg(i)) }

// result checks a built string against the output cap.
func (fa *filterArgs) result(s string) (any, error) {
	if len(s) > fa.st.max {
		return nil, fa.st.run.fail(outputLimit(fa.st.max))
	}
	return s, nil
}

// resultList checks a built array against the iteration budget.
func (fa *filterArgs) resultList(items []any) (any, error) {
	if err := fa.st.run.checkLen(len(items)); err != nil {
		return nil, err
	}
	return items, nil
}

// list reads v as an array for the array filters: arrays and ranges as
// their elements, an object as a single element, nil as none, anything
// else as a single element. A range larger than the budget is refused
// before it is expanded.
func (fa *filterArgs) list(v any) ([]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return x, nil
	case rangeValue:
		if err := fa.st.run.checkLen(x.len()); err != nil {
			return nil, err
		}
		return x.items(), nil
	}
	if items, ok := listOf(v); ok {
		return items, nil
	}
	return []any{v}, nil
}

// flatten reads v as an array with nested arrays flattened.
func (fa *filterArgs) flatten(v any) ([]any, error) {
	items, err := fa.list(v)
	if err != nil {
		return nil, err
	}
	nested := false
	for _, item := range items {
		_, isRange := item.(rangeValue)
		if _, ok := listOf(item); ok || isRange {
			nested = true
			break
		}
	}
	if !nested {
		return items, nil
	}
	var out []any
	var walk func(items []any, depth int) error
	walk = func(items []any, depth int) error {
		if depth > maxDepth {
			return errTooDeep
		}
		for _, item := range items {
			sub, ok := listOf(item)
			if r, isRange := item.(rangeValue); isRange {
				if err := fa.st.run.checkLen(r.len()); err != nil {
					return err
				}
				sub, ok = r.items(), true
			}
			if ok {
				if err := walk(sub, depth+1); err != nil {
					return err
				}
				continue
			}
			out = append(out, item)
			if err := fa.st.run.checkLen(len(out)); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(items, 0)
}

func init() {
	d := register("default", 0, 1, filterDefault)
	d.tolerant = true
	d.named = []string{"allow_false"}
	register("size", 0, 0, func(fa *filterArgs, in any) (any, error) { return sizeOf(in), nil })
	register("json", 0, 1, filterJSON)
}

// filterDefault returns its argument when the input is nil, false or
// empty (only nil and empty with allow_false: true). A missing input
// counts as nil; a missing argument is handed on, so printing it fails.
func filterDefault(fa *filterArgs, in any) (any, error) {
	allowFalse, err := fa.namedArg("allow_false")
	if err != nil {
		return nil, err
	}
	var fallback any = ""
	if fa.has(0) {
		fallback = fa.arg(0)
	}
	if _, ok := fallback.(specialValue); ok {
		fallback = ""
	}
	useDefault := isNil(in) || isEmpty(in)
	if !truthy(allowFalse) && in == false {
		useDefault = true
	}
	if useDefault {
		return fallback, nil
	}
	return in, nil
}

// sizeOf is Liquid's size, as .size counts: characters in text, items in
// an array, keys in an object; 0 for anything else.
func sizeOf(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case rangeValue:
		return x.len()
	}
	if n, ok := property(v, "size"); ok {
		if i, ok := n.(int); ok {
			return i
		}
	}
	if m, ok := mapOf(v); ok {
		return len(m)
	}
	return 0
}

// filterJSON encodes v as JSON; the result is always valid JSON.
func filterJSON(fa *filterArgs, in any) (any, error) {
	b, err := appendJSON(nil, in, fa.st.max, 0)
	if err != nil {
		return nil, fa.st.run.fail(err)
	}
	if fa.has(0) {
		indent, ok := strictInt(fa.arg(0))
		if !ok || indent < 0 || indent > 10 {
			return nil, fmt.Errorf("indent must be a number from 0 to 10")
		}
		if indent > 0 {
			if b, err = indentJSON(b, indent); err != nil {
				return nil, err
			}
		}
	}
	return fa.result(string(b))
}

func indentJSON(b []byte, indent int) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", strings.Repeat(" ", indent)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
