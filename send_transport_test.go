package webhook_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
)

// The Sender's default transport against real local servers: TLS with the
// test server's CA, HTTP/2, an HTTP proxy, and the connections a Sender
// owns.

// tlsReceiver is an HTTPS receiver with HTTP/2 enabled that records the
// protocol and the signature check of each request.
type tlsReceiver struct {
	*httptest.Server
	protos   chan string
	verified atomic.Int32
}

func newTLSReceiver(t *testing.T) *tlsReceiver {
	t.Helper()
	rc := &tlsReceiver{protos: make(chan string, 16)}
	v := &webhook.Verifier{Keys: [][]byte{[]byte(testKey)}}
	rc.Server = httptest.NewUnstartedServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.verified.Add(1)
		rc.protos <- r.Proto
		io.WriteString(w, `{"id": "lead_7"}`)
	})))
	rc.EnableHTTP2 = true
	rc.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	rc.StartTLS()
	t.Cleanup(rc.Close)
	return rc
}

// roots trusts the receiver's test CA alone.
func (rc *tlsReceiver) roots() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(rc.Certificate())
	return &tls.Config{RootCAs: pool}
}

func TestSendTLS(t *testing.T) {
	rc := newTLSReceiver(t)

	t.Run("HTTP/2 with the roots of TLSConfig", func(t *testing.T) {
		s := &webhook.Sender{Key: []byte(testKey), AllowPrivate: true, TLSConfig: rc.roots(), RetryPolicy: webhook.NoRetry}
		for range 3 {
			res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
			require.NoError(t, err)
			assert.Equal(t, 200, res.Response.Status)
			assert.Equal(t, "HTTP/2.0", <-rc.protos)
		}
		assert.Equal(t, int32(3), rc.verified.Load(), "every attempt verified by the receiver")
	})
	t.Run("the system's roots do not know the test CA", func(t *testing.T) {
		before := rc.verified.Load()
		s := &webhook.Sender{AllowPrivate: true, RetryPolicy: webhook.NoRetry}
		res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
		var ue x509.UnknownAuthorityError
		require.ErrorAs(t, err, &ue)
		require.Len(t, res.Attempts, 1)
		assert.Equal(t, webhook.ClassConnection, res.Attempts[0].Class)
		assert.Equal(t, before, rc.verified.Load())
	})
}

// TestSendTLSHandshakeTimeout: a server that accepts and never answers
// the handshake fails the attempt as a timeout, within the attempt's
// timeout.
func TestSendTLSHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var held sync.WaitGroup
	conns := make(chan net.Conn, 4)
	held.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	})
	t.Cleanup(func() {
		ln.Close()
		held.Wait()
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	s := &webhook.Sender{AllowPrivate: true, Timeout: 100 * time.Millisecond, RetryPolicy: webhook.NoRetry}
	res, err := s.Send(context.Background(), leadRequest(t, "https://"+ln.Addr().String()+"/"), nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, res.Attempts, 1)
	assert.Equal(t, webhook.ClassTimeout, res.Attempts[0].Class)
}

// testProxy is an HTTP proxy on loopback that sends everything to one
// backend, whatever the request names: requests in absolute form are
// forwarded, CONNECT is tunnelled. It records what each request asked for,
// and filters nothing.
type testProxy struct {
	*httptest.Server
	mu      sync.Mutex
	seen    []proxyRequest
	tunnels []net.Conn
}

type proxyRequest struct {
	method, target, auth string
}

func newTestProxy(t *testing.T, backend string) *testProxy {
	t.Helper()
	p := &testProxy{}
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, backend)
	}
	forward := &http.Transport{DialContext: dial}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Host
		if r.Method != http.MethodConnect {
			target = r.URL.String()
		}
		p.mu.Lock()
		p.seen = append(p.seen, proxyRequest{r.Method, target, r.Header.Get("Proxy-Authorization")})
		p.mu.Unlock()
		if r.Method == http.MethodConnect {
			p.tunnel(w, r, dial)
			return
		}
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
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

