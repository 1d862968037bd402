package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
)

const sendTestKey = "cli-signing-secret"

// sendFiles writes an action posting to url and a data file, and returns
// their paths.
func sendFiles(t *testing.T, url string, response map[string]string) (action, data string) {
	t.Helper()
	dir := t.TempDir()
	spec := map[string]any{
		"method":  "POST",
		"url":     url,
		"headers": map[string]string{"Content-Type": "application/json", "X-Api-Token": "hdr-token-777"},
		"body":    `{"email": "{{ customer.email }}", "plan": "{{ customer.plan }}"}`,
		"sending": "automatic",
	}
	if response != nil {
		spec["response"] = response
	}
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	action = writeFile(t, dir, "action.json", string(b))
	data = writeFile(t, dir, "data.json", `{"customer": {"email": "ada@example.com", "plan": "pro"}}`)
	return action, data
}

type sendCLIResult struct {
	code   int
	stdout string
	stderr string
}

func sendRun(t *testing.T, key string, args ...string) sendCLIResult {
	t.Helper()
	code, stdout, stderr := runCLIEnv(t, "", signingKey(key), args...)
	return sendCLIResult{code, stdout, stderr}
}

// sendResultJSON decodes send's standard output: exactly one JSON object.
func sendResultJSON(t *testing.T, stdout string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var out map[string]any
	require.NoError(t, dec.Decode(&out), "stdout: %s", stdout)
	_, err := dec.Token()
	require.ErrorIs(t, err, io.EOF, "one JSON object on stdout")
	return out
}

