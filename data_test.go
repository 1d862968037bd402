package webhook

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseData(t *testing.T) {
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
		d, err := ParseData(doc)
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
