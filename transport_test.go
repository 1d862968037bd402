package webhook

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testConns() *conns {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &conns{dial: d.DialContext, maxIdle: 16, maxIdleAll: 64, idleTimeout: time.Minute}
}

// countingServer is an httptest server that counts the connections it
// accepts and closes.
type countingServer struct {
	*httptest.Server
	opened, closed atomic.Int64
}

func newCountingServer(t *testing.T, tlsOn bool, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	if tlsOn {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// scriptServer accepts connections and hands each, numbered from 1, to
// script with a reader of its requests.
func scriptServer(t *testing.T, script func(n int, c net.Conn, r *bufio.Reader)) (url string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(accepted.Add(1))
			wg.Go(func() {
				defer c.Close()
				script(n, c, bufio.NewReader(c))
			})
		}
	})
	return "http://" + ln.Addr().String() + "/", accepted
}

// readRequest reads one request and its body from r, or fails t.
func readRequest(t *testing.T, r *bufio.Reader) (*http.Request, []byte) {
	req, err := http.ReadRequest(r)
	if !assert.NoError(t, err) {
		return nil, nil
	}
	body, err := io.ReadAll(req.Body)
	assert.NoError(t, err)
	return req, body
}

// roundTrip posts body to url through t and reads the whole response.
func roundTrip(ctx context.Context, t *conns, url, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	resp, err := t.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestConnsReuse: sequential requests share one connection, whatever the
// framing of the responses, and a connection idle for longer than
// checkIdleAfter is checked and still reused when the server kept it.
func TestConnsReuse(t *testing.T) {
	n := 0
	srv := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n++
		switch n % 3 {
		case 0: // chunked
			w.Write(body[:1])
			w.(http.Flusher).Flush()
			w.Write(body[1:])
		case 1: // declared length
			w.Header().Set("Content-Length", itoa(len(body)))
			w.Write(body)
		case 2: // no body
			w.WriteHeader(http.StatusNoContent)
		}
	})
	tr := testConns()
	for i := 1; i <= 7; i++ {
		if i == 6 {
			time.Sleep(checkIdleAfter + 50*time.Millisecond)
		}
		status, body, err := roundTrip(context.Background(), tr, srv.URL, "hello "+itoa(i))
		require.NoError(t, err)
		if i%3 == 2 {
			assert.Equal(t, http.StatusNoContent, status)
			assert.Empty(t, body)
		} else {
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, "hello "+itoa(i), body)
		}
	}
	assert.Equal(t, int64(1), srv.opened.Load())
	assert.Equal(t, int64(0), srv.closed.Load())
}

// TestConnsRetriesClosedConnection: a request that meets a connection the
// server closed while it sat in the pool is sent again, whole, on a new
// connection.
func TestConnsRetriesClosedConnection(t *testing.T) {
	got := make(chan string, 4)
	url, accepted := scriptServer(t, func(n int, c net.Conn, r *bufio.Reader) {
		_, body := readRequest(t, r)
		got <- itoa(n) + ":" + string(body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// Closed without saying so, as a server whose idle timeout has
		// just passed does.
	})
	tr := testConns()
	for i, body := range []string{"first", "second"} {
		status, resp, err := roundTrip(context.Background(), tr, url, body)
		require.NoError(t, err, "request %d", i+1)
		assert.Equal(t, 200, status)
		assert.Equal(t, "ok", resp)
		if i == 0 {
			// Let the close arrive, but not long enough for a check.
			time.Sleep(10 * time.Millisecond)
		}
	}
	assert.Equal(t, int64(2), accepted.Load())
	assert.Equal(t, "1:first", <-got)
	assert.Equal(t, "2:second", <-got)
}

// TestConnsSkipsUnaskedResponse: what a server writes to an idle
// connection (here a 408 before it closes) is never read as the next
// request's response.
func TestConnsSkipsUnaskedResponse(t *testing.T) {
	sent := make(chan struct{})
	url, accepted := scriptServer(t, func(n int, c net.Conn, r *bufio.Reader) {
		readRequest(t, r)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nn="+itoa(n))
		if n == 1 {
			time.Sleep(20 * time.Millisecond)
			io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
			close(sent)
			// Kept open: only the data shows that the connection is spent.
			time.Sleep(time.Second)
		}
	})
	tr := testConns()
	status, body, err := roundTrip(context.Background(), tr, url, "a")
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "n=1", body)
	<-sent
	time.Sleep(checkIdleAfter + 50*time.Millisecond)
	status, body, err = roundTrip(context.Background(), tr, url, "b")
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "n=2", body)
	assert.Equal(t, int64(2), accepted.Load())
}

