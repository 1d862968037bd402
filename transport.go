package webhook

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// conns is the Sender's default transport: HTTP/1.1 over a pool of
// kept-alive connections, with each request written and its response read
// on the goroutine that sends it. net/http's Transport passes every request
// to a writing and a reading goroutine of its connection; on a busy sender
// those hand-offs cost more than rendering and signing together. Responses
// are read by net/http's ReadResponse, and requests are written as its
// Request.Write writes them (writeRequest).
//
// It leaves out what a webhook sender has no use for: proxies (they would
// hide the destination from the address guard), HTTP/2, transparent gzip
// (the Sender decompresses within its cap) and waiting for 100-continue.
// A host name that is not ASCII goes to idna, a net/http Transport: it
// turns the name into its ASCII (punycode) form for the dial, the
// certificate check and the Host header, which the standard library
// offers nowhere else.
type conns struct {
	idna        http.RoundTripper
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsConfig   *tls.Config // cloned for each connection; nil for the defaults
	maxIdle     int         // idle connections kept per host
	maxIdleAll  int         // and for all hosts together
	idleTimeout time.Duration

	mu             sync.Mutex
	idle           map[string][]*conn // by scheme://host:port, most recently used last
	oldest, newest *conn              // all of idle, in the order they were put
	nidle          int
	sweeping       bool
}

const (
	// maxResponseHeaderBytes bounds a response's status line and header.
	maxResponseHeaderBytes = 1 << 20
	// maxInformational bounds the 1xx responses before the final one.
	maxInformational    = 8
	tlsHandshakeTimeout = 10 * time.Second

	// checkIdleAfter is how long a connection may sit idle and be reused
	// without a look at whether the server has closed it. Servers close
	// idle connections after seconds, sometimes after writing an unasked
	// 408 that must not be taken for the next response; a connection in
	// steady use is spared the system call.
	checkIdleAfter = 100 * time.Millisecond
)

// conn is one connection to a host.
type conn struct {
	key    string
	nc     net.Conn // what requests are written to: TLS over raw, or raw
	raw    net.Conn
	r      connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	reused bool

	// While idle: since when, and the connections put just before and
	// after it.
	idleAt       time.Time
	older, newer *conn
}

// connReader counts the bytes read, so that a failed request knows whether
// any of its response arrived, and bounds the response header.
type connReader struct {
	nc   net.Conn
	n    int64 // bytes read in all
	left int64 // bytes that may still be read; negative for no bound
}

var errResponseHeaderTooLarge = fmt.Errorf("webhook: response header longer than %d bytes", maxResponseHeaderBytes)

func (r *connReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, errResponseHeaderTooLarge
	}
	if r.left > 0 && int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.nc.Read(p)
	r.n += int64(n)
	if r.left > 0 {
		r.left -= int64(n)
	}
	return n, err
}

// RoundTrip sends req on an idle connection to its host, or on a new one.
// A request that fails on a reused connection before any of its response
// arrived is sent once more on a new connection: the server may have
// closed the connection as the request went out. net/http does the same
// for requests that carry an idempotency key, as the Sender's all do.
func (t *conns) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, time.Time{})
}

// roundTrip is RoundTrip with a deadline for the round trip and the
// reading of the body, set on the connection itself. It spares each of
// the Sender's attempts a context with a timer of its own and a watch on
// that context: about 1.5 µs and nine allocations.
func (t *conns) roundTrip(req *http.Request, deadline time.Time) (*http.Response, error) {
	ctx := req.Context()
	key, addr, err := connKey(req)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if t.idna != nil && !isASCII(req.URL.Hostname()) {
		return roundTripBy(t.idna, req, deadline)
	}
	for fresh := false; ; fresh = true {
		var c *conn
		if !fresh {
			c = t.get(key)
		}
		if c == nil {
			if c, err = t.connect(ctx, deadline, key, addr, req.URL.Hostname()); err != nil {
				closeBody(req)
				return nil, err
			}
		}
		before := c.r.n
		resp, err := t.exchange(ctx, deadline, c, req)
		if err == nil {
			return resp, nil
		}
		c.nc.Close()
		if ctx.Err() != nil {
			closeBody(req)
			return nil, ctx.Err()
		}
		if fresh || !c.reused || c.r.n != before || isTimeout(err) ||
			(req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			closeBody(req)
			return nil, err
		}
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			again := *req
			again.Body = body
			req = &again
		}
	}
}

