package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
)

// listenTestOutput is a goroutine-safe writer that lets a test wait for
// what the server prints.
type listenTestOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newListenTestOutput() *listenTestOutput {
	return &listenTestOutput{changed: make(chan struct{}, 1)}
}

func (o *listenTestOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (o *listenTestOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output matches re and returns the first
// submatch, or fails after a generous deadline.
func (o *listenTestOutput) waitFor(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(o.String()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-o.changed:
		case <-deadline:
			t.Fatalf("waiting for %v; output so far:\n%s", re, o.String())
		}
	}
}

var listenTestAddr = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

// listenTestServer is `liquidhook listen` running in-process.
type listenTestServer struct {
	url            string
	stdout, stderr *listenTestOutput
	stop           func() int // cancels the context and returns the exit code
}

func startListen(t *testing.T, vars map[string]string, args ...string) *listenTestServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &listenTestServer{stdout: newListenTestOutput(), stderr: newListenTestOutput()}
	e := &env{stdin: strings.NewReader(""), stdout: s.stdout, stderr: s.stderr, getenv: func(k string) string { return vars[k] }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, e, append([]string{"listen", "--addr", "127.0.0.1:0"}, args...)) }()
	var once sync.Once
	code := -1
	s.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Error("listen did not stop")
			}
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	s.url = s.stderr.waitFor(t, listenTestAddr)
	return s
}

// post sends body to the server, signed by signer at ts unless signer is
// nil, and returns the status and response body.
func (s *listenTestServer) post(t *testing.T, path string, body []byte, signer webhook.Signer, ts time.Time) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	id := webhook.NewIdempotencyKey()
	req.Header.Set(webhook.HeaderIdempotencyKey, id)
	if signer != nil {
		require.NoError(t, signer.SignHeader(req.Header, id, ts.Unix(), body))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// records decodes the --json output, one object per line.
func (s *listenTestServer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.stdout.String()))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "not a JSON line: %s", sc.Text())
		out = append(out, m)
	}
	return out
}

func TestListenChecksSignatures(t *testing.T) {
	key := []byte("signing-secret")
	s := startListen(t, map[string]string{envSigningKey: string(key)}, "--json", "--max-body", "1024")
	signer := webhook.CIOSigner{Key: key}
	body := []byte(`{"customer":{"email":"win@customer.io"}}`)
	now := time.Now()

	tests := []struct {
		name       string
		path       string
		body       []byte
		signer     webhook.Signer
		at         time.Time
		wantStatus int
		wantSig    string
		wantReason string
	}{
		{"signed", "/hooks", body, signer, now, http.StatusOK, "valid", ""},
		{"unsigned", "/hooks", body, nil, now, http.StatusUnauthorized, "invalid", "missing header X-CIO-Signature"},
		{"wrong key", "/hooks", body, webhook.CIOSigner{Key: []byte("guess")}, now, http.StatusUnauthorized, "invalid", "invalid signature"},
		{"stale", "/hooks", body, signer, now.Add(-10 * time.Minute), http.StatusUnauthorized, "invalid", "too old"},
		{"from the future", "/hooks", body, signer, now.Add(10 * time.Minute), http.StatusUnauthorized, "invalid", "too new"},
		{"over the body cap", "/hooks", bytes.Repeat([]byte("x"), 1025), signer, now, http.StatusRequestEntityTooLarge, "unchecked", "body over 1024 bytes"},
		{"secret in the query", "/hooks?token=hunter2&src=signup", body, signer, now, http.StatusOK, "valid", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, _ := s.post(t, tt.path, tt.body, tt.signer, tt.at)
			assert.Equal(t, tt.wantStatus, status)
			recs := s.records(t)
			require.Len(t, recs, i+1, "one line per request")
			rec := recs[i]
			assert.Equal(t, tt.wantSig, rec["signature"])
			assert.Equal(t, float64(tt.wantStatus), rec["status"])
			assert.Equal(t, "POST", rec["method"])
			assert.Equal(t, float64(len(tt.body)), rec["body_bytes"])
			if tt.wantReason != "" {
				assert.Contains(t, rec["reason"], tt.wantReason)
			}
			if tt.wantSig == "valid" {
				assert.Equal(t, string(tt.body), rec["body"])
				assert.Equal(t, float64(tt.at.Unix()), rec["timestamp"])
				assert.Len(t, rec["idempotency_key"], 36)
			}
			headers := rec["headers"].(map[string]any)
			if tt.signer != nil && tt.wantStatus != http.StatusRequestEntityTooLarge {
				assert.Equal(t, "REDACTED", headers["X-Cio-Signature"])
			}
			assert.NotContains(t, s.stdout.String(), "hunter2", "a secret query value was printed")
		})
	}
	assert.Equal(t, exitOK, s.stop())
	assert.Contains(t, s.stderr.String(), "liquidhook listen: stopped")
}

