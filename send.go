package webhook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// Sender sends Requests: each attempt signed afresh, retried by a policy,
// the response read within a cap and mapped into attributes. The zero value
// is ready to use; its defaults follow Customer.io. A Sender is safe for
// concurrent use.
type Sender struct {
	// Transport makes the HTTP round trips. If nil, a transport that refuses
	// private addresses at dial time (see AllowPrivate) is used; a custom
	// Transport is responsible for its own address checks.
	Transport http.RoundTripper

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
	// and never forwarding credentials to another host. By default a 3xx
	// is a final failure.
	FollowRedirects bool

	// Logger receives one record per attempt. Nil logs nothing.
	Logger *slog.Logger

	// OnAttempt, if set, is called after every attempt.
	OnAttempt func(r *Request, a Attempt)

	// Now returns the current time, for timestamps. Defaults to time.Now.
	Now func() time.Time
}

// Result is the outcome of Send.
type Result struct {
	// IdempotencyKey is the key every attempt carried.
	IdempotencyKey string
	// Attempts lists every attempt, oldest first.
	Attempts []Attempt
	// Response is the last response received, or nil.
	Response *Response
	// Attributes holds the mapped response when the request was delivered
	// and its Action maps responses; nil otherwise.
	Attributes map[string]any
}

// Delivered reports whether the last attempt got a 2xx response that was
// read and mapped.
func (r *Result) Delivered() bool {
	return r != nil && len(r.Attempts) > 0 && r.Attempts[len(r.Attempts)-1].Class == ""
}

// SendError is returned when a request was not delivered: the policy gave
// up, or the context ended. It carries every attempt.
type SendError struct {
	Attempts []Attempt
	// Err is the last attempt's error.
	Err error
}

func (e *SendError) Error() string {
	msg := "webhook: not delivered"
	if n := len(e.Attempts); n > 0 {
		a := e.Attempts[n-1]
		if n == 1 {
			msg += " after 1 attempt"
		} else {
			msg += " after " + itoa(n) + " attempts"
		}
		if a.Status != 0 {
			msg += ": last status " + itoa(a.Status)
		}
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the last attempt's error.
func (e *SendError) Unwrap() error { return e.Err }

// Send delivers r. See Sender for the rules.
func (s *Sender) Send(ctx context.Context, r *Request) (*Result, error) {
	return nil, errors.New("webhook: Send is not implemented yet")
}

func itoa(n int) string { return strconv.Itoa(n) }