// exchange writes req on c and reads the response header. The response
// body puts c back in the pool once it has been read to the end.
func (t *conns) exchange(ctx context.Context, deadline time.Time, c *conn, req *http.Request) (*http.Response, error) {
	if !deadline.IsZero() {
		c.nc.SetDeadline(deadline)
	}
	// The end of the context ends every read and write on c at once. It is
	// watched after the deadline is set, which would otherwise undo it.
	stop := noStop
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	}
	if err := writeRequest(c.bw, req); err != nil {
		stop()
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		stop()
		return nil, err
	}
	c.r.left = maxResponseHeaderBytes
	var resp *http.Response
	for i := 0; ; i++ {
		var err error
		if resp, err = http.ReadResponse(c.br, req); err != nil {
			stop()
			return nil, err
		}
		if code := resp.StatusCode; code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			break
		}
		if i == maxInformational {
			stop()
			return nil, fmt.Errorf("webhook: more than %d informational (1xx) responses", maxInformational)
		}
	}
	c.r.left = -1
	if resp.StatusCode == http.StatusSwitchingProtocols {
		stop()
		return nil, errors.New("webhook: the server switched protocols unasked (101)")
	}
	keep := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		t.release(c, stop, keep, !deadline.IsZero())
		return resp, nil
	}
	resp.Body = &connBody{t: t, c: c, ctx: ctx, body: resp.Body, stop: stop, keep: keep, deadline: !deadline.IsZero()}
	return resp, nil
}

// wake starts a goroutine that does nothing, for its effect on the
// scheduler: an idle processor's thread wakes to run it and stays awake
// looking for work while the request is on the wire. When the receiver is
// on the same machine, or answers at once, that thread takes the response
// as it arrives, instead of a thread waking from sleep then. net/http's
// hand-offs between goroutines do this as a side effect. The Sender calls
// it as an attempt starts, since a thread takes microseconds to wake: one
// request at a time to a local receiver then takes about a fifth less time
// than when it is called just before the request is written, and that
// in turn about a seventh less than without it. With every processor busy
// it costs only the goroutine.
func wake() { go func() {}() }

var errBodyClosed = errors.New("webhook: read on a closed response body")

// noStop stands for a watch on a context that cannot end.
func noStop() bool { return true }

// aLongTimeAgo is a deadline that has passed, to end blocked reads and
// writes at once.
var aLongTimeAgo = time.Unix(1, 0)

// release puts c back in the pool when its response was read to the end
// and nothing more waits on it, and closes it otherwise. A deadline set
// for the request is cleared first.
func (t *conns) release(c *conn, stop func() bool, keep, deadline bool) {
	// stop is false once the context has ended, and with it c's deadline.
	if !stop() || !keep || c.br.Buffered() > 0 {
		c.nc.Close()
		return
	}
	if deadline {
		c.nc.SetDeadline(time.Time{})
	}
	t.put(c)
}

// connBody is a response body that releases its connection at the end.
// Like the body of an http.Response, it is for one goroutine at a time;
// the request's context may end at any time.
type connBody struct {
	t        *conns
	c        *conn
	ctx      context.Context
	body     io.ReadCloser
	stop     func() bool
	keep     bool
	deadline bool // the request set one on c
	done     bool
	err      error // what ended the body: io.EOF, or why not
}

func (b *connBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, b.err
	}
	n, err := b.body.Read(p)
	if err != nil {
		b.done = true
		b.t.release(b.c, b.stop, err == io.EOF && b.keep, b.deadline)
		if err != io.EOF && b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		b.err = err
	}
	return n, err
}

// Close closes the connection when the body was not read to the end: what
// is left of it could be any length.
func (b *connBody) Close() error {
	if !b.done {
		b.done, b.err = true, errBodyClosed
		b.stop()
		b.c.nc.Close()
	}
	return nil
}

// get takes an idle connection to key from the pool, or returns nil.
func (t *conns) get(key string) *conn {
	for {
		t.mu.Lock()
		cs := t.idle[key]
		if len(cs) == 0 {
			t.mu.Unlock()
			return nil
		}
		c := cs[len(cs)-1]
		cs[len(cs)-1] = nil
		t.idle[key] = cs[:len(cs)-1]
		t.unlink(c)
		t.mu.Unlock()
		idle := time.Since(c.idleAt)
		if idle < t.idleTimeout && (idle < checkIdleAfter || !readable(c.raw)) {
			c.reused = true
			return c
		}
		// Expired, closed by the server, or holding something the server
		// sent unasked.
		c.nc.Close()
	}
}

