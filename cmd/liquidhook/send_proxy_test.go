package main

import (
	"bytes"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cliProxy is an HTTP proxy on loopback that forwards requests in
// absolute form and tunnels CONNECT, to whatever they name, recording the
// method, the target and the proxy credentials of each.
type cliProxy struct {
	*httptest.Server
	mu      sync.Mutex
	seen    []string
	tunnels []net.Conn
}

func newCLIProxy(t *testing.T) *cliProxy {
	t.Helper()
	p := &cliProxy{}
	forward := &http.Transport{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Host
		if r.Method != http.MethodConnect {
			target = r.URL.String()
		}
		p.mu.Lock()
		p.seen = append(p.seen, strings.TrimSpace(r.Method+" "+target+" "+r.Header.Get("Proxy-Authorization")))
		p.mu.Unlock()
		if r.Method == http.MethodConnect {
			p.tunnel(w, r)
			return
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.Header.Del("Proxy-Authorization")
		resp, err := forward.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vv := range resp.Header {
			w.Header()[k] = vv
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(func() {
		p.Close()
		forward.CloseIdleConnections()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.tunnels {
			c.Close()
		}
	})
	return p
}

func (p *cliProxy) tunnel(w http.ResponseWriter, r *http.Request) {
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	down, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.mu.Lock()
	p.tunnels = append(p.tunnels, up, down)
	p.mu.Unlock()
	io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n")
	go func() {
		defer up.Close()
		io.Copy(up, io.MultiReader(io.LimitReader(buf.Reader, int64(buf.Reader.Buffered())), down))
	}()
	go func() {
		defer down.Close()
		io.Copy(down, up)
	}()
}

func (p *cliProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// TestSendCommandProxy: send goes through --proxy, or LIQUIDHOOK_PROXY
// when the flag is absent. The receiver is on loopback and --allow-private
// is not given: the proxy's address is the operator's choice, and the
// destination the proxy's to check.
func TestSendCommandProxy(t *testing.T) {
	srv, calls, bad := sendReceiver(t, 200)
	action, data := sendFiles(t, srv.URL+"/leads", map[string]string{"lead_id": "{{ response.id }}"})
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		auth string
	}{
		{"flag", []string{"--proxy", "PROXY"}, nil, ""},
		{"variable", nil, map[string]string{envProxy: "PROXY"}, ""},
		{"variable with credentials", nil, map[string]string{envProxy: "http://ops:proxy-pw@HOST"}, "Basic b3BzOnByb3h5LXB3"},
		{"flag over variable", []string{"--proxy", "PROXY"}, map[string]string{envProxy: "http://127.0.0.1:1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newCLIProxy(t)
			vars := signingKey(sendTestKey)
			for k, v := range tc.vars {
				vars[k] = strings.NewReplacer("PROXY", p.URL, "HOST", strings.TrimPrefix(p.URL, "http://")).Replace(v)
			}
			args := []string{"send", "--action", action, "--data", data, "--retries", "0"}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "PROXY", p.URL))
			}
			before := calls.Load()
			code, stdout, stderr := runCLIEnv(t, "", vars, args...)
			require.Equal(t, exitOK, code, "stderr: %s", stderr)
			out := sendResultJSON(t, stdout)
			assert.Equal(t, true, out["delivered"])
			assert.Equal(t, map[string]any{"lead_id": "lead_" + strconv.Itoa(int(before)+1)}, out["attributes"])
			assert.Equal(t, []string{strings.TrimSpace("POST " + srv.URL + "/leads " + tc.auth)}, p.requests())
			assert.NotContains(t, stdout+stderr, "proxy-pw")
		})
	}
	assert.Zero(t, bad.Load(), "every request verifies")

	// Without a proxy, the same command is refused the loopback receiver.
	code, _, stderr := runCLIEnv(t, "", signingKey(sendTestKey), "send", "--action", action, "--data", data, "--retries", "0")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, stderr, "--allow-private")
}