// tunnel answers a CONNECT and copies bytes both ways between the client
// and the backend.
func (p *testProxy) tunnel(w http.ResponseWriter, r *http.Request, dial func(context.Context, string, string) (net.Conn, error)) {
	up, err := dial(r.Context(), "tcp", r.Host)
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
		// What the client sent after its CONNECT may already be buffered.
		io.Copy(up, io.MultiReader(io.LimitReader(buf.Reader, int64(buf.Reader.Buffered())), down))
	}()
	go func() {
		defer down.Close()
		io.Copy(down, up)
	}()
}

func (p *testProxy) requests() []proxyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proxyRequest(nil), p.seen...)
}

func (p *testProxy) url(t *testing.T, userinfo string) *url.URL {
	u, err := url.Parse(p.URL)
	require.NoError(t, err)
	if userinfo != "" {
		user, pass, _ := strings.Cut(userinfo, ":")
		u.User = url.UserPassword(user, pass)
	}
	return u
}

// TestSendThroughProxy: with a Proxy, http goes to the proxy in absolute
// form and https through CONNECT, HTTP/2 inside the tunnel. The proxy and
// the destinations are on loopback and the Sender does not allow private
// addresses: the proxy's address is the operator's choice, and the
// destination the proxy's to check.
func TestSendThroughProxy(t *testing.T) {
	t.Run("http in absolute form", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { io.WriteString(w, `{"id": "lead_1"}`) })
		p := newTestProxy(t, rc.Listener.Addr().String())
		s := &webhook.Sender{Key: []byte(testKey), Proxy: http.ProxyURL(p.url(t, "ops:proxy-secret")), RetryPolicy: webhook.NoRetry}
		res, err := s.Send(context.Background(), leadRequest(t, rc.URL+"/leads?src=x"), nil)
		require.NoError(t, err)
		assert.Equal(t, `{"id": "lead_1"}`, string(res.Response.Body))
		rc.requireSigned(t, 1, "key-123", []byte(leadBody))
		got := p.requests()
		require.Len(t, got, 1)
		assert.Equal(t, proxyRequest{"POST", rc.URL + "/leads?src=x", "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:proxy-secret"))}, got[0])
		assert.Empty(t, rc.seen()[0].header.Get("Proxy-Authorization"), "the proxy's credentials stop at the proxy")
	})
	t.Run("https through CONNECT", func(t *testing.T) {
		rc := newTLSReceiver(t)
		p := newTestProxy(t, rc.Listener.Addr().String())
		s := &webhook.Sender{Key: []byte(testKey), Proxy: http.ProxyURL(p.url(t, "")), TLSConfig: rc.roots(), RetryPolicy: webhook.NoRetry}
		for range 2 {
			_, err := s.Send(context.Background(), leadRequest(t, rc.URL+"/leads"), nil)
			require.NoError(t, err)
			assert.Equal(t, "HTTP/2.0", <-rc.protos)
		}
		assert.Equal(t, int32(2), rc.verified.Load())
		host := strings.TrimPrefix(rc.URL, "https://")
		assert.Equal(t, []proxyRequest{{"CONNECT", host, ""}}, p.requests(), "one tunnel, kept for the second request")
	})
	t.Run("a host name that is not ASCII, as punycode", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { io.WriteString(w, r.Host) })
		p := newTestProxy(t, rc.Listener.Addr().String())
		s := &webhook.Sender{Proxy: http.ProxyURL(p.url(t, "")), RetryPolicy: webhook.NoRetry}
		res, err := s.Send(context.Background(), leadRequest(t, "http://bücher.example:8080/hook"), nil)
		require.NoError(t, err)
		assert.Equal(t, "xn--bcher-kva.example:8080", string(res.Response.Body), "the Host header")
		assert.Equal(t, []proxyRequest{{"POST", "http://xn--bcher-kva.example:8080/hook", ""}}, p.requests())
	})
	t.Run("a request the Proxy sends directly is guarded", func(t *testing.T) {
		rc := newReceiver(t, status(200))
		p := newTestProxy(t, rc.Listener.Addr().String())
		via := p.url(t, "")
		direct := func(r *http.Request) (*url.URL, error) {
			if r.URL.Path == "/direct" {
				return nil, nil
			}
			return via, nil
		}
		s := &webhook.Sender{Proxy: direct, RetryPolicy: webhook.NoRetry}
		res, err := s.Send(context.Background(), leadRequest(t, rc.URL+"/direct"), nil)
		require.ErrorIs(t, err, webhook.ErrBlockedAddress)
		assert.Equal(t, webhook.ClassBlocked, res.Attempts[0].Class)
		assert.Empty(t, p.requests())
		assert.Zero(t, rc.n.Load())

		_, err = s.Send(context.Background(), leadRequest(t, rc.URL+"/proxied"), nil)
		require.NoError(t, err)
		assert.Len(t, p.requests(), 1)
	})
	t.Run("no proxy: the guard checks the destination", func(t *testing.T) {
		rc := newReceiver(t, status(200))
		s := &webhook.Sender{RetryPolicy: webhook.NoRetry}
		_, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
		require.ErrorIs(t, err, webhook.ErrBlockedAddress)
		assert.Zero(t, rc.n.Load())
	})
}