// TestConnsDoesNotRetry: a request is not sent again when the connection
// was new, or when part of its response had arrived.
func TestConnsDoesNotRetry(t *testing.T) {
	t.Run("new connection", func(t *testing.T) {
		url, accepted := scriptServer(t, func(n int, c net.Conn, r *bufio.Reader) {
			readRequest(t, r)
		})
		_, _, err := roundTrip(context.Background(), testConns(), url, "x")
		require.Error(t, err)
		assert.Equal(t, int64(1), accepted.Load())
	})
	t.Run("part of the response", func(t *testing.T) {
		var requests atomic.Int64
		url, accepted := scriptServer(t, func(n int, c net.Conn, r *bufio.Reader) {
			readRequest(t, r)
			requests.Add(1)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			readRequest(t, r)
			requests.Add(1)
			io.WriteString(c, "HTTP/1.1 2")
		})
		tr := testConns()
		_, _, err := roundTrip(context.Background(), tr, url, "x")
		require.NoError(t, err)
		_, _, err = roundTrip(context.Background(), tr, url, "y")
		require.Error(t, err)
		assert.Equal(t, int64(1), accepted.Load())
		assert.Equal(t, int64(2), requests.Load())
	})
}

// TestConnsResponseBounds: a header past the bound, too many 1xx
// responses and an unasked protocol switch fail the request; an
// informational response before the final one is skipped.
func TestConnsResponseBounds(t *testing.T) {
	for _, tc := range []struct {
		name, response, want string
		wantErr              error
	}{
		{name: "early hints", response: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", want: "ok"},
		{name: "huge header", response: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", maxResponseHeaderBytes) + "\r\n\r\n", wantErr: errResponseHeaderTooLarge},
		{name: "many 1xx", response: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", maxInformational+1) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{name: "101", response: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := scriptServer(t, func(n int, c net.Conn, r *bufio.Reader) {
				readRequest(t, r)
				io.WriteString(c, tc.response)
			})
			_, body, err := roundTrip(context.Background(), testConns(), url, "x")
			if tc.want != "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, body)
				return
			}
			require.Error(t, err)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
}

// TestConnsCloses: a connection is not reused after Connection: close, an
// HTTP/1.0 body that ends with the connection, or a body closed before its
// end; the server sees each closed.
func TestConnsCloses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		response string
		readAll  bool
	}{
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true},
		{"http/1.0 to the end", "HTTP/1.0 200 OK\r\n\r\nok", true},
		{"body not read", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eofs := make(chan error, 2)
			url, accepted := scriptServer(t, func(n int, c net.Conn, r *bufio.Reader) {
				readRequest(t, r)
				io.WriteString(c, tc.response)
				if strings.HasPrefix(tc.response, "HTTP/1.0") {
					return
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := r.ReadByte()
				eofs <- err
			})
			tr := testConns()
			for range 2 {
				req, err := http.NewRequest("POST", url, strings.NewReader("x"))
				require.NoError(t, err)
				resp, err := tr.RoundTrip(req)
				require.NoError(t, err)
				if tc.readAll {
					b, err := io.ReadAll(resp.Body)
					require.NoError(t, err)
					assert.Equal(t, "ok", string(b))
				}
				resp.Body.Close()
				if !tc.readAll {
					_, err := resp.Body.Read(make([]byte, 1))
					assert.ErrorIs(t, err, errBodyClosed)
				}
			}
			assert.Equal(t, int64(2), accepted.Load())
			if !strings.HasPrefix(tc.response, "HTTP/1.0") {
				assert.ErrorIs(t, <-eofs, io.EOF)
			}
		})
	}
}

