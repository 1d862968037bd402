package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizeMethod(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"", "POST", nil},
		{"get", "GET", nil},
		{" Put ", "PUT", nil},
		{"DELETE", "DELETE", nil},
		{"patch", "PATCH", nil},
		{"POST", "POST", nil},
		{"HEAD", "", ErrInvalidMethod},
		{"OPTIONS", "", ErrInvalidMethod},
		{"GET\r\nX: y", "", ErrInvalidMethod},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := normalizeMethod(tc.in)
			assert.ErrorIs(t, err, tc.wantErr)
			assert.Equal(t, tc.want, got)
		})
	}
}

func basic(userpass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userpass))
}

func TestParseURL(t *testing.T) {
	cases := []struct {
		name     string
		raw      string
		want     string
		wantAuth string
		wantErr  error
		errHas   string
		errNot   string // besides hunter2
	}{
		{name: "plain", raw: "https://api.example.com/v1/x?a=1", want: "https://api.example.com/v1/x?a=1"},
		{name: "http and a port", raw: " http://localhost:8080/hook ", want: "http://localhost:8080/hook"},
		{name: "user and password", raw: "https://user:pass@api.example.com/", want: "https://api.example.com/", wantAuth: basic("user:pass")},
		{name: "API key as user with empty password (Lob, Help Scout)", raw: "https://test_KEY:@api.lob.com/v1/postcards", want: "https://api.lob.com/v1/postcards", wantAuth: basic("test_KEY:")},
		{name: "API key as user (Close)", raw: "https://KEY@api.close.com/api/v1/lead/", want: "https://api.close.com/api/v1/lead/", wantAuth: basic("KEY:")},
		{name: "percent-encoded user and password", raw: "https://me%40example.com%2Ftoken:p%3Ass%20w@x.zendesk.com/api", want: "https://x.zendesk.com/api", wantAuth: basic("me@example.com/token:p:ss w")},
		{name: "an email address written as is", raw: "https://me@example.com:secret@x.zendesk.com/api", want: "https://x.zendesk.com/api", wantAuth: basic("me@example.com:secret")},
		{name: "an @ in the query is not userinfo", raw: "https://x.example/a?email=me@example.com", want: "https://x.example/a?email=me@example.com"},
		{name: "spaces and quotes in the query are encoded", raw: `https://x.example/a?q=two words&n="x"`, want: "https://x.example/a?q=two%20words&n=%22x%22"},
		{name: "valid escapes are kept", raw: "https://x.example/a?q=a%20b%2Bc&r=é", want: "https://x.example/a?q=a%20b%2Bc&r=%C3%A9"},
		{name: "the fragment is dropped", raw: "https://x.example/a#section", want: "https://x.example/a"},
		{name: "scheme in capitals", raw: "HTTPS://x.example/", want: "https://x.example/"},
		{name: "empty", raw: "  ", wantErr: ErrInvalidURL, errHas: "empty"},
		{name: "no scheme", raw: "api.example.com/x", wantErr: ErrInvalidURL, errHas: "http or https"},
		{name: "ftp", raw: "ftp://x.example/", wantErr: ErrInvalidURL, errHas: "http or https"},
		{name: "javascript", raw: "javascript:alert(1)", wantErr: ErrInvalidURL},
		{name: "no host", raw: "https:///path", wantErr: ErrInvalidURL, errHas: "no host"},
		{name: "only a port", raw: "http://:80/", wantErr: ErrInvalidURL, errHas: "no host"},
		{name: "a control character", raw: "https://x.example/a\nb", wantErr: ErrInvalidURL},
		{name: "a bad escape in the password is not shown", raw: "https://user:hunter2%zz@x.example/", wantErr: ErrInvalidURL, errHas: "not shown"},
		{name: "a control character in the user", raw: "https://us%0Aer:pw@x.example/", wantErr: ErrInvalidURL, errHas: "not shown"},
		{name: "a bad host next to credentials", raw: "https://user:hunter2@exa mple.com/", wantErr: ErrInvalidURL},
		{name: "a bad port next to credentials", raw: "https://user:hunter2@x.example:port/", wantErr: ErrInvalidURL, errHas: "port"},
		{name: "an unencoded # in the password", raw: "https://user:hunter2#x@x.example/", wantErr: ErrInvalidURL, errHas: "invalid URL: invalid port"},
		{name: "an unencoded / in the password", raw: "https://user:hunter2/x@x.example/", wantErr: ErrInvalidURL, errHas: "invalid URL: invalid port"},
		{name: "an unencoded ? in the password", raw: "https://user:hunter2?@x.example/", wantErr: ErrInvalidURL, errHas: "invalid URL: invalid port"},
		{name: "a bad escape after a split password", raw: "https://user:123/hunter2%zz@x.example/", wantErr: ErrInvalidURL, errHas: "invalid URL: invalid percent-encoding"},
		{name: "a port out of range", raw: "https://user:hunter2@x.example:65536/", wantErr: ErrInvalidURL, errHas: "port out of range: want 1 to 65535"},
		{name: "a split password read as a port", raw: "https://user:99999#x@x.example/", wantErr: ErrInvalidURL, errHas: "port out of range", errNot: "99999"},
		{name: "port zero", raw: "http://x.example:0/", wantErr: ErrInvalidURL, errHas: "port out of range: want 1 to 65535"},
		{name: "the highest port", raw: "http://x.example:65535/", want: "http://x.example:65535/"},
		{name: "an empty port", raw: "http://x.example:/a", want: "http://x.example:/a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, auth, err := parseURL(tc.raw)
			if tc.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.wantErr)
				assert.Contains(t, err.Error(), tc.errHas)
				assert.NotContains(t, err.Error(), "hunter2")
				if tc.errNot != "" {
					assert.NotContains(t, err.Error(), tc.errNot)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantAuth, auth)
			_, err = url.Parse(got)
			assert.NoError(t, err)
		})
	}
}