// countingReceiver answers 200 and signals each connection it opens and
// closes.
type countingReceiver struct {
	*httptest.Server
	opened, closed chan struct{}
}

func newCountingReceiver(t *testing.T) *countingReceiver {
	rc := &countingReceiver{opened: make(chan struct{}, 64), closed: make(chan struct{}, 64)}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	rc.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			rc.opened <- struct{}{}
		case http.StateClosed:
			rc.closed <- struct{}{}
		}
	}
	rc.Start()
	t.Cleanup(rc.Close)
	return rc
}

// TestSenderCloseIdleConnections: the connections a Sender keeps are its
// own, and CloseIdleConnections closes them.
func TestSenderCloseIdleConnections(t *testing.T) {
	rc := newCountingReceiver(t)
	s := &webhook.Sender{AllowPrivate: true, RetryPolicy: webhook.NoRetry}
	for range 3 {
		_, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
		require.NoError(t, err)
	}
	<-rc.opened
	assert.Empty(t, rc.opened, "one connection, kept alive")

	s.CloseIdleConnections()
	<-rc.closed // the server sees it closed

	_, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.NoError(t, err)
	<-rc.opened
	assert.Empty(t, rc.closed)

	// A custom transport is asked to close its own.
	var closed atomic.Int32
	custom := &webhook.Sender{Transport: closeCounting{http.DefaultTransport, &closed}}
	custom.CloseIdleConnections()
	assert.Equal(t, int32(1), closed.Load())
}

type closeCounting struct {
	http.RoundTripper
	n *atomic.Int32
}

func (c closeCounting) CloseIdleConnections() { c.n.Add(1) }

// TestSenderCopy: a copy of a Sender is another Sender, with its own
// connections and its own address rules, even once the original has sent.
func TestSenderCopy(t *testing.T) {
	rc := newCountingReceiver(t)
	s := &webhook.Sender{AllowPrivate: true, RetryPolicy: webhook.NoRetry}
	_, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.NoError(t, err)
	<-rc.opened

	strict := *s
	strict.AllowPrivate = false
	_, err = strict.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.ErrorIs(t, err, webhook.ErrBlockedAddress)

	other := *s
	_, err = other.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.NoError(t, err)
	<-rc.opened // a connection of its own

	_, err = s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.NoError(t, err)
	assert.Empty(t, rc.opened, "the original still has its connection")
}

// CloseIdleConnections may be called at any time, even while the first
// Sends are making the transport.
func TestSenderCloseIdleConnectionsConcurrently(t *testing.T) {
	rc := newReceiver(t, status(200))
	s := &webhook.Sender{AllowPrivate: true, RetryPolicy: webhook.NoRetry}
	req := leadRequest(t, rc.URL)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(s.CloseIdleConnections)
		wg.Go(func() {
			_, err := s.Send(context.Background(), req, nil)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, int32(8), rc.n.Load())
}

// TestSendResponseHeaderBound: a response header past 1 MiB fails the
// attempt, as a body past the cap does.
func TestSendResponseHeaderBound(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		for i := range 40 {
			w.Header().Set("X-Pad-"+strconv.Itoa(i), strings.Repeat("x", 32<<10))
		}
		w.WriteHeader(http.StatusOK)
	})
	s := &webhook.Sender{AllowPrivate: true, RetryPolicy: webhook.NoRetry}
	res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "header")
	require.Len(t, res.Attempts, 1)
	assert.Equal(t, webhook.ClassConnection, res.Attempts[0].Class)
	assert.Nil(t, res.Response)
}
