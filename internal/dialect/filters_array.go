package dialect

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Array filters.

func init() {
	register("join", 0, 1, join)
	register("first", 0, 0, func(fa *filterArgs, in any) (any, error) { return firstLast(fa, in, true) })
	register("last", 0, 0, func(fa *filterArgs, in any) (any, error) { return firstLast(fa, in, false) })
	register("reverse", 0, 0, func(fa *filterArgs, in any) (any, error) {
		items, err := fa.list(in)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i, item := range items {
			out[len(items)-1-i] = item
		}
		return out, nil
	})
	register("sort", 0, 1, sortFilter(false))
	register("sort_natural", 0, 1, sortFilter(true))
	register("uniq", 0, 1, uniq)
	register("compact", 0, 1, func(fa *filterArgs, in any) (any, error) {
		return selectItems(fa, in, func(item any) (bool, error) {
			v, err := itemValue(fa, item)
			return !isNil(v), err
		})
	})
	register("map", 1, 1, mapFilter)
	register("concat", 1, 1, func(fa *filterArgs, in any) (any, error) {
		a, err := fa.list(in)
		if err != nil {
			return nil, err
		}
		if _, isRange := fa.arg(0).(rangeValue); isRange {
		} else if _, ok := listOf(fa.arg(0)); !ok {
			return nil, errorf("concat needs an array, not %s", describe(fa.arg(0)))
		}
		b, err := fa.list(fa.arg(0))
		if err != nil {
			return nil, err
		}
		if err := fa.st.run.checkLen(len(a) + len(b)); err != nil {
			return nil, err
		}
		return append(append(make([]any, 0, len(a)+len(b)), a...), b...), nil
	})
	register("where", 1, 2, func(fa *filterArgs, in any) (any, error) { return filterArray(fa, in, "where") })
	register("where_not", 1, 2, func(fa *filterArgs, in any) (any, error) { return filterArray(fa, in, "reject") })
	register("reject", 1, 2, func(fa *filterArgs, in any) (any, error) { return filterArray(fa, in, "reject") })
	register("has", 1, 2, func(fa *filterArgs, in any) (any, error) { return filterArray(fa, in, "has") })
	register("find", 1, 2, func(fa *filterArgs, in any) (any, error) { return filterArray(fa, in, "find") })
	register("find_index", 1, 2, func(fa *filterArgs, in any) (any, error) { return filterArray(fa, in, "find_index") })
	register("sum", 0, 1, sum)
	register("slice", 1, 2, slice)
	register("limit", 1, 1, func(fa *filterArgs, in any) (any, error) {
		items, err := fa.list(in)
		if err != nil {
			return nil, err
		}
		n, err := fa.intArg(0, 0)
		if err != nil {
			return nil, err
		}
		return items[:min(max(n, 0), len(items))], nil
	})
	register("push", 1, 1, func(fa *filterArgs, in any) (any, error) {
		items, err := fa.list(in)
		if err != nil {
			return nil, err
		}
		return fa.resultList(append(append(make([]any, 0, len(items)+1), items...), fa.arg(0)))
	})
	register("unshift", 1, 1, func(fa *filterArgs, in any) (any, error) {
		items, err := fa.list(in)
		if err != nil {
			return nil, err
		}
		return fa.resultList(append([]any{fa.arg(0)}, items...))
	})
	register("pop", 0, 0, func(fa *filterArgs, in any) (any, error) {
		items, err := fa.list(in)
		if err != nil || len(items) == 0 {
			return []any{}, err
		}
		return items[:len(items)-1], nil
	})
	register("shift", 0, 0, func(fa *filterArgs, in any) (any, error) {
		items, err := fa.list(in)
		if err != nil || len(items) == 0 {
			return []any{}, err
		}
		return items[1:], nil
	})
	register("group_by", 1, 1, groupBy)
	register("json_array_uniq", 0, 1, uniq)
	register("array_to_sentence_string", 0, 1, sentence)
}

// join joins an array's elements, nested arrays flattened and nils
// skipped, with sep (a space by default).
func join(fa *filterArgs, in any) (any, error) {
	items, err := fa.flatten(in)
	if err != nil {
		return nil, err
	}
	sep := " "
	if fa.has(0) {
		if sep, err = fa.argText(0); err != nil {
			return nil, err
		}
	}
	var b []byte
	first := true
	for _, item := range items {
		if !first {
			if len(sep) > fa.st.max-len(b) {
				return nil, fa.st.run.fail(outputLimit(fa.st.max))
			}
			b = append(b, sep...)
		}
		first = false
		if b, err = appendText(b, item, fa.st.max, 0); err != nil {
			return nil, fa.st.run.fail(err)
		}
	}
	return string(b), nil
}