func TestCheckHeader(t *testing.T) {
	cases := []struct {
		name    string
		header  string
		value   string
		wantErr error
		errHas  string
	}{
		{name: "ordinary", header: "X-Team", value: "blue green"},
		{name: "tab and non-ASCII are allowed", header: "X-Name", value: "Zoë\tM"},
		{name: "empty value", header: "X-Empty", value: ""},
		{name: "CR", header: "X-A", value: "a\rb", wantErr: ErrInvalidHeader, errHas: "(CR) at byte 1"},
		{name: "LF", header: "X-A", value: "a\nInjected: 1", wantErr: ErrInvalidHeader, errHas: "(LF)"},
		{name: "NUL", header: "X-A", value: "a\x00", wantErr: ErrInvalidHeader, errHas: "(NUL)"},
		{name: "DEL", header: "X-A", value: "\x7f", wantErr: ErrInvalidHeader, errHas: "0x7f"},
		{name: "other control", header: "X-A", value: "\x1b[31m", wantErr: ErrInvalidHeader, errHas: "0x1b"},
		{name: "space in the name", header: "X A", value: "v", wantErr: ErrInvalidHeader, errHas: "not allowed"},
		{name: "colon in the name", header: "X-A:", value: "v", wantErr: ErrInvalidHeader},
		{name: "empty name", header: "", value: "v", wantErr: ErrInvalidHeader, errHas: "empty name"},
		{name: "the value is not quoted", header: "Authorization", value: "Bearer hunter2\n", wantErr: ErrInvalidHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkHeader(tc.header, tc.value)
			if tc.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.wantErr)
			assert.Contains(t, err.Error(), tc.errHas)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestNormalizeContentType(t *testing.T) {
	cases := map[string]string{
		"":                                     "application/json",
		"  ":                                   "application/json",
		"x-www-form-urlencoded":                "application/x-www-form-urlencoded",
		"X-WWW-Form-Urlencoded; charset=utf-8": "application/x-www-form-urlencoded; charset=utf-8",
		"text/plain":                           "text/plain",
		"application/json; charset=utf-8":      "application/json; charset=utf-8",
		"not a ; valid type":                   "not a ; valid type",
	}
	for in, want := range cases {
		t.Run(in, func(t *testing.T) {
			assert.Equal(t, want, normalizeContentType(in))
		})
	}
}

func TestRequestBuilder(t *testing.T) {
	t.Run("JSON without HTML escaping", func(t *testing.T) {
		r, err := NewRequest("post", "https://user:pw@api.example.com/x").
			Header("X-Team", "blue").
			JSON(map[string]any{"html": "<b>&</b>", "n": 1}).
			Build()
		require.NoError(t, err)
		assert.Equal(t, "POST", r.Method)
		assert.Equal(t, "https://api.example.com/x", r.URL)
		assert.Equal(t, `{"html":"<b>&</b>","n":1}`, string(r.Body))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.Equal(t, basic("user:pw"), r.Header.Get("Authorization"))
		assert.Equal(t, "blue", r.Header.Get("X-Team"))
		assert.Regexp(t, uuidPattern, r.IdempotencyKey)
	})
	t.Run("form", func(t *testing.T) {
		r, err := NewRequest("PUT", "https://api.example.com/x").Form(url.Values{"a": {"1 2"}, "b": {"&"}}).IdempotencyKey("key-1").Build()
		require.NoError(t, err)
		assert.Equal(t, "a=1+2&b=%26", string(r.Body))
		assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
		assert.Equal(t, "key-1", r.IdempotencyKey)
	})
	t.Run("no body", func(t *testing.T) {
		r, err := NewRequest("POST", "https://api.example.com/ping").Build()
		require.NoError(t, err)
		assert.Nil(t, r.Body)
	})
	failures := []struct {
		name    string
		b       *RequestBuilder
		wantErr error
	}{
		{"bad method", NewRequest("TRACE", "https://x.example"), ErrInvalidMethod},
		{"bad URL", NewRequest("GET", "x.example"), ErrInvalidURL},
		{"bad header", NewRequest("GET", "https://x.example").Header("X", "a\nb"), ErrInvalidHeader},
		{"managed header", NewRequest("GET", "https://x.example").Header("Host", "evil.example"), ErrInvalidHeader},
		{"idempotency header set by hand", NewRequest("GET", "https://x.example").Header(HeaderIdempotencyKey, "k"), ErrInvalidHeader},
		{"credentials twice", NewRequest("GET", "https://u:p@x.example").Header("Authorization", "Bearer t"), ErrInvalidURL},
		{"bad JSON body", NewRequest("POST", "https://x.example").Body("application/json", []byte("{")), ErrInvalidBody},
		{"unencodable JSON", NewRequest("POST", "https://x.example").JSON(func() {}), ErrInvalidBody},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.b.Build()
			assert.Nil(t, r)
			assert.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestRequestString(t *testing.T) {
	r, err := NewRequest("POST", "https://user:hunter2@api.example.com/x?token=abc&page=2").
		Header("X-Api-Key", "k3y").
		Header("X-Team", "blue").
		Header("X-Shopify-Hmac-Sha256", "c2ln").
		Header("X-Jwt-Assertion", "eyJ").
		Body("text/plain", []byte("hello")).
		Build()
	require.NoError(t, err)
	s := r.String()
	assert.Equal(t, "POST https://api.example.com/x?page=2&token=REDACTED (5 bytes)", s)
	h := r.RedactedHeader()
	assert.Equal(t, "REDACTED", h.Get("Authorization"))
	assert.Equal(t, "REDACTED", h.Get("X-Api-Key"))
	assert.Equal(t, "REDACTED", h.Get("X-Shopify-Hmac-Sha256"))
	assert.Equal(t, "REDACTED", h.Get("X-Jwt-Assertion"))
	assert.Equal(t, "blue", h.Get("X-Team"))
	assert.NotEqual(t, "REDACTED", r.Header.Get("Authorization"), "RedactedHeader copies")
	assert.Equal(t, "<nil>", (*Request)(nil).String())
}

func TestNewHTTPRequest(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()

	r, err := NewRequest("POST", strings.Replace(srv.URL, "http://", "http://user:pw@", 1)+"/hook?x=1").
		JSON(map[string]int{"a": 1}).
		IdempotencyKey("key-7").
		Build()
	require.NoError(t, err)
	hr, err := r.NewHTTPRequest(context.Background())
	require.NoError(t, err)
	require.NotNil(t, hr.GetBody, "the body can be read again for a retry")
	again, err := hr.GetBody()
	require.NoError(t, err)
	b, err := io.ReadAll(again)
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(b))

	resp, err := http.DefaultClient.Do(hr)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "/hook", got.URL.Path)
	assert.Equal(t, "key-7", got.Header.Get(HeaderIdempotencyKey))
	user, pass, ok := got.BasicAuth()
	assert.True(t, ok)
	assert.Equal(t, "user", user)
	assert.Equal(t, "pw", pass)
	assert.Equal(t, `{"a":1}`, string(gotBody))
	assert.Equal(t, int64(7), got.ContentLength)

	bad := []struct {
		name    string
		r       *Request
		wantErr error
	}{
		{"lowercase method is sent upper-cased, unknown refused", &Request{Method: "fetch", URL: "https://x.example"}, ErrInvalidMethod},
		{"credentials in URL", &Request{Method: "GET", URL: "https://u:p@x.example"}, ErrInvalidURL},
		{"relative URL", &Request{Method: "GET", URL: "/x"}, ErrInvalidURL},
		{"CRLF in a header", &Request{Method: "GET", URL: "https://x.example", Header: http.Header{"X": {"a\r\nb"}}}, ErrInvalidHeader},
		{"bad JSON body", &Request{Method: "POST", URL: "https://x.example", Body: []byte("{")}, ErrInvalidBody},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			hr, err := tc.r.NewHTTPRequest(context.Background())
			assert.Nil(t, hr)
			assert.ErrorIs(t, err, tc.wantErr)
		})
	}

	hand := &Request{Method: "get", URL: "https://x.example/a"}
	hr, err = hand.NewHTTPRequest(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "GET", hr.Method)
	assert.Empty(t, hr.Header.Get(HeaderIdempotencyKey))
}

