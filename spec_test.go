package webhook

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSpec(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		want    Spec
		wantErr error
		field   string
		line    int
		column  int
		errHas  string
	}{
		{name: "the design's example", doc: `{
  "method": "POST",
  "url": "https://user:pass@api.example.com/v1/leads?src={{ event.name | url_encode }}",
  "headers": {"Content-Type": "application/json", "X-Team": "{{ customer.team }}"},
  "body": "{\"email\": {{ customer.email | json }}}",
  "response": {"lead_id": "{{ response.id }}"},
  "sending": "automatic"
}`, want: Spec{
			Method:   "POST",
			URL:      "https://user:pass@api.example.com/v1/leads?src={{ event.name | url_encode }}",
			Headers:  map[string]string{"Content-Type": "application/json", "X-Team": "{{ customer.team }}"},
			Body:     `{"email": {{ customer.email | json }}}`,
			Response: map[string]string{"lead_id": "{{ response.id }}"},
			Sending:  SendingAutomatic,
		}},
		{name: "just a URL", doc: `{"url": "https://x.example"}`, want: Spec{URL: "https://x.example"}},
		{name: "nulls are absent", doc: `{"url": "https://x.example", "headers": null, "body": null}`, want: Spec{URL: "https://x.example"}},
		{name: "unknown field", doc: "{\n  \"url\": \"https://x.example\",\n  \"bdy\": \"{}\"\n}", wantErr: ErrInvalidSpec, line: 3, column: 3, errHas: `unknown field "bdy" (did you mean "body"?)`},
		{name: "fields are case-sensitive", doc: `{"URL": "https://x.example"}`, wantErr: ErrInvalidSpec, line: 1, column: 2, errHas: `did you mean "url"`},
		{name: "a field twice", doc: "{\"url\": \"a\",\n\"url\": \"b\"}", wantErr: ErrInvalidSpec, field: "url", line: 2, column: 1, errHas: "appears twice"},
		{name: "a header twice", doc: `{"url": "a", "headers": {"X": "1", "X": "2"}}`, wantErr: ErrInvalidSpec, field: "headers.X", errHas: "appears twice"},
		{name: "a number for a string", doc: "{\n\"url\": 5}", wantErr: ErrInvalidSpec, field: "url", line: 2, column: 8, errHas: "want a string, got a number"},
		{name: "a header that is not a string", doc: "{\"url\": \"a\",\n \"headers\": {\"X-Count\": 3}}", wantErr: ErrInvalidSpec, field: "headers.X-Count", line: 2, column: 25},
		{name: "headers not an object", doc: `{"url": "a", "headers": ["X"]}`, wantErr: ErrInvalidSpec, field: "headers", errHas: "want an object of strings, got an array"},
		{name: "bad method", doc: `{"url": "a", "method": "FETCH"}`, wantErr: ErrInvalidSpec, field: "method", line: 1, column: 24, errHas: "invalid method"},
		{name: "bad sending", doc: `{"url": "a", "sending": "now"}`, wantErr: ErrInvalidSpec, field: "sending", errHas: `"now": want "draft" or "automatic"`},
		{name: "not an object", doc: `["url"]`, wantErr: ErrInvalidSpec, line: 1, column: 1, errHas: "JSON object"},
		{name: "syntax error", doc: "{\n  \"url\": \"a\"\n  \"body\": \"b\"\n}", wantErr: ErrInvalidSpec, line: 3, column: 3},
		{name: "trailing text", doc: `{"url": "a"} x`, wantErr: ErrInvalidSpec, line: 1, column: 14, errHas: "after the spec"},
		{name: "truncated", doc: `{"url": "a"`, wantErr: ErrInvalidSpec, errHas: "unexpected end"},
		{name: "empty", doc: ``, wantErr: ErrInvalidSpec},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSpec([]byte(tc.doc))
			if tc.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.wantErr)
			assert.NotErrorIs(t, err, ErrInvalidData)
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.field, pe.Field)
			if tc.line > 0 {
				assert.Equal(t, tc.line, pe.Line, "%v", err)
				assert.Equal(t, tc.column, pe.Column, "%v", err)
			}
			assert.Contains(t, err.Error(), tc.errHas)
		})
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, in := range []string{
		`{"url": "https://x.example", "headers": {"A": "b"}, "response": {"r": "{{ response.id }}"}, "sending": "draft"}`,
		`{"method": "get", "url": "", "body": null}`,
		`{"url": "a", "url": "b"}`,
		`{"headers": {"x": 1}}`,
		`[]`, `{`, `{"a": }`, `{} {}`, `"x"`, ``,
	} {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		spec, err := ParseSpec(doc)
		if err != nil {
			var pe *ParseError
			if !assert.ErrorAs(t, err, &pe) || !assert.ErrorIs(t, err, ErrInvalidSpec) {
				return
			}
			assert.GreaterOrEqual(t, pe.Line, 0)
			assert.LessOrEqual(t, pe.Line, bytes.Count(doc, []byte("\n"))+1)
			return
		}
		// What ParseSpec accepts is a JSON object that encoding/json reads
		// the same way.
		var back Spec
		require.NoError(t, json.Unmarshal(doc, &back))
		assert.Equal(t, spec.URL, back.URL)
		assert.Equal(t, spec.Body, back.Body)
	})
}