// TestProxyFlagRefusals: a proxy that is not an http(s) URL, or that puts
// credentials on the command line, is bad input, and the error never
// shows a credential.
func TestProxyFlagRefusals(t *testing.T) {
	srv, calls, _ := sendReceiver(t, 200)
	action, data := sendFiles(t, srv.URL, nil)
	for _, tc := range []struct {
		name   string
		args   []string
		vars   map[string]string
		errHas string
	}{
		{"not http", []string{"--proxy", "socks5://127.0.0.1:1080"}, nil, "--proxy \"socks5://127.0.0.1:1080\": want an http:// or https:// proxy URL"},
		{"no host", []string{"--proxy", "http://"}, nil, "want an http:// or https:// proxy URL"},
		{"not a URL", []string{"--proxy", "127.0.0.1:3128"}, nil, "want an http:// or https:// proxy URL"},
		{"credentials on the command line", []string{"--proxy", "http://ops:proxy-pw@127.0.0.1:3128"}, nil, "credentials do not belong on the command line"},
		{"bad variable", nil, map[string]string{envProxy: "ftp://ops:proxy-pw@proxy.internal"}, envProxy + " \"ftp://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := signingKey(sendTestKey)
			for k, v := range tc.vars {
				vars[k] = v
			}
			for _, sub := range [][]string{{"send", "--action", action, "--data", data}, {"queue", "work", "--db", filepath.Join(t.TempDir(), "q.db")}} {
				code, stdout, stderr := runCLIEnv(t, "", vars, append(sub, tc.args...)...)
				assert.Equal(t, exitBadInput, code, "%s: %s", sub[0], stderr)
				assert.Contains(t, stderr, tc.errHas, sub[0])
				assert.NotContains(t, stdout+stderr, "proxy-pw", sub[0])
			}
		})
	}
	assert.Zero(t, calls.Load())
}

// TestQueueWorkProxy: queue work sends through LIQUIDHOOK_PROXY.
func TestQueueWorkProxy(t *testing.T) {
	f := newQueueFixture(t)
	id := f.add(t, f.action)
	p := newCLIProxy(t)
	vars := signingKey("queue-key")
	vars[envProxy] = p.URL
	code, _, stderr := runCLIEnv(t, "", vars, "queue", "work", "--until-idle", "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "delivered", f.show(t, id).State)
	require.Len(t, p.requests(), 1)
	assert.True(t, strings.HasPrefix(p.requests()[0], "POST http://127.0.0.1:"), p.requests()[0])
	require.Len(t, f.seen(), 1)
	assert.True(t, f.seen()[0].signed)
}

// TestSendBinaryProxyHTTPS runs the built command against an https
// receiver through the proxy: CONNECT, with the proxy's credentials from
// LIQUIDHOOK_PROXY, and the receiver's test CA trusted through
// SSL_CERT_FILE, as a private CA would be.
func TestSendBinaryProxyHTTPS(t *testing.T) {
	bin := buildCLI(t)
	var got sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store("proto", r.Proto)
		io.WriteString(w, `{"id": "lead_tls"}`)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	action, data := sendFiles(t, srv.URL+"/leads", map[string]string{"lead_id": "{{ response.id }}"})
	p := newCLIProxy(t)
	host := strings.TrimPrefix(srv.URL, "https://")

	cmd := exec.Command(bin, "send", "--action", action, "--data", data, "--retries", "0")
	cmd.Env = append(os.Environ(), envSigningKey+"="+sendTestKey, "SSL_CERT_FILE="+ca,
		envProxy+"=http://ops:proxy-pw@"+strings.TrimPrefix(p.URL, "http://"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.Equal(t, exitOK, exitStatus(t, cmd.Run()), "stderr: %s", stderr.String())
	out := sendResultJSON(t, stdout.String())
	assert.Equal(t, map[string]any{"lead_id": "lead_tls"}, out["attributes"])
	assert.Equal(t, []string{"CONNECT " + host + " Basic b3BzOnByb3h5LXB3"}, p.requests())
	proto, _ := got.Load("proto")
	assert.Equal(t, "HTTP/2.0", proto)
	assert.NotContains(t, stdout.String()+stderr.String(), "proxy-pw")
}
