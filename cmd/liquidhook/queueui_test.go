package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
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
)

const uiTestToken = "correct-horse-battery-staple"

// uiTestServer is `liquidhook queue ui` running in-process.
type uiTestServer struct {
	url            string
	stdout, stderr *listenTestOutput
	stop           func() int // cancels the context and returns the exit code
	client         *http.Client
}

var uiTestURL = regexp.MustCompile(`^(http://127\.0\.0\.1:\d+/)\n`)

func startUI(t *testing.T, vars map[string]string, args ...string) *uiTestServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &uiTestServer{
		stdout: newListenTestOutput(),
		stderr: newListenTestOutput(),
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	e := &env{stdin: strings.NewReader(""), stdout: s.stdout, stderr: s.stderr, getenv: func(k string) string { return vars[k] }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, e, append([]string{"queue", "ui", "--addr", "127.0.0.1:0"}, args...)) }()
	var once sync.Once
	code := -1
	s.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Error("queue ui did not stop")
			}
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	s.url = s.stdout.waitFor(t, uiTestURL)
	return s
}

// do sends a request to path, as a browser on the page's own site does
// unless header says otherwise, and returns the response with its body.
func (s *uiTestServer) do(t *testing.T, method, path string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+strings.TrimPrefix(path, "/"), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestQueueUIServesTheSentTab(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	id := f.add(t, f.draftAction)
	s := startUI(t, nil, "--db", f.db)
	assert.Equal(t, s.url+"\n", s.stdout.String(), "the URL is the first and only line of standard output")

	resp, body := s.do(t, http.MethodGet, "/", nil, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `<tr id="delivery-`+id+`"`)

	resp, _ = s.do(t, http.MethodPost, "/deliveries/"+id+"/release", nil, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a cross-site form")
	assert.Equal(t, "draft", f.show(t, id).State)

	resp, _ = s.do(t, http.MethodPost, "/deliveries/"+id+"/release", nil, nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "scheduled", f.show(t, id).State)

	// DNS rebinding: a page elsewhere whose name now points at 127.0.0.1.
	resp, _ = s.do(t, http.MethodGet, "/", nil, http.Header{"Host": {"attacker.example:8025"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a host name that is not loopback")
	resp, _ = s.do(t, http.MethodGet, "/", nil, http.Header{"Host": {"localhost"}})
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	assert.Equal(t, exitOK, s.stop())
	assert.Contains(t, s.stderr.String(), "liquidhook queue ui: stopped")
}

func TestQueueUIReadOnly(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	id := f.add(t, f.draftAction)
	s := startUI(t, nil, "--read-only", "--db", f.db)
	_, body := s.do(t, http.MethodGet, "/deliveries/"+id, nil, nil)
	assert.NotContains(t, body, "<form")
	resp, _ := s.do(t, http.MethodPost, "/deliveries/"+id+"/release", nil, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "draft", f.show(t, id).State)
	assert.Contains(t, s.stderr.String(), "read-only")
}

func TestQueueUIToken(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	id := f.add(t, f.draftAction)
	s := startUI(t, map[string]string{envUIToken: uiTestToken}, "--db", f.db)

	resp, body := s.do(t, http.MethodGet, "/deliveries/"+id, nil, nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, body, `<form class="filters" method="post" action="/login">`, "a login form")
	assert.Contains(t, body, `name="next" value="/deliveries/`+id+`"`)
	resp, _ = s.do(t, http.MethodPost, "/deliveries/"+id+"/release", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = s.do(t, http.MethodGet, "/assets/style.css", nil, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the login form's style sheet")

	t.Run("bearer token", func(t *testing.T) {
		for _, tt := range []struct {
			name, header string
			want         int
		}{
			{"right", "Bearer " + uiTestToken, http.StatusOK},
			{"wrong", "Bearer " + uiTestToken + "x", http.StatusUnauthorized},
			{"prefix", "Bearer " + uiTestToken[:10], http.StatusUnauthorized},
			{"another scheme", "Basic " + uiTestToken, http.StatusUnauthorized},
		} {
			resp, _ := s.do(t, http.MethodGet, "/", nil, http.Header{"Authorization": {tt.header}})
			assert.Equal(t, tt.want, resp.StatusCode, tt.name)
		}
	})

	t.Run("login form", func(t *testing.T) {
		resp, body := s.do(t, http.MethodPost, "/login", url.Values{"token": {"guess-guess-guess"}, "next": {"/"}}, nil)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Contains(t, body, "That is not the token.")
		assert.Empty(t, resp.Cookies())

		resp, _ = s.do(t, http.MethodPost, "/login", url.Values{"token": {uiTestToken}, "next": {"/"}}, http.Header{"Sec-Fetch-Site": {"cross-site"}})
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a login from another site")

		resp, _ = s.do(t, http.MethodPost, "/login", url.Values{"token": {uiTestToken}, "next": {"/deliveries/" + id}}, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, "/deliveries/"+id, resp.Header.Get("Location"), "on to the page asked for")
		cookies := resp.Cookies()
		require.Len(t, cookies, 1)
		c := cookies[0]
		assert.True(t, c.HttpOnly)
		assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
		assert.NotContains(t, c.Value, uiTestToken)

		resp, body = s.do(t, http.MethodGet, "/deliveries/"+id, nil, http.Header{"Cookie": {c.String()}})
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, body, "Delivery #"+id)
		resp, _ = s.do(t, http.MethodPost, "/deliveries/"+id+"/release", nil, http.Header{"Cookie": {c.String()}})
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, "scheduled", f.show(t, id).State)

		resp, _ = s.do(t, http.MethodGet, "/", nil, http.Header{"Cookie": {uiCookie + "=00"}})
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a forged cookie")

		resp, _ = s.do(t, http.MethodPost, "/login", url.Values{"token": {uiTestToken}, "next": {"//attacker.example/"}}, nil)
		assert.Equal(t, "/", resp.Header.Get("Location"), "never on to another site")
	})

	resp, _ = s.do(t, http.MethodGet, "/", nil, http.Header{"Authorization": {"Bearer " + uiTestToken}, "Host": {"attacker.example"}})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "with a token, any host name")
	assert.Equal(t, exitOK, s.stop())
	assert.NotContains(t, s.stdout.String()+s.stderr.String(), uiTestToken)
}

func TestQueueUIBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	busy := startUI(t, nil, "--db", filepath.Join(dir, "busy.db"))
	busyAddr := strings.TrimSuffix(strings.TrimPrefix(busy.url, "http://"), "/")
	tests := []struct {
		name string
		args []string
		vars map[string]string
		want string
	}{
		{"every interface without a token", []string{"--addr", "0.0.0.0:8025"}, nil, "--addr 0.0.0.0:8025 is not a loopback address: set LIQUIDHOOK_UI_TOKEN"},
		{"no host without a token", []string{"--addr", ":8025"}, nil, "is not a loopback address"},
		{"a host name without a token", []string{"--addr", "example.com:8025"}, nil, "is not a loopback address"},
		{"a short token", []string{"--addr", "0.0.0.0:8025"}, map[string]string{envUIToken: "short"}, "LIQUIDHOOK_UI_TOKEN is too short"},
		{"a URL", []string{"--addr", "http://user:db-password@127.0.0.1:8025"}, nil, `--addr "http://127.0.0.1:8025"`},
		{"no port", []string{"--addr", "127.0.0.1"}, nil, "want host:port"},
		{"a flag of another subcommand", []string{"--json"}, nil, "ui does not take --json"},
		{"an argument", []string{"7"}, nil, `unexpected argument "7"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLIEnv(t, "", tt.vars, append([]string{"queue", "ui", "--db", fresh}, tt.args...)...)
			assert.Equal(t, exitBadInput, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.want)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			assert.NotContains(t, stderr, "db-password")
			assert.NoFileExists(t, fresh, "refused before the database is opened")
		})
	}
	t.Run("an address in use", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "queue", "ui", "--addr", busyAddr, "--db", filepath.Join(dir, "other.db"))
		assert.Equal(t, exitBadInput, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "--addr "+busyAddr)
	})
}

// TestQueueUIBinary runs the built command as a person does: it prints the
// URL, serves, and stops cleanly on an interrupt.
func TestQueueUIBinary(t *testing.T) {
	t.Parallel()
	bin := buildCLI(t)
	f := newQueueFixture(t)
	id := f.add(t, f.draftAction)
	cmd := exec.Command(bin, "queue", "ui", "--addr", "127.0.0.1:0", "--db", f.db)
	cmd.Env = os.Environ()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := newListenTestOutput()
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "stderr: %s", stderr)
	require.Regexp(t, uiTestURL, line)

	resp, err := http.Get(strings.TrimSpace(line) + "deliveries/" + id)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		assert.NoError(t, err, "stderr: %s", stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("queue ui ignored the interrupt")
	}
	assert.Contains(t, stderr.String(), "liquidhook queue ui: stopped")
}
