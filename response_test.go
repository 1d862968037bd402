package webhook

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTypedValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"42", int64(42)},
		{"-7", int64(-7)},
		{"0", int64(0)},
		{"1.5", 1.5},
		{"-0.25", -0.25},
		{"true", true},
		{"false", false},
		{`{"a":1,"b":[true,"x"]}`, map[string]any{"a": int64(1), "b": []any{true, "x"}}},
		{`[1,2.5,"3"]`, []any{int64(1), 2.5, "3"}},
		{`{"big":123456789012345678901234}`, map[string]any{"big": json.Number("123456789012345678901234")}},
		// Kept as text: the typed value would lose something.
		{"0123", "0123"},
		{"00", "00"},
		{"-0", "-0"},
		{"1.50", "1.50"},
		{"1e3", "1e3"},
		{"123456789012345678901234", "123456789012345678901234"},
		{"9007199254740993", int64(9007199254740993)},
		{" 42", " 42"},
		{"42\n", "42\n"},
		{"True", "True"},
		{"null", "null"},
		{`"quoted"`, `"quoted"`},
		{"", ""},
		{"lead_42", "lead_42"},
		{"{not json}", "{not json}"},
		{`{"a":1} trailing`, `{"a":1} trailing`},
		{"[1,2", "[1,2"},
		{"NaN", "NaN"},
		{"Infinity", "Infinity"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, typedValue(tc.in))
		})
	}
}

// FuzzTypedValue checks that a typed value never loses information: a
// scalar encodes back to exactly the rendered text, and an object or array
// to JSON equal to it.
func FuzzTypedValue(f *testing.F) {
	for _, s := range []string{"42", "0123", "1.50", "true", `{"a":[1,2.5]}`, "1e400", "-0", "[]", "0.1", "9007199254740993"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := typedValue(s)
		if str, ok := v.(string); ok {
			if str != s {
				t.Fatalf("typedValue(%q) = %q", s, str)
			}
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("typedValue(%q) = %#v: %v", s, v, err)
		}
		switch v.(type) {
		case map[string]any, []any:
			var compact bytes.Buffer
			require.NoError(t, json.Compact(&compact, []byte(s)))
			again := typedValue(string(b))
			assert.Equal(t, v, again, "round trip of %q", s)
		default:
			if string(b) != s {
				t.Fatalf("typedValue(%q) = %#v, which encodes as %s", s, v, b)
			}
		}
	})
}

func TestParseResponseBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want any
	}{
		{"object", `{"id": "lead_1", "n": 3, "f": 2.5, "big": 123456789012345678901234}`,
			map[string]any{"id": "lead_1", "n": 3, "f": 2.5, "big": "123456789012345678901234"}},
		{"array", `[1, "a"]`, []any{1, "a"}},
		{"number", ` 17 `, 17},
		{"text", `OK, created`, "OK, created"},
		{"two values", `{} {}`, "{} {}"},
		{"empty", ``, ""},
		{"broken JSON", `{"id":`, `{"id":`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, parseResponseBody([]byte(tc.body)))
		})
	}
}