func firstLast(fa *filterArgs, in any, first bool) (any, error) {
	if s, ok := textOf(in); ok {
		if s == "" {
			return nil, nil
		}
		if first {
			r, n := utf8.DecodeRuneInString(s)
			_ = r
			return s[:n], nil
		}
		_, n := utf8.DecodeLastRuneInString(s)
		return s[len(s)-n:], nil
	}
	if m, ok := in.(map[string]any); ok {
		if !first {
			return nil, nil
		}
		v, _ := mapMethod(m, "first")
		return v, nil
	}
	items, ok := listOf(in)
	if r, isRange := in.(rangeValue); isRange {
		if r.len() == 0 {
			return nil, nil
		}
		if first {
			return r.from, nil
		}
		return r.to, nil
	}
	if !ok || len(items) == 0 {
		return nil, nil
	}
	if first {
		return items[0], nil
	}
	return items[len(items)-1], nil
}

// itemValue is the item itself, or its property named by the first
// argument when there is one.
func itemValue(fa *filterArgs, item any) (any, error) {
	if !fa.has(0) || fa.arg(0) == nil {
		return item, nil
	}
	key, err := fa.argText(0)
	if err != nil {
		return nil, err
	}
	v, _ := property(item, key)
	return v, nil
}

// sortFilter sorts by value or by a property; nils go last. Natural sort
// ignores case.
func sortFilter(natural bool) func(fa *filterArgs, in any) (any, error) {
	return func(fa *filterArgs, in any) (any, error) {
		items, err := fa.list(in)
		if err != nil {
			return nil, err
		}
		keys := make([]any, len(items))
		for i, item := range items {
			if keys[i], err = itemValue(fa, item); err != nil {
				return nil, err
			}
			if natural && !isNil(keys[i]) {
				s, err := fa.text(keys[i])
				if err != nil {
					return nil, err
				}
				keys[i] = strings.ToLower(s)
			}
		}
		idx := make([]int, len(items))
		for i := range idx {
			idx[i] = i
		}
		var cmpErr error
		sort.SliceStable(idx, func(a, b int) bool {
			x, y := keys[idx[a]], keys[idx[b]]
			if isNil(x) || isNil(y) {
				return !isNil(x) && isNil(y)
			}
			less, err := compare("<", x, y)
			if err != nil && cmpErr == nil {
				cmpErr = err
			}
			return less
		})
		if cmpErr != nil {
			return nil, cmpErr
		}
		out := make([]any, len(items))
		for i, j := range idx {
			out[i] = items[j]
		}
		return out, nil
	}
}

func uniq(fa *filterArgs, in any) (any, error) {
	items, err := fa.list(in)
	if err != nil {
		return nil, err
	}
	var seen []any
	out := make([]any, 0, len(items))
	for _, item := range items {
		k, err := itemValue(fa, item)
		if err != nil {
			return nil, err
		}
		dup := false
		for _, s := range seen {
			if err := fa.st.run.step(); err != nil {
				return nil, err
			}
			if equal(s, k) && sameKind(s, k) {
				dup = true
				break
			}
		}
		if !dup {
			seen = append(seen, k)
			out = append(out, item)
		}
	}
	return out, nil
}

// sameKind keeps uniq from merging 1 and 1.0, which Ruby's uniq keeps
// apart.
func sameKind(a, b any) bool {
	x, okA := numberOf(a)
	y, okB := numberOf(b)
	return !okA || !okB || x.isFloat == y.isFloat
}

