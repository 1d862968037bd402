package webhook

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wireCase is a request to write both ways.
type wireCase struct {
	method, url string
	header      http.Header
	body        string
}

func (c wireCase) request(t testing.TB) *http.Request {
	var body *strings.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequest(c.method, c.url, body)
	} else {
		req, err = http.NewRequest(c.method, c.url, nil)
	}
	require.NoError(t, err)
	req.Header = c.header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	return req
}

// writeBoth writes c with writeRequest and with Request.Write.
func writeBoth(t testing.TB, c wireCase) (ours, theirs string, oursErr, theirsErr error) {
	var a, b bytes.Buffer
	wa, wb := bufio.NewWriter(&a), bufio.NewWriter(&b)
	oursErr = writeRequest(wa, c.request(t))
	wa.Flush()
	theirsErr = c.request(t).Write(wb)
	wb.Flush()
	return a.String(), b.String(), oursErr, theirsErr
}

// TestWriteRequest: writeRequest writes exactly what Request.Write writes,
// on its own path and on Request.Write's.
func TestWriteRequest(t *testing.T) {
	signed := http.Header{
		"Content-Type":          {"application/json"},
		"Authorization":         {"Basic dXNlcjpwYXNz"},
		"X-Cio-Idempotency-Key": {"d44116a4-57d5-45b2-b711-2fcd504fa0c6"},
		"X-Cio-Signature":       {strings.Repeat("ab", 32)},
		"X-Cio-Timestamp":       {"1614265384"},
	}
	for _, c := range []struct {
		name  string
		c     wireCase
		plain bool
	}{
		{"signed post", wireCase{"POST", "http://127.0.0.1:8080/api/v1/lead/?a=1&b=%20", signed, `{"name":"Acme"}`}, true},
		{"put https", wireCase{"PUT", "https://api.example.com/x", signed, "a=1"}, true},
		{"patch", wireCase{"PATCH", "http://example.com", nil, "x"}, true},
		{"get without body", wireCase{"GET", "http://example.com/p?q", signed, ""}, true},
		{"delete without body", wireCase{"DELETE", "http://example.com/p", nil, ""}, true},
		{"post without body", wireCase{"POST", "http://example.com/p", nil, ""}, true},
		{"ipv6", wireCase{"POST", "http://[2001:db8::1]:8443/p", nil, "x"}, true},
		{"escaped path", wireCase{"POST", "http://example.com/a%2Fb/c%20d", nil, "x"}, true},
		{"own user agent", wireCase{"POST", "http://example.com/", http.Header{"User-Agent": {"liquidhook/1"}}, "x"}, true},
		{"no user agent", wireCase{"POST", "http://example.com/", http.Header{"User-Agent": {""}}, "x"}, true},
		{"several values", wireCase{"POST", "http://example.com/", http.Header{"X-A": {"1", "2", ""}}, "x"}, true},
		{"lower-case name", wireCase{"POST", "http://example.com/", http.Header{"user-agent": {"x"}, "x-b": {"y"}}, "x"}, true},
		{"host header is not taken", wireCase{"POST", "http://example.com/", http.Header{"Host": {"other"}, "Content-Length": {"9"}}, "x"}, true},
		{"line break in a value", wireCase{"POST", "http://example.com/", http.Header{"X-A": {"a\r\nX-B: b"}}, "x"}, false},
		{"space around a value", wireCase{"POST", "http://example.com/", http.Header{"X-A": {" a "}}, "x"}, false},
		{"bad name", wireCase{"POST", "http://example.com/", http.Header{"X A": {"a"}}, "x"}, false},
		{"underscore host", wireCase{"POST", "http://a_b.example.com/", nil, "x"}, false},
		{"zone", wireCase{"POST", "http://[fe80::1%25eth0]/", nil, "x"}, false},
		{"other method", wireCase{"OPTIONS", "http://example.com/", nil, ""}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.plain, plainRequest(c.c.request(t)) && plainHeaders(c.c.request(t)))
			ours, theirs, oerr, terr := writeBoth(t, c.c)
			assert.Equal(t, terr, oerr)
			assert.Equal(t, theirs, ours)
		})
	}
}

// plainHeaders reports whether writeRequest writes req's header itself.
func plainHeaders(req *http.Request) bool {
	for name, values := range req.Header {
		if !plainHeader(name, values) {
			return false
		}
	}
	return true
}

// TestWriteRequestBodyLength: a body that does not match ContentLength is
// an error, as with Request.Write.
func TestWriteRequestBodyLength(t *testing.T) {
	for _, n := range []int64{3, 5} {
		req, err := http.NewRequest("POST", "http://example.com/", strings.NewReader("four"))
		require.NoError(t, err)
		req.ContentLength = n
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		assert.Error(t, writeRequest(w, req), "ContentLength %d", n)
	}
}

// FuzzWriteRequest: for any method, path, header and body, writeRequest
// writes what Request.Write writes, or fails where it fails.
func FuzzWriteRequest(f *testing.F) {
	f.Add("POST", "/api/v1/lead/?a=1", "X-Cio-Signature", "abc", "User-Agent", "ua", `{"a":1}`)
	f.Add("GET", "/", "Content-Type", "application/json", "X-A", "", "")
	f.Add("DELETE", "/a%2Fb", "x-lower", " padded ", "Host", "h", "body")
	f.Fuzz(func(t *testing.T, method, path, k1, v1, k2, v2, body string) {
		u := "http://example.com" + path
		if _, err := http.NewRequest(method, u, nil); err != nil {
			return
		}
		c := wireCase{method, u, http.Header{k1: {v1}, k2: {v2}}, body}
		ours, theirs, oerr, terr := writeBoth(t, c)
		if (oerr == nil) != (terr == nil) {
			t.Fatalf("errors differ: %v, %v", oerr, terr)
		}
		if oerr == nil && ours != theirs {
			t.Fatalf("wrote\n%q\nwant\n%q", ours, theirs)
		}
	})
}

// BenchmarkWriteRequest compares writeRequest with Request.Write on a
// signed request of the Sender's.
func BenchmarkWriteRequest(b *testing.B) {
	c := wireCase{"POST", "http://127.0.0.1:8080/api/v1/lead/", http.Header{
		"Content-Type":          {"application/json"},
		"X-Cio-Idempotency-Key": {"d44116a4-57d5-45b2-b711-2fcd504fa0c6"},
		"X-Cio-Signature":       {strings.Repeat("ab", 32)},
		"X-Cio-Timestamp":       {"1614265384"},
	}, strings.Repeat("x", 400)}
	w := bufio.NewWriter(io.Discard)
	for _, impl := range []string{"Request.Write", "writeRequest"} {
		b.Run("impl="+impl, func(b *testing.B) {
			req := c.request(b)
			body := strings.NewReader(c.body)
			req.Body = io.NopCloser(body)
			b.ReportAllocs()
			for b.Loop() {
				body.Reset(c.body)
				var err error
				if impl == "writeRequest" {
					err = writeRequest(w, req)
				} else {
					err = req.Write(w)
				}
				if err != nil {
					b.Fatal(err)
				}
				w.Flush()
			}
		})
	}
}