// TestConnsContextEnds: cancelling the context ends a body read at once,
// with the context's error, and the connection is closed.
func TestConnsContextEnds(t *testing.T) {
	release := make(chan struct{})
	srv := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr := testConns()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	b, err := io.ReadAll(resp.Body)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "part", string(b))
	_, err = resp.Body.Read(make([]byte, 1))
	assert.ErrorIs(t, err, context.Canceled, "a body that failed fails again")
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Eventually(t, func() bool { return srv.closed.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	tr.mu.Lock()
	assert.Empty(t, tr.idle)
	tr.mu.Unlock()
}

// TestConnsTLS: https connections verify the server's certificate for the
// URL's host and are reused.
func TestConnsTLS(t *testing.T) {
	srv := newCountingServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	tr := testConns()
	tr.tlsConfig = &tls.Config{RootCAs: pool}
	for range 3 {
		status, body, err := roundTrip(context.Background(), tr, srv.URL, "x")
		require.NoError(t, err)
		assert.Equal(t, 200, status)
		assert.Equal(t, "HTTP/1.1", body)
	}
	assert.Equal(t, int64(1), srv.opened.Load())

	// Without the test root, the certificate is refused.
	_, _, err := roundTrip(context.Background(), testConns(), srv.URL, "x")
	var unknown x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &unknown)

	// The certificate is for 127.0.0.1 and example.com, not localhost.
	_, _, err = roundTrip(context.Background(), tr, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), "x")
	var invalid x509.HostnameError
	assert.ErrorAs(t, err, &invalid)
}

