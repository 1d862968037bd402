package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckBody(t *testing.T) {
	cases := []struct {
		name        string
		method      string
		contentType string
		body        string
		nilBody     bool
		wantErr     error
		line, col   int
		snippet     string
		errHas      string
	}{
		{name: "JSON", method: "POST", contentType: "application/json", body: `{"a": [1, "x"]}`},
		{name: "JSON with a charset", method: "POST", contentType: "application/json; charset=utf-8", body: `[]`},
		{name: "vendor JSON", method: "POST", contentType: "application/vnd.api+json", body: `{"a":`, wantErr: ErrInvalidBody, line: 1, col: 6},
		{name: "JSON error on line 3", method: "POST", contentType: "application/json", body: "{\n  \"a\": 1,\n  \"b\": \"x\" \"c\"\n}", wantErr: ErrInvalidBody, line: 3, col: 12, snippet: `"b": "x" "c"`, errHas: "at line 3, column 12: invalid character"},
		{name: "column counts characters", method: "POST", contentType: "application/json", body: `{"ü": "é" x}`, wantErr: ErrInvalidBody, line: 1, col: 11},
		{name: "a long line is cut around the error", method: "POST", contentType: "application/json", body: `{"a": "` + strings.Repeat("x", 100) + `" oops ` + strings.Repeat("y", 100) + `}`, wantErr: ErrInvalidBody, line: 1, col: 110, snippet: "…" + strings.Repeat("x", 28) + "\" oops " + strings.Repeat("y", 25) + "…"},
		{name: "truncated JSON", method: "PUT", contentType: "application/json", body: "{\"a\": ", wantErr: ErrInvalidBody, errHas: "unexpected end"},
		{name: "trailing data", method: "POST", contentType: "application/json", body: "{} {}", wantErr: ErrInvalidBody, line: 1, col: 4},
		{name: "empty JSON for POST", method: "POST", contentType: "application/json", body: " \n", wantErr: ErrInvalidBody, errHas: "empty body is not JSON"},
		{name: "empty JSON for PATCH", method: "PATCH", contentType: "application/json", body: "", wantErr: ErrInvalidBody},
		{name: "no body at all", method: "POST", contentType: "application/json", nilBody: true},
		{name: "empty JSON for GET", method: "GET", contentType: "application/json", body: ""},
		{name: "empty JSON for DELETE", method: "DELETE", contentType: "application/json", body: "  "},
		{name: "GET may still carry a JSON body", method: "GET", contentType: "application/json", body: "{x", wantErr: ErrInvalidBody},
		{name: "form", method: "POST", contentType: "application/x-www-form-urlencoded", body: "id=1&email=win%40customer.io&custom_attribute=value"},
		{name: "form with a space and an empty pair", method: "POST", contentType: "application/x-www-form-urlencoded", body: "a=b c&&d"},
		{name: "form with a semicolon", method: "POST", contentType: "application/x-www-form-urlencoded", body: "a=1;b=2", wantErr: ErrInvalidBody, line: 1, col: 4, errHas: "semicolons"},
		{name: "form with a bad escape", method: "POST", contentType: "application/x-www-form-urlencoded", body: "a=1&\nb=5%", wantErr: ErrInvalidBody, line: 2, col: 4, errHas: `malformed percent-escape "%"`},
		{name: "empty form", method: "POST", contentType: "application/x-www-form-urlencoded", body: ""},
		{name: "text is sent as rendered", method: "POST", contentType: "text/plain", body: "{not json"},
		{name: "XML is sent as rendered", method: "POST", contentType: "text/xml", body: "<a>"},
		{name: "empty text", method: "POST", contentType: "text/plain", body: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			if tc.nilBody {
				body = nil
			}
			err := checkBody(tc.method, tc.contentType, body)
			if tc.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.wantErr)
			var be *BodyError
			require.ErrorAs(t, err, &be)
			assert.Equal(t, tc.contentType, be.ContentType)
			if tc.line > 0 {
				assert.Equal(t, tc.line, be.Line, "%v", err)
				assert.Equal(t, tc.col, be.Column, "%v", err)
			}
			if tc.snippet != "" {
				assert.Equal(t, tc.snippet, be.Snippet)
			}
			assert.Contains(t, err.Error(), tc.errHas)
			assert.True(t, utf8.ValidString(be.Snippet))
		})
	}
}

func FuzzCheckJSON(f *testing.F) {
	for _, in := range []string{`{"a": 1}`, "{\n\"a\": }", `[1, 2,]`, "\"\xff\"", `{"a": "é"} x`, "", " ", "\n\n{", `{"a":"` + strings.Repeat("x", 70) + `"`} {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := checkBody(http.MethodPost, contentTypeJSON, body)
		if len(bytes.TrimSpace(body)) == 0 {
			assert.ErrorIs(t, err, ErrInvalidBody)
			return
		}
		if json.Valid(body) {
			assert.NoError(t, err)
			return
		}
		var be *BodyError
		require.ErrorAs(t, err, &be)
		if be.Line > 0 {
			assert.LessOrEqual(t, be.Line, bytes.Count(body, []byte("\n"))+1)
			assert.GreaterOrEqual(t, be.Column, 1)
			assert.True(t, utf8.ValidString(be.Snippet) || !utf8.Valid(body))
			assert.LessOrEqual(t, utf8.RuneCountInString(be.Snippet), 68)
		}
	})
}

func FuzzCheckForm(f *testing.F) {
	for _, in := range []string{"a=1&b=2", "a=%zz", "a;b", "=&=", "%", "a=1&\nb=%4", "k=v%2"} {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, body string) {
		err := checkBody(http.MethodPost, contentTypeForm, []byte(body))
		_, perr := url.ParseQuery(body)
		if perr == nil {
			assert.NoError(t, err)
			return
		}
		var be *BodyError
		require.ErrorAs(t, err, &be, "ParseQuery fails with %v", perr)
		assert.GreaterOrEqual(t, be.Line, 1)
		assert.GreaterOrEqual(t, be.Column, 1)
	})
}

func TestBodyErrorKeepsTheParserError(t *testing.T) {
	err := checkBody(http.MethodPost, contentTypeJSON, []byte(`{"a" 1}`))
	var se *json.SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, int64(6), se.Offset)
}

// floorBody is the body BenchmarkSend's Close lead action renders.
var floorBody = []byte(`{
  "name": "Analytical Engines Ltd",
  "url": "https://engines.example",
  "description": "Builds difference engines.",
  "contacts": [
    {
      "name": "Ada Lovelace",
      "title": "CTO",
      "emails": [{"type": "office", "email": "ada@engines.example"}],
      "phones": [{"type": "office", "phone": "+44 20 7946 0000"}]
    }
  ],
  "custom": {
    "Source": "signup"
  },
  "addresses": ["12 St James's Square, London"]
}`)