func TestNewIdempotencyKey(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		k := NewIdempotencyKey()
		assert.Regexp(t, uuidPattern, k)
		assert.False(t, seen[k])
		seen[k] = true
	}
}

// FuzzParseURL checks that a URL's credentials never appear in an error,
// whatever surrounds them.
func FuzzParseURL(f *testing.F) {
	for _, in := range []struct{ user, pass, rest string }{
		{"user", "hunter2", "api.example.com/x"},
		{"KEY", "", "api.lob.com/v1"},
		{"me@example.com", "s3cr%zz", "x.zendesk.com"},
		{"u", "p", "exa mple.com"},
		{"u", "pp", "x.example:99999/"},
		{"user", "hunter2#x", "x.example/"},
		{"user", "hunter2/x", "x.example/"},
		{"user", "123/hunter2%zz", "x.example/"},
	} {
		f.Add(in.user, in.pass, in.rest)
	}
	f.Fuzz(func(t *testing.T, user, pass, rest string) {
		raw := "https://" + user + ":" + pass + "@" + rest
		clean, auth, err := parseURL(raw)
		if err != nil {
			// An unencoded /, ? or # ends the authority early, leaving the
			// pieces of a password where the parser quotes what it refuses.
			secrets := []string{user, pass}
			secrets = append(secrets, strings.FieldsFunc(pass, func(r rune) bool { return strings.ContainsRune("/?#@", r) })...)
			for _, secret := range secrets {
				if len(secret) >= 4 && !strings.Contains(rest, secret) && !strings.Contains("webhook: invalid URL", secret) {
					assert.NotContains(t, err.Error(), secret)
				}
			}
			return
		}
		assert.True(t, strings.HasPrefix(clean, "https://"))
		if auth != "" {
			assert.True(t, strings.HasPrefix(auth, "Basic "))
		}
		u, err := url.Parse(clean)
		require.NoError(t, err)
		assert.Nil(t, u.User)
	})
}

