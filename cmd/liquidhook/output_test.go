package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeJSON(&b, map[string]string{"body": `{"a": "<b> & </b>"}`}))
	assert.Equal(t, "{\n  \"body\": \"{\\\"a\\\": \\\"<b> & </b>\\\"}\"\n}\n", b.String(), "indented, with <, > and & as they are")
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "abc", 3, "abc"},
		{"cut", "abcdef", 3, "abc…"},
		{"cut before a character, not inside it", "ab€d", 4, "ab…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := truncate(tc.in, tc.n)
			assert.Equal(t, tc.want, got)
			assert.True(t, utf8.ValidString(got))
		})
	}
}

func TestQuoted(t *testing.T) {
	assert.Equal(t, `"extra"`, quoted("extra"))
	assert.Equal(t, `"postgres://db.example/app"`, quoted("postgres://user:hunter2@db.example/app"))
	assert.Equal(t, `"`+strings.Repeat("x", 40)+`…"`, quoted(strings.Repeat("x", 41)))
}

func TestFlatHeader(t *testing.T) {
	h := http.Header{"Accept": {"text/plain", "application/json"}, "X-Team": {"growth"}}
	assert.Equal(t, map[string]string{"Accept": "text/plain, application/json", "X-Team": "growth"}, flatHeader(h))
	assert.NotNil(t, flatHeader(nil), "an empty object, not null, in JSON")
}

func TestWithoutUserinfo(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a flag's value", `invalid value "postgres://user:hunter2@db.example/app" for flag -limit`, `invalid value "postgres://db.example/app" for flag -limit`},
		{"a file name", "postgres://user:p@ss@db.example/app: cannot read", "postgres://db.example/app: cannot read"},
		{"a key as the user", "GET https://KEY@api.close.com/api/v1/lead/", "GET https://api.close.com/api/v1/lead/"},
		{"two URLs", "a https://u:p@x.example and http://k@y.example", "a https://x.example and http://y.example"},
		{"an email address in a query is not userinfo", "POST https://x.example/a?email=me@example.com", "POST https://x.example/a?email=me@example.com"},
		{"an email address alone", "missing variable for me@example.com", "missing variable for me@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, withoutUserinfo(tc.in))
		})
	}
}