func response(body []byte, contentLength int64, encoding string) *http.Response {
	h := http.Header{}
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
	}
	return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: contentLength}
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestReadBody(t *testing.T) {
	const limit = 10240
	at := bytes.Repeat([]byte("a"), limit)
	over := bytes.Repeat([]byte("a"), limit+1)
	for _, tc := range []struct {
		name    string
		resp    *http.Response
		want    []byte
		wantErr error
	}{
		{"at the cap", response(at, limit, ""), at, nil},
		{"at the cap, length unknown", response(at, -1, ""), at, nil},
		{"over the cap", response(over, limit+1, ""), nil, ErrResponseTooLarge},
		{"over the cap, length unknown", response(over, -1, ""), nil, ErrResponseTooLarge},
		{"declared larger", response([]byte("a"), 1<<40, ""), nil, ErrResponseTooLarge},
		{"gzip at the cap", response(gz(t, at), -1, "gzip"), at, nil},
		{"gzip over the cap", response(gz(t, over), -1, "gzip"), nil, ErrResponseTooLarge},
		{"x-gzip", response(gz(t, []byte("hi")), -1, "x-gzip"), []byte("hi"), nil},
		{"empty", response(nil, 0, ""), []byte{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readResponseBody(tc.resp, limit)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("broken gzip", func(t *testing.T) {
		_, err := readResponseBody(response([]byte("not gzip"), -1, "gzip"), limit)
		require.Error(t, err)
		assert.False(t, errors.Is(err, ErrResponseTooLarge))
	})
}

// TestReadBodyGzipBomb reads a gzip stream that decompresses to a gibibyte
// and checks that reading allocates about the cap, not the decompressed
// size.
func TestReadBodyGzipBomb(t *testing.T) {
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	bomb := bytes.Repeat(member.Bytes(), 1024)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readResponseBody(response(bomb, int64(len(bomb)), "gzip"), DefaultMaxResponseBytes)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrResponseTooLarge)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated reading a 1 GiB bomb")
}

func TestMapResponse(t *testing.T) {
	action, err := Compile(Spec{
		URL:  "https://api.example.com/leads",
		Body: `{}`,
		Response: map[string]string{
			"lead_id": "{{ response.id }}",
			"count":   "{{ response.count | plus: 1 }}",
			"zip":     "{{ response.zip }}",
			"from":    "{{ customer.email }}",
		},
	})
	require.NoError(t, err)
	data := map[string]any{"customer": map[string]any{"email": "ada@example.com"}}
	attrs, err := action.Mapper(data).MapResponse(&Response{Status: 200, Body: []byte(`{"id":"lead_9","count":41,"zip":"02134"}`)})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"lead_id": "lead_9", "count": int64(42), "zip": "02134", "from": "ada@example.com"}, attrs)

	loop, err := Compile(Spec{URL: "https://api.example.com/", Body: `{}`,
		Response: map[string]string{"seq": "{% for i in (1..response.count) %}{{ i }}{% endfor %}"}})
	require.NoError(t, err)
	attrs, err = loop.Mapper(nil).MapResponse(&Response{Status: 200, Body: []byte(`{"count": 3}`)})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"seq": int64(123)}, attrs, "a response number bounds a range")

	text, err := Compile(Spec{URL: "https://api.example.com/", Body: `{}`, Response: map[string]string{"echo": "{{ response }}"}})
	require.NoError(t, err)
	attrs, err = text.Mapper(nil).MapResponse(&Response{Status: 200, Body: []byte("created 0123")})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"echo": "created 0123"}, attrs, "a non-JSON body is a string")

	none, err := Compile(Spec{URL: "https://api.example.com/", Body: `{}`})
	require.NoError(t, err)
	attrs, err = none.Mapper(data).MapResponse(&Response{Status: 200, Body: []byte(`{"id":1}`)})
	require.NoError(t, err)
	assert.Nil(t, attrs, "an action without response templates maps nothing")

	attrs, err = action.Mapper(data).MapResponse(nil)
	require.NoError(t, err)
	assert.Nil(t, attrs, "no response maps nothing")
}

func TestIsGzip(t *testing.T) {
	for in, want := range map[string]bool{"gzip": true, "GZIP": true, " x-gzip ": true, "br": false, "": false, "gzip, br": false} {
		assert.Equal(t, want, isGzip(in), strings.TrimSpace(in))
	}
}

// FuzzParseResponseBody: any body a receiver sends is either parsed JSON or
// kept as the same string, never a panic.
func FuzzParseResponseBody(f *testing.F) {
	for _, s := range []string{`{"id": 1}`, `[1, "a", {"b": 1e400}]`, `text`, ``, `{"a":`, `  7  `, `{"n": 123456789012345678901234}`, `{} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v := parseResponseBody(body)
		if s, ok := v.(string); ok {
			// Text other than the body itself comes only from JSON: a
			// string, or a number kept as its text.
			if s != string(body) && !json.Valid(body) {
				t.Fatalf("parseResponseBody(%q) = %q from invalid JSON", body, s)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("parseResponseBody(%q) = %#v from invalid JSON", body, v)
		}
	})
}

// TestDecodeJSONNumbers: a document is one JSON value, decoded as
// encoding/json decodes it, with every number replaced; anything before
// or after the value makes it no document.
func TestDecodeJSONNumbers(t *testing.T) {
	double := func(n json.Number) any { return "n" + string(n) }
	for _, tc := range []struct {
		name, doc string
		want      any
		ok        bool
	}{
		{"object", `{"id": "lead_1", "n": 42, "ok": true, "nil": null}`, map[string]any{"id": "lead_1", "n": "n42", "ok": true, "nil": nil}, true},
		{"nested", ` [ {"a": [[], {}, [1, [2.5e3]]]} ] `, []any{map[string]any{"a": []any{[]any{}, map[string]any{}, []any{"n1", []any{"n2.5e3"}}}}}, true},
		{"repeated key keeps the last", `{"a": 1, "a": {"b": 2}}`, map[string]any{"a": map[string]any{"b": "n2"}}, true},
		{"scalar", `  "text"  `, "text", true},
		{"number", `7`, "n7", true},
		{"invalid UTF-8 becomes U+FFFD", "\"a\xffb\"", "a\ufffdb", true},
		{"lone surrogate becomes U+FFFD", `"a\uD800b"`, "a\ufffdb", true},
		{"invalid", `{"a":`, nil, false},
		{"trailing value", `{} {}`, nil, false},
		{"trailing bracket", `{} ]`, nil, false},
		{"trailing text", `1 x`, nil, false},
		{"empty", ``, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := decodeJSONNumbers([]byte(tc.doc), double)
			require.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}