// The header of an attempt is a copy of the request's: changing the copy,
// even by appending to a value list, leaves the request alone, and the
// idempotency key replaces any value the header had for it. An empty
// Idempotency-Key entry tells net/http the request may be sent again on a
// new connection; it is not sent itself.
func TestNewHTTPRequestHeader(t *testing.T) {
	orig := http.Header{
		"Content-Type":          {"application/json"},
		"X-Multi":               {"a", "b"},
		"X-Empty":               nil,
		"X-Cio-Idempotency-Key": {"stale"},
	}
	r := &Request{Method: "POST", URL: "https://x.example/", Header: orig, IdempotencyKey: "key-1"}
	hr, err := r.NewHTTPRequest(context.Background())
	require.NoError(t, err)
	h := hr.Header
	assert.Equal(t, http.Header{
		"Content-Type":          {"application/json"},
		"X-Multi":               {"a", "b"},
		"X-Empty":               nil,
		"X-Cio-Idempotency-Key": {"key-1"},
		"Idempotency-Key":       nil,
	}, h)
	h["X-Multi"] = append(h["X-Multi"], "c")
	h.Add("Content-Type", "text/plain")
	h.Set("X-New", "v")
	assert.Equal(t, []string{"a", "b"}, orig["X-Multi"])
	assert.Equal(t, []string{"application/json"}, orig["Content-Type"])
	assert.Equal(t, []string{"stale"}, orig["X-Cio-Idempotency-Key"])
	assert.Equal(t, []string{"key-1"}, h["X-Cio-Idempotency-Key"], "appending to one value list leaves the next alone")
	assert.NotContains(t, orig, "X-New")

	var wire bytes.Buffer
	require.NoError(t, hr.Write(&wire))
	assert.NotContains(t, wire.String(), "\r\nIdempotency-Key:")

	for _, tc := range []struct {
		key  string
		want http.Header
	}{
		{"", http.Header{"Idempotency-Key": nil}},
		{"k", http.Header{"X-Cio-Idempotency-Key": {"k"}, "Idempotency-Key": nil}},
	} {
		hr, err := (&Request{Method: "GET", URL: "https://x.example/", IdempotencyKey: tc.key}).NewHTTPRequest(context.Background())
		require.NoError(t, err)
		assert.Equal(t, tc.want, hr.Header)
	}
}

