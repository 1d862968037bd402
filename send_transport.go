package webhook

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// A Sender's own transport: net/http's Transport, made for each Sender on
// first use, with the address guard in its dialer and the proxy's dial
// told apart from the destination's.

// CloseIdleConnections closes the connections that s's default transport
// keeps open between requests, or calls CloseIdleConnections on Transport
// when it has that method, as http.Client does. Connections in use are
// left alone, and the next Send dials again as needed. A Sender that is no
// longer reachable has its idle connections closed by the garbage
// collector; call this to close them sooner (when a worker stops, say).
func (s *Sender) CloseIdleConnections() {
	if s.Transport != nil {
		if c, ok := s.Transport.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
		return
	}
	if c, ok := senders.Load(weak.Make(s)); ok {
		c.(*senderState).closeIdle()
	}
}

// The default transport's pool. It keeps more idle connections per host
// than the concurrency a busy service sends with (a delivery worker runs
// 300 attempts at once by default), so that the connections of a burst
// are reused by the next one rather than closed and dialed again; each is
// closed after idleConnTimeout unused.
const (
	maxIdleConnsPerHost = 1024
	maxIdleConns        = 4 * maxIdleConnsPerHost
	idleConnTimeout     = 90 * time.Second
	tcpKeepAlive        = 30 * time.Second

	// maxResponseHeaderBytes bounds a response's status line and header,
	// as MaxResponseBytes bounds its body.
	maxResponseHeaderBytes = 1 << 20
)

// senders holds what each Sender makes on first use and keeps (its
// default transport, when it sends without a Transport of its own, and
// its instruments) under a weak pointer to that Sender. Each Sender owns
// its transport and its connections; a copy of a Sender is another Sender
// and makes its own. Keeping them out of the Sender keeps the Sender a
// plain value, which can be copied and printed (String) while another
// goroutine sends with it. An entry goes when its Sender is
// garbage-collected, its idle connections closed then, so the map holds
// no more than the Senders alive. Nothing else is shared between
// Senders.
var senders sync.Map // weak.Pointer[Sender] -> *senderState

// senderState is what one Sender keeps: its default transport, made once
// (t, and rt that makes the round trips through it: t itself, or t behind
// proxied when the Sender has a Proxy), and its instruments, made once.
type senderState struct {
	once sync.Once
	rt   http.RoundTripper
	t    atomic.Pointer[http.Transport] // nil until made

	instrumentsOnce sync.Once
	instruments     *instruments
}

// closeIdle closes the transport's idle connections; one still being
// made has none.
func (st *senderState) closeIdle() {
	if t := st.t.Load(); t != nil {
		t.CloseIdleConnections()
	}
}

// state returns what s keeps, made empty on first use.
func (s *Sender) state() *senderState {
	key := weak.Make(s)
	c, ok := senders.Load(key)
	if !ok {
		var loaded bool
		if c, loaded = senders.LoadOrStore(key, new(senderState)); !loaded {
			runtime.AddCleanup(s, dropState, key)
		}
	}
	return c.(*senderState)
}

// defaultTransport returns s's own transport, made on first use from s's
// settings.
func (s *Sender) defaultTransport(st *senderState) http.RoundTripper {
	st.once.Do(func() {
		t, rt := s.newTransport()
		st.rt = rt
		st.t.Store(t)
	})
	return st.rt
}

// instruments returns s's instruments, made on first use from its
// providers.
func (s *Sender) instruments(st *senderState) *instruments {
	st.instrumentsOnce.Do(func() {
		st.instruments = newInstruments(s.TracerProvider, s.MeterProvider)
	})
	return st.instruments
}

// dropState forgets what a Sender that is gone kept, and closes its idle
// connections.
func dropState(key weak.Pointer[Sender]) {
	if c, ok := senders.LoadAndDelete(key); ok {
		c.(*senderState).closeIdle()
	}
}

// newTransport makes the default transport from s's settings, and what
// makes the round trips through it. Neither may refer to s, which would
// then never be collected.
func (s *Sender) newTransport() (*http.Transport, http.RoundTripper) {
	timeout := s.timeout()
	guard := AddressGuard{AllowPrivate: s.AllowPrivate, AllowedPrefixes: slices.Clone(s.AllowedPrefixes)}
	guarded := &net.Dialer{Timeout: timeout, KeepAlive: tcpKeepAlive, Control: guard.Control}
	t := &http.Transport{
		DialContext:            guarded.DialContext,
		TLSClientConfig:        s.TLSConfig.Clone(),
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		// The Sender decompresses a gzip response itself, within its cap,
		// and asks for none: requests go out as the Request says.
		DisableCompression: true,
	}
	if s.Proxy == nil {
		return t, t
	}
	p := proxyDialer{proxy: s.Proxy, guarded: guarded, open: &net.Dialer{Timeout: timeout, KeepAlive: tcpKeepAlive}}
	t.Proxy, t.DialContext = p.pick, p.dial
	return t, proxied{t}
}

// proxied is the default transport of a Sender with a Proxy. Each round
// trip carries a route of its own in its context, where the Proxy's choice
// for that request is recorded, so that the dialer can tell the dial to
// that proxy (the operator's choice, not checked) from one to a
// destination (checked). net/http dials with the values of the context of
// the request that needs the connection, and pools connections through a
// proxy apart from direct ones.
type proxied struct{ *http.Transport }

func (t proxied) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.Transport.RoundTrip(r.WithContext(context.WithValue(r.Context(), routeKey{}, new(route))))
}

type routeKey struct{}

// route records the address of the proxy chosen for one round trip.
type route struct{ proxy atomic.Pointer[string] }

// proxyDialer chooses proxies and dials for a proxied transport.
type proxyDialer struct {
	proxy         func(*http.Request) (*url.URL, error)
	guarded, open *net.Dialer
}

// pick asks the Sender's Proxy for r's proxy, and records its address in
// r's route.
func (p proxyDialer) pick(r *http.Request) (*url.URL, error) {
	u, err := p.proxy(r)
	if rt, ok := r.Context().Value(routeKey{}).(*route); ok {
		addr := ""
		if err == nil && u != nil {
			addr = proxyAddr(u)
		}
		rt.proxy.Store(&addr)
	}
	return u, err
}

// dial dials the proxy chosen for the request without the guard, and any
// other address through it.
func (p proxyDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if rt, ok := ctx.Value(routeKey{}).(*route); ok {
		if proxy := rt.proxy.Load(); proxy != nil && *proxy != "" && *proxy == addr {
			return p.open.DialContext(ctx, network, addr)
		}
	}
	return p.guarded.DialContext(ctx, network, addr)
}

// proxyAddr is the address net/http dials for proxy u: its host and port,
// the port defaulting by scheme. A host name that is not ASCII is dialed
// as punycode, which this does not match: such a proxy goes through the
// guard.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