func TestListenPrintsReadably(t *testing.T) {
	s := startListen(t, nil)
	status, _, _ := s.post(t, "/cio/webhook", []byte(`{"id":"1","email":"win@customer.io"}`), nil, time.Now())
	assert.Equal(t, http.StatusOK, status, "without a key every request is accepted")
	out := s.stdout.waitFor(t, regexp.MustCompile(`(?s)(=== POST /cio/webhook from .*answered: 200 OK\n)`))
	for _, want := range []string{
		"Content-Type: application/json\n",
		"X-Cio-Idempotency-Key: ",
		"{\n  \"id\": \"1\",\n  \"email\": \"win@customer.io\"\n}\n",
		"signature: not checked: LIQUIDHOOK_SIGNING_KEY is not set\n",
	} {
		assert.Contains(t, out, want)
	}

	req, err := http.NewRequest(http.MethodPut, s.url+"/form", strings.NewReader("id=1&email=win@customer.io"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "x-www-form-urlencoded")
	req.SetBasicAuth("user", "pass")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	out = s.stdout.waitFor(t, regexp.MustCompile(`(?s)(=== PUT /form .*answered: 200 OK\n)`))
	assert.Contains(t, out, "id=1&email=win@customer.io\n")
	assert.Contains(t, out, "Authorization: REDACTED\n")
	assert.NotContains(t, s.stdout.String(), "dXNlcjpwYXNz", "credentials were printed")

	_, _, _ = s.post(t, "/binary", []byte{0xff, 0xfe, 0}, nil, time.Now())
	s.stdout.waitFor(t, regexp.MustCompile(`(\(3 bytes, not text\))`))
}

func TestListenRespondsWithFile(t *testing.T) {
	key := []byte("signing-secret")
	respond := writeFile(t, t.TempDir(), "respond.json", `{"id":"lead_42"}`)
	s := startListen(t, map[string]string{envSigningKey: string(key)}, "--respond", respond)

	status, h, body := s.post(t, "/", []byte(`{}`), webhook.CIOSigner{Key: key}, time.Now())
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, `{"id":"lead_42"}`, body)
	assert.Equal(t, "application/json", h.Get("Content-Type"))

	status, _, body = s.post(t, "/", []byte(`{}`), nil, time.Now())
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.NotContains(t, body, "lead_42", "a refused request got the response body")
}

func TestListenStandardScheme(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, err := webhook.ParseStandardSecret(secret)
	require.NoError(t, err)
	s := startListen(t, map[string]string{envSigningKey: secret}, "--scheme", "standard", "--json")
	signer := webhook.StandardSigner{Keys: [][]byte{key}}

	status, _, _ := s.post(t, "/", []byte(`{"type":"user.created"}`), signer, time.Now())
	assert.Equal(t, http.StatusOK, status)
	status, _, _ = s.post(t, "/", []byte(`{"type":"user.created"}`), webhook.CIOSigner{Key: key}, time.Now())
	assert.Equal(t, http.StatusUnauthorized, status)
	recs := s.records(t)
	require.Len(t, recs, 2)
	assert.Equal(t, "valid", recs[0]["signature"])
	assert.Equal(t, recs[0]["headers"].(map[string]any)["Webhook-Id"], recs[0]["idempotency_key"])
	assert.Contains(t, recs[1]["reason"], "missing header webhook-id")
}

// Shutting down lets a request in flight finish before listen returns.
func TestListenGracefulShutdown(t *testing.T) {
	key := []byte("signing-secret")
	s := startListen(t, map[string]string{envSigningKey: string(key)})
	body := []byte(`{"slow":true}`)

	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, s.url+"/slow", pr)
	require.NoError(t, err)
	req.ContentLength = int64(len(body))
	require.NoError(t, webhook.CIOSigner{Key: key}.SignHeader(req.Header, "id", time.Now().Unix(), body))
	// The server asks for the body (100 Continue) only once the handler
	// reads it: then the request is in flight.
	req.Header.Set("Expect", "100-continue")
	reading := make(chan struct{})
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { close(reading) },
	}))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}}
	type result struct {
		status int
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		resp.Body.Close()
		got <- result{status: resp.StatusCode}
	}()
	select {
	case <-reading:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never read the body")
	}

	stopped := make(chan int, 1)
	go func() { stopped <- s.stop() }()
	// Shutdown closes the listener first: once a dial is refused, the
	// server is shutting down with our request still in flight.
	addr := strings.TrimPrefix(s.url, "http://")
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		conn.Close()
		require.True(t, time.Now().Before(deadline), "the listener never closed")
		time.Sleep(time.Millisecond)
	}
	select {
	case code := <-stopped:
		t.Fatalf("listen returned %d with a request in flight", code)
	default:
	}
	_, err = pw.Write(body)
	require.NoError(t, err)
	require.NoError(t, pw.Close())

	r := <-got
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, exitOK, <-stopped)
	assert.Contains(t, s.stdout.String(), "signature: valid")
}

func TestListenBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		vars       map[string]string
		wantStderr string
	}{
		{"unknown scheme", []string{"--scheme", "svix"}, nil, `--scheme "svix"`},
		{"bad address", []string{"--addr", "127.0.0.1:99999"}, nil, "--addr 127.0.0.1:99999"},
		{"missing respond file", []string{"--respond", filepath.Join(dir, "nope.json")}, nil, "--respond"},
		{"zero max body", []string{"--max-body", "0"}, nil, "--max-body 0"},
		{"negative tolerance", []string{"--tolerance", "-1s"}, nil, "--tolerance -1s"},
		{"bad standard secret", []string{"--scheme", "standard"}, map[string]string{envSigningKey: "whsec_not*base64"}, "invalid secret"},
		{"unknown flag", []string{"--port", "80"}, nil, "flag provided but not defined: -port"},
		{"stray argument", []string{"now"}, nil, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLIEnv(t, "", tt.vars, append([]string{"listen"}, tt.args...)...)
			assert.Equal(t, exitBadInput, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.wantStderr)
			assert.NotContains(t, stderr, "not*base64", "the secret was echoed")
		})
	}
}

// listenTestBinary runs the built binary's listen, sends it one signed
// request, and interrupts it: it must stop cleanly with status 0.
func listenTestBinary(t *testing.T, bin string) {
	key := "signing-secret"
	cmd := exec.Command(bin, "listen", "--addr", "127.0.0.1:0", "--json")
	cmd.Env = append(os.Environ(), envSigningKey+"="+key)
	stdout, stderr := newListenTestOutput(), newListenTestOutput()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	s := &listenTestServer{url: stderr.waitFor(t, listenTestAddr), stdout: stdout, stderr: stderr}

	status, _, _ := s.post(t, "/", []byte(`{}`), webhook.CIOSigner{Key: []byte(key)}, time.Now())
	assert.Equal(t, http.StatusOK, status)
	stdout.waitFor(t, regexp.MustCompile(`("signature":"valid")`))

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		assert.NoError(t, err, "stderr: %s", stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("listen ignored the interrupt")
	}
	assert.Contains(t, stderr.String(), "liquidhook listen: stopped")
	assert.NotContains(t, stdout.String()+stderr.String(), key)
}

func init() {
	// Golden tests share one -update flag across the package's test files,
	// whichever of them registers it first.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

func listenTestUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestListenGolden pins what listen prints, in both formats, for a fixed
// set of requests at a fixed time. Run with -update to rewrite the files.
func TestListenGolden(t *testing.T) {
	key := []byte("signing-secret")
	at := time.Date(2021, 2, 25, 15, 3, 4, 0, time.UTC)
	type golden struct {
		method, target, contentType string
		body                        []byte
		signer                      webhook.Signer
		chunked                     bool
	}
	requests := []golden{
		{"POST", "/hooks?src=signup&api_key=hunter2", "application/json", []byte(`{"customer":{"id":"42","email":"win@customer.io"},"plan":"pro"}`), webhook.CIOSigner{Key: key}, false},
		{"PUT", "/form", "application/x-www-form-urlencoded", []byte("id=1&email=win@customer.io"), webhook.CIOSigner{Key: []byte("guess")}, false},
		{"POST", "/binary", "application/octet-stream", []byte{0xff, 0x00, 0x10}, nil, false},
		{"DELETE", "/empty", "", nil, webhook.CIOSigner{Key: key}, false},
		{"POST", "/big", "text/plain", bytes.Repeat([]byte("x"), 65), webhook.CIOSigner{Key: key}, true},
	}
	for _, format := range []struct {
		name string
		json bool
	}{{"listen.golden", false}, {"listen.jsonl.golden", true}} {
		t.Run(format.name, func(t *testing.T) {
			var out bytes.Buffer
			l := &listener{
				out:      &out,
				json:     format.json,
				maxBody:  64,
				verifier: &webhook.Verifier{Keys: [][]byte{key}, MaxBodyBytes: 64, Now: func() time.Time { return at }},
				now:      func() time.Time { return at },
			}
			for i, g := range requests {
				var rd io.Reader = bytes.NewReader(g.body)
				if g.chunked {
					rd = io.MultiReader(rd)
				}
				req := httptest.NewRequest(g.method, "http://example.com"+g.target, rd)
				if g.contentType != "" {
					req.Header.Set("Content-Type", g.contentType)
				}
				id := "00000000-0000-4000-8000-00000000000" + string(rune('0'+i))
				req.Header.Set(webhook.HeaderIdempotencyKey, id)
				if g.signer != nil {
					require.NoError(t, g.signer.SignHeader(req.Header, id, at.Unix(), g.body))
				}
				rec := httptest.NewRecorder()
				l.ServeHTTP(rec, req)
			}
			path := filepath.Join("testdata", format.name)
			if listenTestUpdating() {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, out.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to create it")
			assert.Equal(t, string(want), out.String())
			assert.NotContains(t, out.String(), "hunter2")
		})
	}
}