// FuzzCheckedRequest: whatever Render and Build accept, a Sender accepts
// too: the check before sending agrees with the one that built the
// request.
func FuzzCheckedRequest(f *testing.F) {
	f.Add("POST", "https://user:pa%20ss@api.example.com/x?q=a b#frag", "application/json", []byte(`{"a": 1}`))
	f.Add("get", "http://[::1]:80/", "", []byte(nil))
	f.Add("PATCH", "https://x.example/%zz", "x-www-form-urlencoded; charset=utf-8", []byte("a=1&b=%20"))
	f.Add("PUT", "https://a%40b@x.example:/p", "text/plain", []byte{})
	f.Add("DELETE", "http://x.example?%", "application/json ", []byte(" "))
	f.Add("POST", "https://h/", "application/problem+json", []byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, method, rawURL, contentType string, body []byte) {
		r, err := newRequest(method, rawURL, http.Header{"Content-Type": {contentType}}, body)
		if err != nil {
			return
		}
		hr, err := r.NewHTTPRequest(context.Background())
		if err != nil || hr.Method != r.Method {
			t.Fatalf("built as %s %s, then refused before sending: %v", r.Method, r.URL, err)
		}
	})
}

// BenchmarkSendFloor is the work a delivery does beyond a plain POST that
// no implementation with the same guarantees can skip, at its cheapest and
// without any templating: a new idempotency key, checking the body is
// JSON, signing it, the attempt's deadline, and parsing the response. Set against the CPU a raw POST costs (BenchmarkSend), it
// bounds how close to raw throughput a delivery can come.
func BenchmarkSendFloor(b *testing.B) {
	response := []byte(`{"id":"lead_EQ9nP2yXk4","status_id":"stat_1"}`)
	signer := CIOSigner{Key: []byte("test-signing-secret")}
	h := make(http.Header)
	b.ReportAllocs()
	for b.Loop() {
		key := NewIdempotencyKey()
		if !json.Valid(floorBody) {
			b.Fatal("invalid")
		}
		if err := signer.SignHeader(h, key, 1614265384, floorBody); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
		if _, ok := parseResponseBody(response).(map[string]any); !ok {
			b.Fatal("invalid")
		}
		cancel()
		_ = ctx
	}
}