// put keeps c for the next request to its host. Past the limit for all
// hosts, the connection idle longest makes room: it is the likeliest to
// have been closed by its server, or to be to a host not sent to again.
func (t *conns) put(c *conn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	cs := t.idle[c.key]
	if len(cs) >= t.maxIdle {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	var evicted *conn
	if t.nidle >= t.maxIdleAll {
		if evicted = t.oldest; evicted == nil {
			t.mu.Unlock()
			c.nc.Close()
			return
		}
		t.remove(evicted)
		cs = t.idle[c.key]
	}
	if t.idle == nil {
		t.idle = make(map[string][]*conn)
	}
	t.idle[c.key] = append(cs, c)
	c.older, c.newer = t.newest, nil
	if t.newest != nil {
		t.newest.newer = c
	} else {
		t.oldest = c
	}
	t.newest = c
	t.nidle++
	if !t.sweeping {
		t.sweeping = true
		time.AfterFunc(t.idleTimeout, t.sweep)
	}
	t.mu.Unlock()
	if evicted != nil {
		evicted.nc.Close()
	}
}

// unlink takes c out of the order of idle connections.
func (t *conns) unlink(c *conn) {
	if c.older != nil {
		c.older.newer = c.newer
	} else {
		t.oldest = c.newer
	}
	if c.newer != nil {
		c.newer.older = c.older
	} else {
		t.newest = c.older
	}
	c.older, c.newer = nil, nil
	t.nidle--
}

// remove takes c, the oldest idle connection to its host, out of the
// pool.
func (t *conns) remove(c *conn) {
	t.unlink(c)
	cs := t.idle[c.key]
	if len(cs) == 1 {
		delete(t.idle, c.key)
		return
	}
	n := copy(cs, cs[1:])
	cs[n] = nil
	t.idle[c.key] = cs[:n]
}

// sweep closes the connections idle for idleTimeout or longer, and runs
// again while any are left.
func (t *conns) sweep() {
	var expired []*conn
	t.mu.Lock()
	now := time.Now()
	for c := t.oldest; c != nil && now.Sub(c.idleAt) >= t.idleTimeout; c = t.oldest {
		t.remove(c)
		expired = append(expired, c)
	}
	// get leaves a host's empty stack for the next put to reuse; a host
	// not sent to since the last sweep loses it.
	for key, cs := range t.idle {
		if len(cs) == 0 {
			delete(t.idle, key)
		}
	}
	t.sweeping = t.nidle > 0
	if t.sweeping {
		time.AfterFunc(t.idleTimeout/2, t.sweep)
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.nc.Close()
	}
}

// CloseIdleConnections closes every idle connection.
func (t *conns) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle, t.nidle = nil, 0
	t.oldest, t.newest = nil, nil
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.nc.Close()
		}
	}
}

// connect dials addr, and speaks TLS to host over it for an https key,
// by the deadline if it is set.
func (t *conns) connect(ctx context.Context, deadline time.Time, key, addr, host string) (*conn, error) {
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	raw, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{key: key, nc: raw, raw: raw}
	if strings.HasPrefix(key, "https:") {
		cfg := t.tlsConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(raw, cfg)
		hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return nil, err
		}
		c.nc = tc
	}
	c.r = connReader{nc: c.nc, left: -1}
	c.br = bufio.NewReader(&c.r)
	c.bw = bufio.NewWriter(c.nc)
	return c, nil
}

// connKey names the pool of req's destination, and the address to dial.
func connKey(req *http.Request) (key, addr string, err error) {
	u := req.URL
	if u == nil {
		return "", "", errors.New("webhook: request without a URL")
	}
	port := u.Port()
	switch u.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		return "", "", fmt.Errorf("webhook: unsupported URL scheme %q", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return "", "", errors.New("webhook: request URL without a host")
	}
	addr = net.JoinHostPort(host, port)
	return u.Scheme + "://" + addr, addr, nil
}

// roundTripBy makes the round trip with rt, ending it by deadline (if set)
// through the request's context.
func roundTripBy(rt http.RoundTripper, req *http.Request, deadline time.Time) (*http.Response, error) {
	if deadline.IsZero() {
		return rt.RoundTrip(req)
	}
	ctx, cancel := context.WithDeadline(req.Context(), deadline)
	resp, err := rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelBody{resp.Body, cancel}
	return resp, nil
}

// cancelBody releases its request's context when it is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
