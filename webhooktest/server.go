package webhooktest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	webhook "github.com/liquidhook/webhook"
)

// Server is a webhook receiver on loopback for the tests of code that sends
// webhooks, as httptest.Server is for any HTTP client. It checks the
// signature of every request under its key, records the request, and
// answers as the test scripts it (Respond, RespondWith), then with Handler,
// or else with 200.
//
// A request whose signature does not hold is recorded and answered
// 401 Unauthorized, as a Verifier's middleware answers it, without using up
// the script; one whose body is over webhook.DefaultMaxBodyBytes is answered
// 413.
//
// Make one with NewServer or NewUnstartedServer, which tie it to a test.
// A Server is safe for concurrent use. Its methods that can fail the test
// (Start, Respond, RespondWith, WaitFor) must be called from the test's
// goroutine, as testing.T's FailNow must.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT, without a
	// trailing slash. Start sets it.
	URL string

	// Scheme is the signature scheme the server checks and its Sender signs
	// with. Defaults to webhook.SchemeCIO. Under webhook.SchemeStandard the
	// key is the decoded secret (see webhook.ParseStandardSecret). Set it
	// before Start, which reads it.
	Scheme webhook.Scheme

	// Handler, if set, answers each request whose signature holds once the
	// script is used up, in place of 200 with an empty body. Its request
	// body can be read again from the start. Set it before Start, which
	// reads it.
	Handler http.Handler

	tb  testing.TB
	key []byte
	srv *httptest.Server
	// scheme, verifier and handler are fixed by Start, so that requests
	// never read a field the test can still write.
	scheme   webhook.Scheme
	verifier *webhook.Verifier
	handler  http.Handler

	// closed ends the delays of scripted replies when the server closes,
	// so that Close does not wait for them.
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	received []Received
	script   []Reply
	senders  []*webhook.Sender // handed out by Sender
	// arrived is closed, and replaced, each time a request is recorded:
	// WaitFor waits on it instead of polling.
	arrived chan struct{}
}

// Received is a request as a Server received it.
type Received struct {
	// Method is the request's method.
	Method string
	// Path is the request's URL path, such as "/hooks/lead".
	Path string
	// RawQuery is the request's query, without the '?'.
	RawQuery string
	// Header holds the request's headers, signature headers included.
	Header http.Header
	// Body is the raw body, or nil when it was over the limit.
	Body []byte
	// SignatureValid reports whether the signature held under the
	// server's key and scheme, with a timestamp within the default
	// tolerance of now.
	SignatureValid bool
	// SignatureErr says why the signature did not hold (it matches the
	// webhook package's errors, such as webhook.ErrInvalidSignature, with
	// errors.Is); nil when it held.
	SignatureErr error
	// IdempotencyKey is the request's idempotency key: X-CIO-Idempotency-Key
	// under Customer.io's scheme, webhook-id under Standard Webhooks.
	IdempotencyKey string
}

// String describes r in one line for a failure message: the method, the
// path and whether the signature held. It prints no header value or body.
func (r Received) String() string {
	s := r.Method + " " + r.Path
	if r.RawQuery != "" {
		s += "?" + r.RawQuery
	}
	switch {
	case r.SignatureValid:
		return s + " (signature valid)"
	case r.SignatureErr == nil:
		return s + " (signature not checked)"
	}
	return s + " (" + r.SignatureErr.Error() + ")"
}

// NewServer starts a Server that checks signatures made with key under
// Customer.io's scheme. It is closed when the test ends (tb.Cleanup).
func NewServer(tb testing.TB, key []byte) *Server {
	tb.Helper()
	s := NewUnstartedServer(tb, key)
	s.Start()
	return s
}

// NewUnstartedServer returns a Server that is not started yet, so that its
// Scheme and Handler can be set; call Start.
func NewUnstartedServer(tb testing.TB, key []byte) *Server {
	tb.Helper()
	if len(key) == 0 {
		tb.Fatalf("webhooktest: NewServer: empty key: nothing signed with it can be told from a forgery")
	}
	return &Server{
		tb:      tb,
		key:     bytes.Clone(key),
		closed:  make(chan struct{}),
		arrived: make(chan struct{}),
	}
}