// TestConnsIdleLimits: at most maxIdle connections per host are kept, and
// none for longer than idleTimeout.
func TestConnsIdleLimits(t *testing.T) {
	var inside sync.WaitGroup
	inside.Add(3)
	srv := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		inside.Done()
		inside.Wait()
	})
	tr := testConns()
	tr.maxIdle = 2
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, _, err := roundTrip(context.Background(), tr, srv.URL, "x")
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	tr.mu.Lock()
	kept := len(tr.idle[srv.URL])
	tr.mu.Unlock()
	assert.Equal(t, 2, kept)
	assert.Eventually(t, func() bool { return srv.closed.Load() == 1 }, 5*time.Second, 5*time.Millisecond)

	// The sweep closes what has been idle for idleTimeout, and no more.
	tr.mu.Lock()
	tr.oldest.idleAt = tr.oldest.idleAt.Add(-tr.idleTimeout)
	tr.mu.Unlock()
	tr.sweep()
	assert.Eventually(t, func() bool { return srv.closed.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	tr.mu.Lock()
	assert.Equal(t, 1, tr.nidle)
	assert.True(t, tr.sweeping, "the sweep runs again while any are idle")
	tr.oldest.idleAt = tr.oldest.idleAt.Add(-tr.idleTimeout)
	tr.mu.Unlock()
	tr.sweep()
	assert.Eventually(t, func() bool { return srv.closed.Load() == 3 }, 5*time.Second, 5*time.Millisecond)
	tr.mu.Lock()
	assert.Empty(t, tr.idle)
	assert.Zero(t, tr.nidle)
	assert.Nil(t, tr.oldest)
	assert.Nil(t, tr.newest)
	assert.False(t, tr.sweeping)
	tr.mu.Unlock()
}

// TestConnsSweepRuns: idle connections are swept without any call, once
// they have been idle for idleTimeout.
func TestConnsSweepRuns(t *testing.T) {
	srv := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {})
	tr := testConns()
	tr.idleTimeout = 50 * time.Millisecond
	_, _, err := roundTrip(context.Background(), tr, srv.URL, "x")
	require.NoError(t, err)
	assert.Eventually(t, func() bool { return srv.closed.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
}

// TestConnsIdleLimitAllHosts: past the limit for all hosts together, the
// connection idle longest is closed to make room.
func TestConnsIdleLimitAllHosts(t *testing.T) {
	srv := map[string]*countingServer{}
	for _, name := range []string{"a", "b", "c"} {
		srv[name] = newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {})
	}
	tr := testConns()
	tr.maxIdleAll = 2
	for _, name := range []string{"a", "b", "c", "b", "a"} {
		_, _, err := roundTrip(context.Background(), tr, srv[name].URL, "x")
		require.NoError(t, err)
	}
	// c evicted a's first connection, and the second a evicted c's, which
	// had been idle longer than b's since b was reused.
	assert.Equal(t, int64(2), srv["a"].opened.Load())
	assert.Equal(t, int64(1), srv["b"].opened.Load())
	assert.Equal(t, int64(1), srv["c"].opened.Load())
	assert.Eventually(t, func() bool { return srv["a"].closed.Load() == 1 && srv["c"].closed.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, srv["b"].closed.Load())
	tr.mu.Lock()
	assert.Equal(t, 2, tr.nidle)
	assert.Len(t, tr.idle, 2)
	assert.Equal(t, srv["b"].URL, tr.oldest.key)
	assert.Equal(t, srv["a"].URL, tr.newest.key)
	tr.mu.Unlock()

	tr.CloseIdleConnections()
	assert.Eventually(t, func() bool { return srv["a"].closed.Load() == 2 && srv["b"].closed.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
}

// TestConnsRefuses: a URL the transport cannot serve fails without
// dialing, and the request body is closed.
func TestConnsRefuses(t *testing.T) {
	for _, u := range []string{"ftp://example.com/", "http:///path"} {
		body := &closeCounter{Reader: bytes.NewReader([]byte("x"))}
		req, err := http.NewRequest("POST", u, body)
		require.NoError(t, err)
		_, err = testConns().RoundTrip(req)
		require.Error(t, err, u)
		assert.Equal(t, 1, body.closed, u)
	}
}

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

// TestConnsDeadline: a deadline given with the request bounds its body's
// reading, is cleared before the connection is reused, and does not undo
// a context that has already ended.
func TestConnsDeadline(t *testing.T) {
	srv := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, "ok")
	})
	tr := testConns()
	get := func(ctx context.Context, path string, deadline time.Time) (string, error) {
		return getWith(ctx, t, tr, srv.URL+path, deadline)
	}

	body, err := get(context.Background(), "/", time.Now().Add(100*time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, "ok", body)
	time.Sleep(150 * time.Millisecond)
	body, err = get(context.Background(), "/", time.Time{})
	require.NoError(t, err, "the first request's deadline is not left on the connection")
	assert.Equal(t, "ok", body)
	assert.Equal(t, int64(1), srv.opened.Load())

	start := time.Now()
	body, err = get(context.Background(), "/stall", time.Now().Add(50*time.Millisecond))
	assert.True(t, isTimeout(err), "%v", err)
	assert.Equal(t, "part", body)
	assert.Less(t, time.Since(start), 2*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = get(ctx, "/", time.Now().Add(time.Hour))
	assert.ErrorIs(t, err, context.Canceled)
}

// FuzzConnsResponse: whatever a server answers, a round trip ends by its
// deadline without a panic, a body never reads past what was sent, and a
// connection goes back to the pool only with nothing left unread.
func FuzzConnsResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 408 Request Timeout\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok",
		"garbage",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, response []byte) {
		client, server := net.Pipe()
		defer client.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer server.Close()
			server.SetDeadline(time.Now().Add(time.Second))
			if _, err := http.ReadRequest(bufio.NewReader(server)); err != nil {
				return
			}
			server.Write(response)
		}()
		dialed := false
		tr := &conns{
			dial: func(context.Context, string, string) (net.Conn, error) {
				if dialed {
					return nil, errors.New("one connection only")
				}
				dialed = true
				return client, nil
			},
			maxIdle: 1, maxIdleAll: 1, idleTimeout: time.Minute,
		}
		req, err := http.NewRequest("POST", "http://example.com/", strings.NewReader("x"))
		require.NoError(t, err)
		resp, err := tr.roundTrip(req, time.Now().Add(2*time.Second))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.LessOrEqual(t, len(b), len(response))
			assert.False(t, resp.StatusCode >= 100 && resp.StatusCode <= 199, "an informational response is never final")
		}
		tr.mu.Lock()
		for _, cs := range tr.idle {
			for _, c := range cs {
				assert.Zero(t, c.br.Buffered(), "a pooled connection holds unread bytes")
			}
		}
		tr.mu.Unlock()
		tr.CloseIdleConnections()
		<-done
	})
}

// fakeConn is a connection that only records being closed.
type fakeConn struct {
	net.Conn
	closed bool
}

func (c *fakeConn) Close() error { c.closed = true; return nil }

