package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of a Sender.
const (
	// DefaultTimeout bounds each attempt, as Customer.io's 4 seconds do.
	DefaultTimeout = 4 * time.Second

	// maxRedirects bounds a chain of followed redirects.
	maxRedirects = 5
)

// Sender sends Requests: each attempt signed afresh, retried by a policy,
// the response read within a cap and mapped into attributes. The zero value
// is ready to use; its defaults follow Customer.io. A Sender is safe for
// concurrent use; do not change its fields while it is sending. It keeps
// connections open between Sends (see CloseIdleConnections); a copy of a
// Sender is another Sender, with connections of its own.
//
// Every attempt carries the request's idempotency key and its identical
// body, with a new timestamp and signature. A non-2xx response is not an
// error until the policy stops retrying. Cancelling the context stops at
// once, during an attempt or a wait, and is never retried.
type Sender struct {
	// Transport makes the HTTP round trips. If nil, the Sender makes its
	// own net/http Transport on first use (see CloseIdleConnections): HTTP/2
	// over TLS, kept-alive connections (up to 1,024 idle per host), the
	// address guard (AllowPrivate, AllowedPrefixes) applied to each
	// connection as it is dialed, after DNS, TLS set by TLSConfig, a proxy
	// by Proxy, and the TLS handshake and the wait for a response header
	// each bounded by Timeout. The settings it is made from are read then:
	// change them before the first Send. A custom Transport makes its own
	// address checks (AddressGuard.Control helps) and ignores those
	// settings.
	Transport http.RoundTripper

	// Proxy returns the HTTP proxy a request goes through, as
	// http.Transport's Proxy does: http requests are sent to it in absolute
	// form, https ones tunnelled through CONNECT. Nil, the default, sends
	// directly; the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) is read
	// only when Proxy is http.ProxyFromEnvironment. The proxy's own address
	// is the operator's choice and is dialed without the address guard;
	// the destination is then reached by the proxy, which must do the
	// checking (use one that refuses private addresses). A request that
	// Proxy sends directly is guarded as usual.
	Proxy func(*http.Request) (*url.URL, error)

	// TLSConfig configures TLS for the default transport, to trust a
	// private CA through RootCAs for example. It is cloned on first use.
	// Defaults to the system's roots and crypto/tls's defaults.
	TLSConfig *tls.Config

	// Key is the signing key for Customer.io's scheme. Ignored when Signer
	// is set. With neither, requests go unsigned.
	Key []byte

	// Signer signs each attempt. Defaults to CIOSigner{Key: Key}.
	Signer Signer

	// Timeout bounds each attempt, from dial to the end of the body.
	// Defaults to 4 seconds.
	Timeout time.Duration

	// MaxResponseBytes caps the response body, after decompression; a larger
	// response fails the attempt with ErrResponseTooLarge. Defaults to
	// 10 KiB (10,240 bytes).
	MaxResponseBytes int64

	// RetryPolicy decides whether and when to try again. Defaults to
	// DefaultRetryPolicy.
	RetryPolicy RetryPolicy

	// AllowPrivate lets the default transport connect to loopback, private,
	// link-local and other non-public addresses.
	AllowPrivate bool

	// AllowedPrefixes lists non-public networks the default transport may
	// connect to even when AllowPrivate is false.
	AllowedPrefixes []netip.Prefix

	// FollowRedirects follows 3xx responses, re-checking each destination
	// and never forwarding credentials or the signature to another host,
	// nor following https to http. By default a 3xx is a final failure.
	FollowRedirects bool

	// Logger receives one record per attempt, at Debug for one delivered
	// and at Warn for one that failed: the method, the redacted URL, the
	// idempotency key, the outcome and the wait, never a header value or
	// the body. Records carry the attempt's context, and so its span for
	// a handler that reads it. Nil logs nothing.
	Logger *slog.Logger

	// TracerProvider makes the span of each attempt (see the package doc's
	// Observability section). Defaults to OpenTelemetry's global provider,
	// which records nothing until the application installs an SDK
	// (otel.SetTracerProvider). Read on first use, like MeterProvider.
	TracerProvider trace.TracerProvider

	// MeterProvider makes the attempt metrics. Defaults to
	// OpenTelemetry's global provider.
	MeterProvider metric.MeterProvider

	// Propagator writes each attempt's trace context into its request
	// header, for a receiver that continues the trace. Defaults to
	// OpenTelemetry's global propagator, which writes nothing unless the
	// application sets one (otel.SetTextMapPropagator): then every
	// attempt carries its headers (traceparent, and baggage if the
	// application propagates it), which the signature does not cover. Set
	// propagation.NewCompositeTextMapPropagator() to send none whatever
	// the global one.
	Propagator propagation.TextMapPropagator

	// OnAttempt, if set, is called after every attempt, with the wait
	// before the next one decided. It runs on the sending goroutine.
	OnAttempt func(r *Request, a Attempt)

	// Now returns the current time, for timestamps. Defaults to time.Now.
	Now func() time.Time
}