// Start starts the server on a loopback port, sets URL, and arranges for
// Close to be called when the test ends.
func (s *Server) Start() {
	s.tb.Helper()
	if s.srv != nil {
		s.tb.Fatalf("webhooktest: Server already started")
		return
	}
	if s.Scheme != webhook.SchemeCIO && s.Scheme != webhook.SchemeStandard {
		s.tb.Fatalf("webhooktest: %v: want webhook.SchemeCIO or webhook.SchemeStandard", s.Scheme)
		return
	}
	s.scheme, s.handler = s.Scheme, s.Handler
	s.verifier = &webhook.Verifier{Keys: [][]byte{s.key}, Scheme: s.scheme}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	s.tb.Cleanup(s.Close)
}

// Close shuts the server down, ending the delays of scripted replies,
// waits for the requests in progress, and closes the idle connections of
// the Senders it handed out. Requests stays readable. Closing again does
// nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.srv != nil {
			s.srv.Close()
		}
		s.mu.Lock()
		senders := s.senders
		s.senders = nil
		s.mu.Unlock()
		for _, sender := range senders {
			sender.CloseIdleConnections()
		}
	})
}

// Requests returns a copy of every request received so far, oldest first.
func (s *Server) Requests() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requestsLocked()
}

func (s *Server) requestsLocked() []Received {
	out := make([]Received, len(s.received))
	for i, r := range s.received {
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// WaitFor waits until at least n requests have arrived and returns them
// all, oldest first, as Requests does: for code that sends on a goroutine
// of its own. After timeout it fails the test with FailNow, naming the
// requests that did arrive. It wakes as each request is recorded, without
// polling.
func (s *Server) WaitFor(n int, timeout time.Duration) []Received {
	s.tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.received) >= n {
			defer s.mu.Unlock()
			return s.requestsLocked()
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-timer.C:
			got := s.Requests()
			s.tb.Fatalf("webhooktest: waited %v for %d %s, %d arrived%s",
				timeout, n, plural(n, "request"), len(got), describe(got))
			return got
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// describe lists requests one a line, after a colon, or returns "".
func describe(rs []Received) string {
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(":")
	for i, r := range rs {
		fmt.Fprintf(&b, "\n\t%d. %s", i+1, r)
	}
	return b.String()
}

// serveHTTP checks and records a request, then answers it.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Received{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhook.DefaultMaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		rec.SignatureErr = fmt.Errorf("%w: over %d bytes", webhook.ErrBodyTooLarge, tooLarge.Limit)
	case err != nil:
		rec.SignatureErr = fmt.Errorf("webhooktest: reading the body: %w", err)
	default:
		rec.Body = body
		v, err := s.verifier.Verify(r.Header, body)
		rec.SignatureValid, rec.SignatureErr, rec.IdempotencyKey = err == nil, err, v.IdempotencyKey
	}
	if !rec.SignatureValid {
		rec.IdempotencyKey = r.Header.Get(webhook.HeaderIdempotencyKey)
		if s.scheme == webhook.SchemeStandard {
			rec.IdempotencyKey = r.Header.Get(webhook.HeaderWebhookID)
		}
	}

	reply, scripted := s.record(rec)
	switch {
	case tooLarge != nil:
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
	case rec.SignatureErr != nil:
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	case scripted:
		s.reply(w, r, reply)
	case s.handler != nil:
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.handler.ServeHTTP(w, r)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// record appends rec, wakes WaitFor, and, for a request whose signature
// held, takes the next scripted reply if there is one.
func (s *Server) record(rec Received) (next Reply, scripted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, rec)
	close(s.arrived)
	s.arrived = make(chan struct{})
	if !rec.SignatureValid || len(s.script) == 0 {
		return Reply{}, false
	}
	next, s.script = s.script[0], s.script[1:]
	return next, true
}