// TestConnsPoolInvariants drives the pool with random puts and gets over
// a few hosts and checks after each step that the hosts' stacks and the
// order of all idle connections agree, within the limits, and that no
// connection is both closed and kept or lost without being closed.
func TestConnsPoolInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := &conns{maxIdle: 3, maxIdleAll: 5, idleTimeout: time.Hour}
	var inUse, live []*conn
	keys := []string{"http://a:80", "http://b:80", "http://c:80", "http://d:80"}
	for step := range 5000 {
		key := keys[rng.IntN(len(keys))]
		if rng.IntN(2) == 0 || len(inUse) == 0 {
			if c := tr.get(key); c != nil {
				require.Equal(t, key, c.key)
				inUse = append(inUse, c)
			} else {
				nc := &fakeConn{}
				c := &conn{key: key, nc: nc, raw: nc}
				live = append(live, c)
				inUse = append(inUse, c)
			}
		} else {
			i := rng.IntN(len(inUse))
			c := inUse[i]
			inUse = slices.Delete(inUse, i, i+1)
			tr.put(c)
		}

		tr.mu.Lock()
		pooled := map[*conn]bool{}
		n := 0
		for key, cs := range tr.idle {
			require.LessOrEqual(t, len(cs), tr.maxIdle)
			for i, c := range cs {
				require.Equal(t, key, c.key)
				if i > 0 {
					require.False(t, c.idleAt.Before(cs[i-1].idleAt), "step %d: stack out of order", step)
				}
				pooled[c] = true
				n++
			}
		}
		require.Equal(t, n, tr.nidle, "step %d", step)
		require.LessOrEqual(t, n, tr.maxIdleAll)
		listed := 0
		var prev *conn
		for c := tr.oldest; c != nil; prev, c = c, c.newer {
			require.True(t, pooled[c], "step %d: a listed connection is not in its stack", step)
			require.Equal(t, prev, c.older)
			if prev != nil {
				require.False(t, c.idleAt.Before(prev.idleAt), "step %d: list out of order", step)
			}
			listed++
		}
		require.Equal(t, prev, tr.newest)
		require.Equal(t, n, listed, "step %d", step)
		tr.mu.Unlock()
		if step%500 == 499 {
			tr.sweep()
			tr.mu.Lock()
			for key, cs := range tr.idle {
				require.NotEmpty(t, cs, "an empty stack for %s outlives a sweep", key)
			}
			tr.mu.Unlock()
		}
		// Every connection is in exactly one of: closed, in use, idle. A
		// closed one is checked once and forgotten.
		used := map[*conn]bool{}
		for _, c := range inUse {
			used[c] = true
		}
		live = slices.DeleteFunc(live, func(c *conn) bool {
			closed := c.nc.(*fakeConn).closed
			if n := btoi(closed) + btoi(used[c]) + btoi(pooled[c]); n != 1 {
				t.Fatalf("step %d: a connection is closed %v, in use %v and idle %v", step, closed, used[c], pooled[c])
			}
			return closed
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestConnsIDNA: a host name that is not ASCII is dialled, verified and
// sent as its punycode form, through net/http; an ASCII one never is.
func TestConnsIDNA(t *testing.T) {
	var host atomic.Value
	srv := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		host.Store(r.Host)
		io.WriteString(w, "ok")
	})
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	var dialed []string
	tr := testConns()
	tr.idna = &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}

	body, err := getWith(context.Background(), t, tr, "http://bücher.example:"+port+"/hook", time.Now().Add(5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "ok", body)
	assert.Equal(t, []string{"xn--bcher-kva.example:" + port}, dialed)
	assert.Equal(t, "xn--bcher-kva.example:"+port, host.Load())

	body, err = getWith(context.Background(), t, tr, srv.URL, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, "ok", body)
	assert.Len(t, dialed, 1, "an ASCII host is not handed over")
	assert.Equal(t, srv.Listener.Addr().String(), host.Load())
}

// getWith makes a GET through tr.roundTrip and reads the whole body.
func getWith(ctx context.Context, t *testing.T, tr *conns, url string, deadline time.Time) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	resp, err := tr.roundTrip(req, deadline)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestDefaultTransportIDNAGuarded: the net/http Transport that takes
// non-ASCII host names dials through the same address guard, with no
// proxy.
func TestDefaultTransportIDNAGuarded(t *testing.T) {
	ht, ok := sharedTransport(AddressGuard{}).idna.(*http.Transport)
	require.True(t, ok)
	assert.Nil(t, ht.Proxy)
	_, err := ht.DialContext(context.Background(), "tcp", "127.0.0.1:9")
	assert.ErrorIs(t, err, ErrBlockedAddress)
}
