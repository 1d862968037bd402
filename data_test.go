package webhook

import (
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseData(t *testing.T) {
	k40 := strings.Repeat("k", 40)
	cases := []struct {
		name    string
		doc     string
		check   func(t *testing.T, d map[string]any)
		wantErr error
		line    int
		column  int
		errHas  string
	}{
		{name: "numbers", doc: `{"a": 1, "b": -2.50, "c": 1.7e9, "d": 12345678901234567890, "e": [1, {"f": 2}], "g": 0}`, check: func(t *testing.T, d map[string]any) {
			assert.Equal(t, 1, d["a"])
			assert.Equal(t, -2.5, d["b"])
			assert.Equal(t, 1.7e9, d["c"])
			assert.Equal(t, 12345678901234567890.0, d["d"])
			assert.Equal(t, 1, d["e"].([]any)[0])
			assert.Equal(t, 2, d["e"].([]any)[1].(map[string]any)["f"])
			assert.Equal(t, 0, d["g"])
		}},
		{name: "empty object", doc: " {} ", check: func(t *testing.T, d map[string]any) { assert.Empty(t, d) }},
		{name: "not an object", doc: "\n [1]", wantErr: ErrInvalidData, line: 2, column: 2, errHas: "JSON object"},
		{name: "null", doc: "null", wantErr: ErrInvalidData, errHas: "JSON object"},
		{name: "not JSON", doc: "\n  not json", wantErr: ErrInvalidData, line: 2, column: 4, errHas: "invalid character 'o' in literal null"},
		{name: "a byte-order mark", doc: "\ufeff{}", wantErr: ErrInvalidData, line: 1, column: 1, errHas: "invalid character"},
		{name: "syntax error", doc: "{\n  \"a\": 1,\n  \"b\": tru\n}", wantErr: ErrInvalidData, line: 3, column: 11},
		{name: "truncated", doc: "{\"a\": ", wantErr: ErrInvalidData, errHas: "unexpected end"},
		{name: "trailing text", doc: "{}\n{}", wantErr: ErrInvalidData, line: 2, column: 1, errHas: "after the object"},
		{name: "number out of range", doc: `{"a": {"b": [1e999]}}`, wantErr: ErrInvalidData, errHas: "a.b[0]: number 1e999 is out of range"},
		{name: "empty", doc: "", wantErr: ErrInvalidData},
		{name: "number out of range, deep", doc: strings.Repeat(`{"`+strings.Repeat("k", 50)+`": [`, 20) + "1e999" + strings.Repeat("]}", 20),
			wantErr: ErrInvalidData, errHas: ": " + k40 + "…[0]." + k40 + "….…[0]." + k40 + "…[0]: number 1e999 is out of range"},
		{name: "too many values", doc: `{"a": [` + strings.Repeat("0,", MaxDataValues) + `0]}`, wantErr: ErrInvalidData,
			line: 1, column: 7 + 2*(MaxDataValues-2), errHas: "more than 300000 keys and values"},
		{name: "too many values, not JSON", doc: `{"a": [` + strings.Repeat("0,", MaxDataValues) + `]}`, wantErr: ErrInvalidData,
			line: 1, column: 8 + 2*MaxDataValues, errHas: "invalid character ']'"},
		{name: "a large array, not an object", doc: "[" + strings.Repeat("0,", 1000) + "0]", wantErr: ErrInvalidData,
			line: 1, column: 1, errHas: "JSON object"},
		{name: "commas in strings are not values", doc: `{"a": "` + strings.Repeat(",", 2*MaxDataValues) + `\",:"}`, check: func(t *testing.T, d map[string]any) {
			assert.Len(t, d["a"], 2*MaxDataValues+3)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseData([]byte(tc.doc))
			if tc.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.wantErr)
				var pe *ParseError
				require.ErrorAs(t, err, &pe)
				if tc.line > 0 {
					assert.Equal(t, tc.line, pe.Line, "%v", err)
					assert.Equal(t, tc.column, pe.Column, "%v", err)
				}
				if tc.errHas != "" {
					assert.Contains(t, err.Error(), tc.errHas)
				}
				return
			}
			require.NoError(t, err)
			tc.check(t, d)
		})
	}
}

func FuzzParseData(f *testing.F) {
	for _, in := range []string{customerDoc, `{}`, `{"a": 1e999}`, `[1]`, `{"a": -0, "b": 1.5e3, "c": 9223372036854775808}`, `{"a": {"b": [null, true]}}`, `{`, `{} x`} {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var d map[string]any
		var err error
		alloc := allocated(func() { d, err = ParseData(doc) })
		// Linear: no input, whatever its shape, costs more than a fixed
		// multiple of its size (and a decoder's fixed start-up cost).
		require.LessOrEqual(t, alloc, uint64(64*len(doc)+64<<10), "allocated for %d bytes", len(doc))
		if err != nil {
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			require.ErrorIs(t, err, ErrInvalidData)
			return
		}
		require.NotNil(t, d)
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case json.Number:
				t.Fatalf("json.Number %s left in the data", x)
			case map[string]any:
				for _, item := range x {
					walk(item)
				}
			case []any:
				for _, item := range x {
					walk(item)
				}
			}
		}
		walk(d)
	})
}

// allocated returns the bytes allocated while fn ran.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestParseDataLarge decodes 2 MB documents of every shape that costs a
// decoder most (deep nesting, long keys, many small values, long strings):
// each decodes, or is refused, within 100 MB.
func TestParseDataLarge(t *testing.T) {
	const size = 2 << 20
	const budget = 100 << 20
	repeat := func(prefix, item, suffix string) string {
		return prefix + strings.Repeat(item, (size-len(prefix)-len(suffix))/len(item)) + suffix
	}
	longKey := strings.Repeat("k", 2000)
	var manyKeys strings.Builder
	manyKeys.WriteString("{")
	for i := 0; manyKeys.Len() < size-30; i++ {
		if i > 0 {
			manyKeys.WriteString(",")
		}
		manyKeys.WriteString(`"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i))
	}
	manyKeys.WriteString("}")
	for _, tc := range []struct {
		name    string
		doc     string
		wantErr error
	}{
		{"keys of 2,000 characters nested 1,000 deep", strings.Repeat(`{"`+longKey+`":`, 1000) + "1" + strings.Repeat("}", 1000), nil},
		{"the same with a number out of range at the bottom", strings.Repeat(`{"`+longKey+`":`, 1000) + "1e999" + strings.Repeat("}", 1000), ErrInvalidData},
		{"arrays nested as deep as the decoder allows", `{"a":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + "}", nil},
		{"arrays nested deeper", repeat(`{"a":`, "[", "}"), ErrInvalidData},
		{"many small keys", manyKeys.String(), nil},
		{"an array of zeros", repeat(`{"a":[`, "0,", "0]}"), ErrInvalidData},
		{"an array of empty objects", repeat(`{"a":[`, "{},", "{}]}"), ErrInvalidData},
		{"an array of large numbers", repeat(`{"a":[`, "123456789012345678901234567890,", "1]}"), nil},
		{"a long string", repeat(`{"a":"`, "x", `"}`), nil},
		{"a long string of escapes", repeat(`{"a":"`, `\u00e9`, `"}`), nil},
		{"an array that never ends", repeat(`{"a":[`, "0,", ""), ErrInvalidData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			alloc := allocated(func() { _, err = ParseData([]byte(tc.doc)) })
			assert.Less(t, alloc, uint64(budget), "allocated for %d bytes", len(tc.doc))
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Less(t, len(err.Error()), 500, "the error is readable")
				return
			}
			require.NoError(t, err)
		})
	}
}