func mapFilter(fa *filterArgs, in any) (any, error) {
	items, err := fa.flatten(in)
	if err != nil {
		return nil, err
	}
	key, err := fa.argText(0)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	for i, item := range items {
		v, err := index(item, key)
		if err != nil && err != errNoIndex {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// errNoIndex says an item cannot be indexed at all (nil, a float): the
// filters that index items then give nil, as Liquid does.
var errNoIndex = errorf("item cannot be indexed")

// index is Ruby's item[key], as Liquid's array filters read items: an
// object's value, text's substring (key when text contains it), an
// array's element, an integer's bit.
func index(item, key any) (any, error) {
	if d, ok := item.(drop); ok {
		k, _ := textOf(key)
		v, _ := d.get(k)
		return v, nil
	}
	if isNil(item) {
		return nil, errNoIndex
	}
	if s, ok := textOf(item); ok {
		k, ok := textOf(key)
		if !ok {
			return nil, errorf("no implicit conversion of %s into String", describe(key))
		}
		if strings.Contains(s, k) {
			return k, nil
		}
		return nil, nil
	}
	if m, ok := mapOf(item); ok {
		k, ok := textOf(key)
		if !ok {
			return nil, nil
		}
		return m[k], nil
	}
	if n, ok := numberOf(item); ok {
		if n.isFloat {
			return nil, errNoIndex
		}
		bit, ok := numberOf(key)
		if !ok || bit.isFloat {
			return nil, errorf("no implicit conversion of %s into Integer", describe(key))
		}
		if bit.i < 0 || bit.i > 62 {
			return 0, nil
		}
		return int(n.i >> bit.i & 1), nil
	}
	if items, ok := listOf(item); ok {
		i, ok := numberOf(key)
		if !ok || i.isFloat {
			return nil, errorf("no implicit conversion of %s into Integer", describe(key))
		}
		v, _ := listProperty(items, int(i.i))
		return v, nil
	}
	return nil, errNoIndex
}

// filterArray is where, reject, has, find and find_index: each item's
// property (item[property]) is tested for truth, or compared with the
// second argument when there is one.
func filterArray(fa *filterArgs, in any, op string) (any, error) {
	items, err := fa.flatten(in)
	if err != nil {
		return nil, err
	}
	empty := map[string]any{"where": []any{}, "reject": []any{}, "has": false}[op]
	key := fa.arg(0)
	if len(items) == 0 || key == nil {
		return empty, nil
	}
	target := fa.arg(1)
	var out []any
	for i, item := range items {
		v, err := index(item, key)
		if err == errNoIndex {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		hit := truthy(v)
		if target != nil {
			hit = equal(v, target)
		}
		switch {
		case op == "has" && hit:
			return true, nil
		case op == "find" && hit:
			return item, nil
		case op == "find_index" && hit:
			return i, nil
		case op == "where" && hit, op == "reject" && !hit:
			out = append(out, item)
		}
	}
	if op == "where" || op == "reject" {
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	return empty, nil
}

func selectItems(fa *filterArgs, in any, test func(any) (bool, error)) (any, error) {
	items, err := fa.list(in)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(items))
	for _, item := range items {
		ok, err := test(item)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, item)
		}
	}
	return out, nil
}

// sum adds numbers (text read as numbers), or a property of each item.
func sum(fa *filterArgs, in any) (any, error) {
	items, err := fa.flatten(in)
	if err != nil {
		return nil, err
	}
	total := any(0)
	for _, item := range items {
		v := item
		if fa.has(0) {
			key, err := fa.argText(0)
			if err != nil {
				return nil, err
			}
			if v, err = index(item, key); err == errNoIndex {
				v = 0
			} else if err != nil {
				return nil, err
			}
		}
		if _, isNum := numberOf(v); !isNum {
			if _, isText := textOf(v); !isText {
				continue
			}
		}
		sub := filterArgs{st: fa.st, args: []any{v}}
		if total, err = filterDefs["plus"].fn(&sub, total); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// slice takes length items or characters from offset (negative counts
// from the end).
func slice(fa *filterArgs, in any) (any, error) {
	offset, ok := strictInt(fa.arg(0))
	if !ok {
		return nil, errorf("invalid integer")
	}
	length := 1
	if fa.has(1) && fa.arg(1) != nil {
		if length, ok = strictInt(fa.arg(1)); !ok {
			return nil, errorf("invalid integer")
		}
	}
	window := func(n int) (int, int, bool) {
		if offset < 0 {
			offset += n
		}
		if offset < 0 || offset > n || length < 0 {
			return 0, 0, false
		}
		return offset, min(offset+length, n), true
	}
	items, isList := listOf(in)
	if r, isRange := in.(rangeValue); isRange {
		if err := fa.st.run.checkLen(r.len()); err != nil {
			return nil, err
		}
		items, isList = r.items(), true
	}
	if isList {
		lo, hi, ok := window(len(items))
		if !ok {
			return []any{}, nil
		}
		return items[lo:hi], nil
	}
	s, err := fa.text(in)
	if err != nil {
		return nil, err
	}
	runes := []rune(s)
	lo, hi, ok := window(len(runes))
	if !ok {
		return "", nil
	}
	return string(runes[lo:hi]), nil
}

// groupBy groups items by a property: [{"name" => value, "items" =>
// [...]}], in order of first appearance.
func groupBy(fa *filterArgs, in any) (any, error) {
	items, err := fa.list(in)
	if err != nil {
		return nil, err
	}
	var groups []any
	for _, item := range items {
		k, err := itemValue(fa, item)
		if err != nil {
			return nil, err
		}
		found := false
		for _, g := range groups {
			if err := fa.st.run.step(); err != nil {
				return nil, err
			}
			gm := g.(map[string]any)
			if equal(gm["name"], k) {
				gm["items"] = append(gm["items"].([]any), item)
				found = true
				break
			}
		}
		if !found {
			groups = append(groups, map[string]any{"name": k, "items": []any{item}})
		}
	}
	return groups, nil
}

// sentence joins items as an English list: "a, b and c" (the connector
// is the argument).
func sentence(fa *filterArgs, in any) (any, error) {
	items, err := fa.list(in)
	if err != nil {
		return nil, err
	}
	connector := "and"
	if fa.has(0) {
		if connector, err = fa.argText(0); err != nil {
			return nil, err
		}
	}
	parts := make([]string, len(items))
	for i, item := range items {
		if parts[i], err = fa.text(item); err != nil {
			return nil, err
		}
	}
	switch len(parts) {
	case 0:
		return "", nil
	case 1:
		return parts[0], nil
	case 2:
		return fa.result(parts[0] + " " + connector + " " + parts[1])
	}
	return fa.result(strings.Join(parts[:len(parts)-1], ", ") + ", " + connector + " " + parts[len(parts)-1])
}