// String describes s without its Key. The receiver is a value, so that a
// Sender printed by value or inside another struct is described this way
// too, and its key never reaches a log line as bytes.
func (s Sender) String() string {
	if len(s.Key) == 0 {
		return "webhook.Sender{}"
	}
	return "webhook.Sender{Key: REDACTED}"
}

// GoString hides the key from %#v too.
func (s Sender) GoString() string { return s.String() }

// Result is the outcome of Send.
type Result struct {
	// IdempotencyKey is the key every attempt carried.
	IdempotencyKey string
	// Attempts lists every attempt, oldest first.
	Attempts []Attempt
	// Response is the last response received, or nil.
	Response *Response
	// Attributes holds what the ResponseMapper made of the delivered
	// response; nil when the request was not delivered or nothing mapped
	// it.
	Attributes map[string]any
}

// Delivered reports whether the last attempt got a 2xx response that was
// read and mapped.
func (r *Result) Delivered() bool {
	return r != nil && len(r.Attempts) > 0 && r.Attempts[len(r.Attempts)-1].Class == ""
}

// SendError is returned when a request was not delivered: the policy gave
// up, the context ended, or the request could not be made. It carries
// every attempt: none when the request itself was invalid, and one of
// class invalid when the Signer failed.
type SendError struct {
	// Attempts lists every attempt, oldest first, as Result.Attempts does.
	Attempts []Attempt
	// Err is the last attempt's error.
	Err error
}

// Error says that the request was not delivered, after how many attempts,
// and why.
func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString("webhook: not delivered")
	if n := len(e.Attempts); n > 0 {
		if n == 1 {
			b.WriteString(" after 1 attempt")
		} else {
			b.WriteString(" after " + itoa(n) + " attempts")
		}
		if a := e.Attempts[n-1]; a.Status != 0 && !errors.Is(e.Err, ErrStatus) {
			b.WriteString(": last status " + itoa(a.Status))
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "webhook: "))
	}
	return b.String()
}

// Unwrap returns the last attempt's error.
func (e *SendError) Unwrap() error { return e.Err }

// ErrStatus is the error of an attempt answered with a status other than
// 2xx (wrapped with the status); ErrRedirect that of a 3xx not followed.
var (
	ErrStatus   = errors.New("webhook: unsuccessful status")
	ErrRedirect = errors.New("webhook: redirect not followed")
)