// sendReceiver answers with statuses in turn (the last repeats), verifying
// every request's signature.
func sendReceiver(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	var calls, bad atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		if webhook.Verify([]byte(sendTestKey), r.Header.Get(webhook.HeaderSignature), ts, body) != nil {
			bad.Add(1)
		}
		n := int(calls.Add(1))
		code := statuses[min(n, len(statuses))-1]
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(code)
		io.WriteString(w, `{"id": "lead_`+strconv.Itoa(n)+`", "zip": "02134", "score": 12}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, &bad
}

func TestSendCommandDelivers(t *testing.T) {
	srv, calls, bad := sendReceiver(t, 503, 429, 201)
	action, data := sendFiles(t, srv.URL+"/leads", map[string]string{"lead_id": "{{ response.id }}", "zip": "{{ response.zip }}", "score": "{{ response.score }}"})

	r := sendRun(t, sendTestKey, "send", "--action", action, "--data", data, "--backoff", "1ms", "--allow-private")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	out := sendResultJSON(t, r.stdout)
	assert.Equal(t, true, out["delivered"])
	assert.Equal(t, float64(201), out["status"])
	assert.Equal(t, map[string]any{"lead_id": "lead_3", "zip": "02134", "score": float64(12)}, out["attributes"])
	attempts := out["attempts"].([]any)
	require.Len(t, attempts, 3)
	assert.Equal(t, "status", attempts[0].(map[string]any)["class"])
	assert.Nil(t, attempts[2].(map[string]any)["class"])
	assert.NotEmpty(t, out["idempotency_key"])
	assert.Equal(t, int32(3), calls.Load())
	assert.Zero(t, bad.Load(), "every attempt verifies")

	// Progress a person can follow: each attempt, its outcome, the wait.
	assert.Contains(t, r.stderr, "attempt 1: 503 Service Unavailable after ")
	assert.Contains(t, r.stderr, "; retrying in ")
	assert.Contains(t, r.stderr, "attempt 2: 429 Too Many Requests after ")
	assert.Contains(t, r.stderr, "attempt 3: 201 Created after ")
	assert.Contains(t, r.stderr, ": delivered")
	assert.Contains(t, r.stderr, "delivered after 3 attempts")
}

// TestSendCommandLax: --lax sends what strict mode refuses, a missing
// variable printed as empty.
func TestSendCommandLax(t *testing.T) {
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body.Store(string(b))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	action := writeFile(t, dir, "a.json", `{"url": "`+srv.URL+`", "body": "{\"nick\": \"{{ customer.nickname }}\"}"}`)
	data := writeFile(t, dir, "d.json", `{"customer": {}}`)

	r := sendRun(t, sendTestKey, "send", "--action", action, "--data", data, "--allow-private")
	assert.Equal(t, exitBadInput, r.code)
	assert.Contains(t, r.stderr, "missing variable customer.nickname")
	assert.Nil(t, body.Load(), "nothing is sent")

	r = sendRun(t, sendTestKey, "send", "--action", action, "--data", data, "--allow-private", "--lax")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, true, sendResultJSON(t, r.stdout)["delivered"])
	assert.Equal(t, `{"nick": ""}`, body.Load())
}

func TestSendCommandFails(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		args     []string
		attempts int
		wantErr  string
	}{
		{"retried then given up", []int{500}, []string{"--retries", "2"}, 3, "not delivered after 3 attempts: unsuccessful status 500"},
		{"final status", []int{404}, nil, 1, "not delivered after 1 attempt: unsuccessful status 404"},
		{"no retries", []int{503}, []string{"--retries", "0"}, 1, "not delivered after 1 attempt: unsuccessful status 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls, _ := sendReceiver(t, tc.statuses...)
			action, data := sendFiles(t, srv.URL, map[string]string{"lead_id": "{{ response.id }}"})
			args := append([]string{"send", "--action", action, "--data", data, "--backoff", "1ms", "--allow-private"}, tc.args...)
			r := sendRun(t, sendTestKey, args...)
			require.Equal(t, exitFailed, r.code, "stderr: %s", r.stderr)
			out := sendResultJSON(t, r.stdout)
			assert.Equal(t, false, out["delivered"])
			assert.Equal(t, float64(tc.statuses[len(tc.statuses)-1]), out["status"], "the last status")
			assert.Len(t, out["attempts"], tc.attempts)
			assert.Equal(t, map[string]any{}, out["attributes"], "no attributes on failure")
			assert.Contains(t, out["error"], tc.wantErr)
			assert.Equal(t, int32(tc.attempts), calls.Load())
			assert.Contains(t, r.stderr, "not retrying")
			assert.Contains(t, r.stderr, "liquidhook send: webhook: "+tc.wantErr)
		})
	}
}

func TestSendCommandRefusesPrivate(t *testing.T) {
	srv, calls, _ := sendReceiver(t, 200)
	action, data := sendFiles(t, srv.URL, nil)
	r := sendRun(t, sendTestKey, "send", "--action", action, "--data", data)
	require.Equal(t, exitFailed, r.code)
	out := sendResultJSON(t, r.stdout)
	assert.Contains(t, out["error"], "destination address not allowed")
	assert.Contains(t, r.stderr, "attempt 1: refused")
	assert.Contains(t, r.stderr, "--allow-private"[2:]) // the hint
	assert.Zero(t, calls.Load())
}

func TestSendCommandTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices when the client hangs up
		<-r.Context().Done()
	}))
	defer srv.Close()
	action, data := sendFiles(t, srv.URL, nil)
	r := sendRun(t, sendTestKey, "send", "--action", action, "--data", data, "--timeout", "50ms", "--retries", "1", "--backoff", "1ms", "--allow-private")
	require.Equal(t, exitFailed, r.code)
	out := sendResultJSON(t, r.stdout)
	attempts := out["attempts"].([]any)
	require.Len(t, attempts, 2)
	assert.Equal(t, "timeout", attempts[1].(map[string]any)["class"])
	assert.Contains(t, r.stderr, "attempt 1: timed out")
}

func TestSendCommandBadInput(t *testing.T) {
	srv, calls, _ := sendReceiver(t, 200)
	action, data := sendFiles(t, srv.URL, nil)
	dir := t.TempDir()
	badJSON := writeFile(t, dir, "bad.json", `{"url": `)
	badBody := writeFile(t, dir, "badbody.json", `{"url": "`+srv.URL+`", "body": "{\"email\": {{ customer.email }}}"}`)
	badPort := writeFile(t, dir, "badport.json", `{"url": "`+srv.URL+`0", "body": "{}"}`)

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no action", []string{"--data", data}, "--action is required"},
		{"no data", []string{"--action", action}, "--data is required"},
		{"unknown flag", []string{"--action", action, "--data", data, "--bogus"}, "flag provided but not defined: -bogus"},
		{"stray argument", []string{"--action", action, "--data", data, "extra"}, `unexpected argument "extra"`},
		{"zero timeout", []string{"--action", action, "--data", data, "--timeout", "0s"}, "--timeout 0s"},
		{"negative retries", []string{"--action", action, "--data", data, "--retries", "-1"}, "--retries -1"},
		{"bad backoff", []string{"--action", action, "--data", data, "--backoff", "soon"}, "invalid value"},
		{"missing action file", []string{"--action", filepath.Join(dir, "nope.json"), "--data", data}, "nope.json"},
		{"broken action file", []string{"--action", badJSON, "--data", data}, "bad.json"},
		{"body not JSON once rendered", []string{"--action", badBody, "--data", data}, "badbody.json"},
		{"port out of range", []string{"--action", badPort, "--data", data, "--allow-private"}, "badport.json: url: invalid URL: port"},
		{"response without dry run", []string{"--action", action, "--data", data, "--response", data}, "--response needs --dry-run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sendRun(t, sendTestKey, append([]string{"send"}, tc.args...)...)
			assert.Equal(t, exitBadInput, r.code)
			assert.Empty(t, r.stdout, "no result when nothing was sent")
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			require.Len(t, lines, 1, "a one-line error: %s", r.stderr)
			assert.Contains(t, lines[0], "liquidhook send: ")
			assert.Contains(t, lines[0], tc.wantErr)
		})
	}
	assert.Zero(t, calls.Load(), "nothing was sent")
}

func TestSendCommandDryRun(t *testing.T) {
	srv, calls, _ := sendReceiver(t, 200)
	action, data := sendFiles(t, "https://user:s3cret-pw@api.example.com/v1/leads?api_key=qk-111",
		map[string]string{"lead_id": "{{ response.id }}", "zip": "{{ response.zip }}", "email": "{{ customer.email }}"})
	_ = srv
	dir := t.TempDir()
	recorded := writeFile(t, dir, "response.json", `{"id": "lead_77", "zip": "0123"}`)
	big := writeFile(t, dir, "big.json", strings.Repeat(" ", webhook.DefaultMaxResponseBytes+1))

	t.Run("with a recorded response", func(t *testing.T) {
		r := sendRun(t, sendTestKey, "send", "--action", action, "--data", data, "--dry-run", "--response", recorded)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		out := sendResultJSON(t, r.stdout)
		assert.Equal(t, true, out["dry_run"])
		assert.Equal(t, false, out["delivered"])
		assert.Equal(t, map[string]any{"lead_id": "lead_77", "zip": "0123", "email": "ada@example.com"}, out["attributes"])
		req := out["request"].(map[string]any)
		assert.Equal(t, "https://api.example.com/v1/leads?api_key=REDACTED", req["url"])
		assert.Equal(t, `{"email": "ada@example.com", "plan": "pro"}`, req["body"])
		assert.Equal(t, "REDACTED", req["headers"].(map[string]any)["Authorization"])
		assert.Equal(t, "REDACTED", req["headers"].(map[string]any)["X-Api-Token"])
		assert.Empty(t, out["attempts"])
		assert.Contains(t, r.stderr, "dry run: mapped 3 attributes")
	})
	t.Run("without a response", func(t *testing.T) {
		r := sendRun(t, "", "send", "--action", action, "--data", data, "--dry-run")
		require.Equal(t, exitOK, r.code)
		out := sendResultJSON(t, r.stdout)
		assert.Equal(t, map[string]any{}, out["attributes"])
		assert.NotContains(t, r.stderr, "warning", "a dry run needs no key")
	})
	t.Run("mapping a missing field", func(t *testing.T) {
		partial := writeFile(t, dir, "partial.json", `{"zip": "0123"}`)
		r := sendRun(t, sendTestKey, "send", "--action", action, "--data", data, "--dry-run", "--response", partial)
		assert.Equal(t, exitBadInput, r.code)
		assert.Empty(t, r.stdout)
		assert.Contains(t, r.stderr, "response.lead_id")
		assert.Contains(t, r.stderr, "response.id")
		assert.Contains(t, r.stderr, "line 1")
	})
	t.Run("response over the cap", func(t *testing.T) {
		r := sendRun(t, sendTestKey, "send", "--action", action, "--data", data, "--dry-run", "--response", big)
		assert.Equal(t, exitBadInput, r.code)
		assert.Contains(t, r.stderr, "response too large")
	})
	t.Run("missing response file", func(t *testing.T) {
		r := sendRun(t, sendTestKey, "send", "--action", action, "--data", data, "--dry-run", "--response", filepath.Join(dir, "none.json"))
		assert.Equal(t, exitBadInput, r.code)
		assert.Contains(t, r.stderr, "none.json")
	})
	assert.Zero(t, calls.Load())
}

// TestSendCommandNoSecrets fails a send in several ways with credentials
// in the URL, a header and the environment, and checks that none of them
// reaches standard output or standard error.
func TestSendCommandNoSecrets(t *testing.T) {
	srv, _, _ := sendReceiver(t, 500)
	host := strings.TrimPrefix(srv.URL, "http://")
	secrets := []string{"s3cret-pw", "qk-111", "hdr-token-777", sendTestKey, base64.StdEncoding.EncodeToString([]byte("user:s3cret-pw"))}
	for _, tc := range []struct {
		name string
		url  string
		args []string
	}{
		{"status", "http://user:s3cret-pw@" + host + "/?api_key=qk-111", []string{"--allow-private", "--retries", "1", "--backoff", "1ms"}},
		{"blocked", "http://user:s3cret-pw@" + host + "/?api_key=qk-111", nil},
		{"refused", "http://user:s3cret-pw@127.0.0.1:1/?api_key=qk-111", []string{"--allow-private", "--retries", "0"}},
		{"dry run", "http://user:s3cret-pw@" + host + "/?api_key=qk-111", []string{"--dry-run"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			action, data := sendFiles(t, tc.url, map[string]string{"id": "{{ response.id }}"})
			r := sendRun(t, sendTestKey, append([]string{"send", "--action", action, "--data", data}, tc.args...)...)
			require.NotEmpty(t, r.stdout)
			for _, s := range secrets {
				assert.NotContains(t, r.stdout, s)
				assert.NotContains(t, r.stderr, s)
			}
		})
	}
}

// TestSendBinary runs the built command, for its real exit codes and
// streams.
func TestSendBinary(t *testing.T) {
	bin := buildCLI(t)
	srv, _, bad := sendReceiver(t, 503, 200)
	action, data := sendFiles(t, srv.URL, map[string]string{"lead_id": "{{ response.id }}"})
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"delivered", []string{"--allow-private", "--backoff", "1ms"}, exitOK},
		{"refused", nil, exitFailed},
		{"bad flag", []string{"--retries", "x"}, exitBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"send", "--action", action, "--data", data}, tc.args...)...)
			cmd.Env = append(os.Environ(), envSigningKey+"="+sendTestKey)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			code := exitStatus(t, cmd.Run())
			assert.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			if tc.code != exitBadInput {
				out := sendResultJSON(t, stdout.String())
				assert.Equal(t, tc.code == exitOK, out["delivered"])
			}
		})
	}
	assert.Zero(t, bad.Load())
}

// The sending flags make the same Sender for send and queue work.
func TestSenderFlags(t *testing.T) {
	unavailable := webhook.Attempt{Number: 1, Status: http.StatusServiceUnavailable, Class: webhook.ClassStatus}
	for _, tc := range []struct {
		name      string
		retries   int
		key       string
		wantRetry bool
	}{
		{"no retries", 0, "", false},
		{"retries", 2, "k", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := senderFlags{timeout: time.Second, retries: tc.retries, backoff: time.Millisecond, allowPrivate: true}
			require.NoError(t, f.check())
			s := f.sender(tc.key)
			assert.Equal(t, time.Second, s.Timeout)
			assert.True(t, s.AllowPrivate)
			assert.Equal(t, tc.key, string(s.Key))
			wait, retry := s.RetryPolicy.Next(unavailable)
			assert.Equal(t, tc.wantRetry, retry)
			if retry {
				assert.InDelta(t, time.Millisecond, wait, float64(time.Millisecond)/5, "the first wait is --backoff, jittered")
			}
		})
	}
}

// The environment's HTTP_PROXY and HTTPS_PROXY are not read: only --proxy
// or LIQUIDHOOK_PROXY gives send and queue work a proxy.
func TestSenderFlagsIgnoreTheProxyEnvironment(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://env-proxy.example:3128")
	t.Setenv("HTTPS_PROXY", "http://env-proxy.example:3128")
	for _, tc := range []struct {
		name      string
		flag      string
		vars      map[string]string
		wantProxy string
	}{
		{"neither", "", nil, ""},
		{"LIQUIDHOOK_PROXY", "", map[string]string{envProxy: "http://ops.example:3128"}, "http://ops.example:3128"},
		{"--proxy", "http://flag.example:3128", nil, "http://flag.example:3128"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := senderFlags{timeout: time.Second, backoff: time.Second, proxy: tc.flag}
			f.proxyFromEnv(func(k string) string { return tc.vars[k] })
			require.NoError(t, f.check())
			s := f.sender("k")
			if tc.wantProxy == "" {
				assert.Nil(t, s.Proxy, "no proxy, whatever HTTP_PROXY says")
				return
			}
			require.NotNil(t, s.Proxy)
			u, err := s.Proxy(httptest.NewRequest(http.MethodPost, "https://api.example.com/", nil))
			require.NoError(t, err)
			assert.Equal(t, tc.wantProxy, u.String())
		})
	}
}