// Send delivers r: it makes attempts until one is delivered or the retry
// policy stops, and has m map the delivered response into attributes (an
// Action's Mapper, for a request it rendered; nil maps nothing). A mapping
// error fails the attempt, as a bad status does. Send always returns a
// Result; the error is nil exactly when the request was delivered, and
// otherwise a *SendError carrying every attempt. A Request without an
// idempotency key is given a new random one, which the Result reports.
func (s *Sender) Send(ctx context.Context, r *Request, m ResponseMapper) (*Result, error) {
	if r == nil {
		return &Result{}, &SendError{Err: fmt.Errorf("%w: nil request", ErrInvalidURL)}
	}
	res := &Result{IdempotencyKey: r.IdempotencyKey}
	if res.IdempotencyKey == "" {
		res.IdempotencyKey = NewIdempotencyKey()
	}
	if err := ctx.Err(); err != nil {
		return res, &SendError{Err: err}
	}

	// One copy of the request carries the key for every attempt, so the
	// caller's Request is never modified.
	req := *r
	req.IdempotencyKey = res.IdempotencyKey

	p, err := req.prepare()
	if err != nil {
		// The request itself is wrong: nothing was sent, so there is no
		// attempt to report.
		return res, &SendError{Err: err}
	}
	st := s.state()
	rt := s.roundTripper(st)
	in := s.instruments(st)
	policy := s.RetryPolicy
	if policy == nil {
		policy = DefaultRetryPolicy
	}
	for n := 1; ; n++ {
		actx, span := in.startAttempt(ctx, &p, n)
		a, resp := s.attempt(actx, rt, &p, n)
		if resp != nil {
			res.Response = resp
		}
		if a.Class == "" && m != nil {
			attrs, err := m.MapResponse(resp)
			if err != nil {
				a.Class, a.Err = ClassMapping, &attemptError{"mapping the response", err}
			} else {
				res.Attributes = attrs
			}
		}
		retry := false
		if a.Class != "" && a.Class != ClassCanceled {
			a.Wait, retry = policy.Next(a)
			if !retry {
				a.Wait = 0
			}
		}
		res.Attempts = append(res.Attempts, a)
		in.endAttempt(actx, span, &p, &a)
		s.report(actx, &req, a)
		if a.Class == "" {
			return res, nil
		}
		if !retry {
			return res, &SendError{Attempts: res.Attempts, Err: a.Err}
		}
		if err := sleep(ctx, a.Wait); err != nil {
			return res, &SendError{Attempts: res.Attempts, Err: err}
		}
	}
}

// attempt makes attempt n at p and classifies its outcome. The returned
// Response is nil when no status line arrived.
func (s *Sender) attempt(ctx context.Context, rt roundTripper, p *preparedRequest, n int) (a Attempt, resp *Response) {
	start := time.Now()
	a = Attempt{Number: n, Start: start}
	if s.Now != nil {
		a.Start = s.Now()
	}

	// The attempt's deadline bounds it whole, from waiting for a
	// connection to the end of the body.
	timeout := s.timeout()
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	hr := p.newHTTPRequest(actx)
	inject(actx, s.Propagator, hr.Header)
	if err := s.sign(hr.Header, p.key, a.Start.Unix(), p.body); err != nil {
		a.Class, a.Err = ClassInvalid, &attemptError{"signing", err}
		a.Duration = time.Since(start)
		return a, nil
	}

	hresp, err := rt.do(hr)
	if err != nil {
		if hresp != nil {
			// A refused redirect: Do returns the 3xx, its body closed.
			a.Status = hresp.StatusCode
		}
		a.Class, a.Err = s.classify(ctx, actx, p, err, timeout)
		a.Duration = time.Since(start)
		return a, nil
	}
	resp = &Response{Status: hresp.StatusCode, Header: hresp.Header}
	a.Status = hresp.StatusCode
	if v := hresp.Header.Get("Retry-After"); v != "" {
		if d, ok := ParseRetryAfter(v, s.now()); ok {
			a.RetryAfter = d
		}
	}
	body, err := readResponseBody(hresp, s.maxResponseBytes())
	hresp.Body.Close()
	a.Duration = time.Since(start)
	switch {
	case errors.Is(err, ErrResponseTooLarge):
		a.Class, a.Err = ClassTooLarge, err
		return a, resp
	case err != nil:
		a.Class, a.Err = s.classify(ctx, actx, p, err, timeout)
		return a, resp
	}
	resp.Body = body
	switch code := hresp.StatusCode; {
	case code >= 200 && code <= 299:
	case code >= 300 && code <= 399:
		a.Class = ClassRedirect
		a.Err = fmt.Errorf("%w: status %d", ErrRedirect, code)
		if loc := hresp.Header.Get("Location"); loc != "" {
			a.Err = fmt.Errorf("%w: status %d to %s", ErrRedirect, code, RedactURL(resolveLocation(p.url, loc)))
		}
	default:
		a.Class, a.Err = ClassStatus, fmt.Errorf("%w %d", ErrStatus, code)
	}
	return a, resp
}

// classify names the class of a failed round trip or body read, and
// rewrites the error so that it never quotes the URL (whose query may
// hold a key): net/http's *url.Error would.
func (s *Sender) classify(ctx, actx context.Context, p *preparedRequest, err error, timeout time.Duration) (ErrorClass, error) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	where := p.method + " " + RedactURL(p.rawURL)
	var ae *AddressError
	switch {
	case ctx.Err() != nil:
		return ClassCanceled, &attemptError{where, ctx.Err()}
	case errors.As(err, &ae):
		return ClassBlocked, &attemptError{where, ae}
	case errors.Is(actx.Err(), context.DeadlineExceeded) || isTimeout(err):
		return ClassTimeout, &attemptError{where, fmt.Errorf("no complete response within %s: %w", timeout, context.DeadlineExceeded)}
	case errors.Is(err, errRedirectPolicy):
		return ClassRedirect, &attemptError{where, err}
	case errors.Is(err, ErrBlockedAddress):
		return ClassBlocked, &attemptError{where, err}
	}
	return ClassConnection, &attemptError{where, err}
}

// attemptError says which request or step failed, without a second
// package prefix, and unwraps to the cause.
type attemptError struct {
	where string
	err   error
}

func (e *attemptError) Error() string {
	return "webhook: " + e.where + ": " + strings.TrimPrefix(e.err.Error(), "webhook: ")
}

func (e *attemptError) Unwrap() error { return e.err }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// report hands a finished attempt to the hook and the logger: a delivered
// attempt at Debug, a failed one at Warn.
func (s *Sender) report(ctx context.Context, r *Request, a Attempt) {
	if s.OnAttempt != nil {
		s.OnAttempt(r, a)
	}
	if s.Logger == nil {
		return
	}
	level, msg := slog.LevelDebug, "webhook delivered"
	if a.Class != "" {
		level, msg = slog.LevelWarn, "webhook attempt failed"
	}
	if !s.Logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("url", RedactURL(r.URL)),
		slog.String("idempotency_key", r.IdempotencyKey),
		slog.Int("attempt", a.Number),
		slog.Duration("duration", a.Duration),
	}
	if a.Status != 0 {
		attrs = append(attrs, slog.Int("status", a.Status))
	}
	if a.Class != "" {
		attrs = append(attrs, slog.String("class", string(a.Class)))
		if a.Err != nil {
			attrs = append(attrs, slog.String("error", a.Err.Error()))
		}
		if a.Wait > 0 {
			attrs = append(attrs, slog.Duration("retry_in", a.Wait))
		}
	}
	s.Logger.LogAttrs(ctx, level, msg, attrs...)
}

// sleep waits d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// sign adds the signature headers of one attempt: with Signer, or
// Customer.io's scheme when only Key is set, or none.
func (s *Sender) sign(h http.Header, id string, timestamp int64, body []byte) error {
	switch {
	case s.Signer != nil:
		if err := s.Signer.SignHeader(h, id, timestamp, body); err != nil {
			return err
		}
		// What a Signer of the application's own sets is checked like any
		// other header, so that a bad one fails as an invalid request
		// rather than in the transport, as a connection error retried
		// for hours.
		for name, values := range h {
			for _, v := range values {
				if err := checkHeader(name, v); err != nil {
					return err
				}
			}
		}
		return nil
	case len(s.Key) > 0:
		return CIOSigner{Key: s.Key}.SignHeader(h, id, timestamp, body)
	}
	return nil
}

func (s *Sender) maxResponseBytes() int64 {
	if s.MaxResponseBytes > 0 {
		return s.MaxResponseBytes
	}
	return DefaultMaxResponseBytes
}

// roundTripper returns what makes the round trips of one Send. Without
// redirects to follow, that is the transport itself: an http.Client would
// only copy the header again and hand back the 3xx. Following redirects
// takes a Client, made per Send (clients are cheap; the transport, which
// holds the connections, is the Sender's).
func (s *Sender) roundTripper(st *senderState) roundTripper {
	t := s.Transport
	if t == nil {
		t = s.defaultTransport(st)
	}
	if !s.FollowRedirects {
		return roundTripper{transport: t}
	}
	return roundTripper{client: &http.Client{Transport: locationCheck{t}, CheckRedirect: checkRedirect}}
}

// locationCheck refuses a redirect whose Location is not a valid URL before
// http.Client sees it: the Client's own error quotes the Location whole,
// and a Location can hold credentials or a query token.
type locationCheck struct{ http.RoundTripper }

func (t locationCheck) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(r)
	if err != nil || resp == nil {
		return resp, err
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		// The statuses http.Client follows.
	default:
		return resp, nil
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if _, perr := r.URL.Parse(loc); perr != nil {
			if resp.Body != nil {
				resp.Body.Close()
			}
			return nil, fmt.Errorf("%w: status %d with a Location that is not a valid URL", errRedirectPolicy, resp.StatusCode)
		}
	}
	return resp, nil
}

// roundTripper is a transport used alone or a Client that follows
// redirects.
type roundTripper struct {
	transport http.RoundTripper
	client    *http.Client
}

var errNoResponse = errors.New("webhook: the transport returned no response and no error")

// do makes one round trip. With the transport alone it checks what a
// custom transport returns as http.Client.Do would.
func (t roundTripper) do(r *http.Request) (*http.Response, error) {
	if t.client != nil {
		return t.client.Do(r)
	}
	resp, err := t.transport.RoundTrip(r)
	switch {
	case err != nil:
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, err
	case resp == nil:
		return nil, errNoResponse
	case resp.Body == nil:
		if resp.ContentLength > 0 && r.Method != http.MethodHead {
			return nil, fmt.Errorf("webhook: the transport returned a response of %d bytes without a body", resp.ContentLength)
		}
		resp.Body = http.NoBody
	}
	return resp, nil
}

// errRedirectPolicy is a redirect that FollowRedirects will not follow. It
// matches ErrRedirect, as a 3xx not followed, whatever the reason.
var errRedirectPolicy error = redirectRefused{}

type redirectRefused struct{}

func (redirectRefused) Error() string        { return "webhook: redirect refused" }
func (redirectRefused) Is(target error) bool { return target == ErrRedirect }

// checkRedirect follows a redirect when it stays on http(s), does not
// downgrade https to http, and the chain is short. On another host it drops
// every header that may carry a credential or the signature, and the
// Referer; the address guard checks the new destination when it is
// dialed.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", errRedirectPolicy, maxRedirects)
	}
	prev := via[len(via)-1]
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q", errRedirectPolicy, req.URL.Scheme)
	}
	if prev.URL.Scheme == "https" && req.URL.Scheme == "http" {
		return fmt.Errorf("%w: from https to http", errRedirectPolicy)
	}
	if req.URL.User != nil {
		return fmt.Errorf("%w: credentials in the Location", errRedirectPolicy)
	}
	if !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
		for name := range req.Header {
			if sensitiveName(name) {
				req.Header.Del(name)
			}
		}
		// http.Client sets the Referer to the previous URL, whose query
		// may hold a key.
		req.Header.Del("Referer")
	}
	return nil
}

// resolveLocation makes a Location header absolute, for an error message.
func resolveLocation(base *url.URL, loc string) string {
	l, err := base.Parse(loc)
	if err != nil {
		return loc
	}
	return l.String()
}

func (s *Sender) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

func itoa(n int) string { return strconv.Itoa(n) }
