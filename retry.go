package webhook

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy decides what happens after an attempt that did not deliver.
// Next returns how long to wait before the next attempt, or retry false to
// stop.
//
// A policy must be pure: everything it needs is in the Attempt (its Number
// counts every attempt of the delivery so far, across process restarts when
// a queue drives the retries), so the same policy serves an in-process
// Sender and a durable queue alike. It must be safe for concurrent use.
type RetryPolicy interface {
	Next(a Attempt) (wait time.Duration, retry bool)
}

// RetryFunc adapts a function to RetryPolicy.
type RetryFunc func(a Attempt) (wait time.Duration, retry bool)

// Next calls f(a).
func (f RetryFunc) Next(a Attempt) (time.Duration, bool) { return f(a) }

// Attempt records one try at sending a request.
type Attempt struct {
	// Number counts attempts from 1.
	Number int `json:"number"`
	// Start is when the attempt began.
	Start time.Time `json:"start"`
	// Duration is how long it took, up to the end of reading the response.
	Duration time.Duration `json:"duration"`
	// Status is the HTTP status, or 0 when no response arrived.
	Status int `json:"status,omitempty"`
	// Class says why the attempt did not deliver; empty when it did.
	Class ErrorClass `json:"class,omitempty"`
	// RetryAfter is the delay the receiver asked for in Retry-After, or 0.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// Wait is the delay before the next attempt, or 0 after the last.
	Wait time.Duration `json:"wait,omitempty"`
	// Err is what went wrong, or nil. Its text never holds credentials.
	Err error `json:"-"`
}

// ErrorClass groups the ways an attempt can fail, for retry decisions and
// for the delivery log.
type ErrorClass string

// Error classes. An empty class means the attempt delivered.
const (
	ClassStatus     ErrorClass = "status"     // a non-2xx response
	ClassTimeout    ErrorClass = "timeout"    // no complete response within the timeout
	ClassConnection ErrorClass = "connection" // DNS, refused, reset, TLS
	ClassTooLarge   ErrorClass = "too_large"  // the response exceeded the cap
	ClassRedirect   ErrorClass = "redirect"   // a 3xx that was not followed
	ClassBlocked    ErrorClass = "blocked"    // the destination is a refused address
	ClassMapping    ErrorClass = "mapping"    // the response could not be mapped to attributes
	ClassCanceled   ErrorClass = "canceled"   // the caller's context ended
	ClassInvalid    ErrorClass = "invalid"    // the request could not be made
)

// Retryable reports whether Customer.io's rule allows another try after a:
// a 408, 409, 429 or 5xx status, a timeout or a connection error. Every
// other status is final, and so are a response over the cap, a refused
// address, a redirect, a mapping failure, an invalid request and a
// cancelled context.
func Retryable(a Attempt) bool {
	switch a.Class {
	case ClassTimeout, ClassConnection:
		return true
	case ClassStatus:
		switch s := a.Status; {
		case s == http.StatusRequestTimeout, s == http.StatusConflict, s == http.StatusTooManyRequests:
			return true
		case s >= 500 && s <= 599:
			return true
		}
	}
	return false
}

// Defaults of Exponential, which follow Customer.io: 10 retries, the first
// after about 10.5 s, each wait twice the one before (about 3 hours in
// all), 10% jitter, and Retry-After honoured up to an hour.
const (
	DefaultRetries       = 10
	DefaultFirstWait     = 10500 * time.Millisecond
	DefaultMultiplier    = 2.0
	DefaultMaxWait       = 6 * time.Hour
	DefaultJitter        = 0.1
	DefaultMaxRetryAfter = time.Hour
)

// Exponential is a RetryPolicy with exponential backoff. Its zero value is
// Customer.io's schedule (see DefaultRetryPolicy); each field overrides one
// part of it.
//
// The scheduled wait before retry n (n = 1 after the first attempt) is
// FirstWait × Multiplier^(n-1), capped at MaxWait, then jittered. A
// Retry-After from the receiver can lengthen the wait but never shorten it:
// the wait is the larger of the scheduled wait and Retry-After, and
// Retry-After counts for at most MaxRetryAfter. So a receiver can neither
// push retries out indefinitely nor cause a retry storm.
type Exponential struct {
	// Retries is how many times to try again after the first attempt.
	// Defaults to 10; a negative value means no retries.
	Retries int

	// FirstWait is the wait before the first retry. Defaults to 10.5 s.
	FirstWait time.Duration

	// Multiplier scales each wait from the one before. Defaults to 2.
	// Values below 1 are taken as 1.
	Multiplier float64

	// MaxWait caps one scheduled wait, before jitter and Retry-After.
	// Defaults to 6 hours.
	MaxWait time.Duration

	// Jitter spreads each scheduled wait uniformly over ±Jitter of itself,
	// so many deliveries that failed together do not retry together.
	// Defaults to 0.1; a negative value turns jitter off. At most 1.
	Jitter float64

	// MaxRetryAfter is the longest Retry-After honoured; a longer one
	// counts as MaxRetryAfter. Defaults to one hour; a negative value
	// ignores Retry-After.
	MaxRetryAfter time.Duration

	// Retryable decides which attempts may be retried. Defaults to
	// Retryable, Customer.io's rule.
	Retryable func(Attempt) bool
}

// DefaultRetryPolicy is Customer.io's schedule: 10 retries after 408, 409,
// 429, 5xx, timeouts and connection errors, the first after about 10.5 s
// and each wait doubling (about 3 hours in all), jittered by 10%, with
// Retry-After honoured up to an hour but never shortening a wait.
var DefaultRetryPolicy RetryPolicy = Exponential{}

// NoRetry makes one attempt and stops. A queue that schedules its own
// retries sends each run with NoRetry and asks its configured policy
// what to do next.
var NoRetry RetryPolicy = RetryFunc(func(Attempt) (time.Duration, bool) { return 0, false })

var _ RetryPolicy = Exponential{}

// Next implements RetryPolicy.
func (p Exponential) Next(a Attempt) (time.Duration, bool) {
	if a.Class == "" {
		return 0, false
	}
	retryable := p.Retryable
	if retryable == nil {
		retryable = Retryable
	}
	if !retryable(a) {
		return 0, false
	}
	retries := p.Retries
	switch {
	case retries == 0:
		retries = DefaultRetries
	case retries < 0:
		return 0, false
	}
	if a.Number < 1 || a.Number > retries {
		return 0, false
	}
	wait := p.Scheduled(a.Number)
	if ra := p.retryAfter(a.RetryAfter); ra > wait {
		wait = ra
	}
	return wait, true
}

// Scheduled returns the jittered wait before retry n, ignoring
// Retry-After. n counts from 1.
func (p Exponential) Scheduled(n int) time.Duration {
	first := p.FirstWait
	if first <= 0 {
		first = DefaultFirstWait
	}
	mult := p.Multiplier
	if mult == 0 {
		mult = DefaultMultiplier
	}
	mult = max(mult, 1)
	maxWait := p.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	jitter := p.Jitter
	switch {
	case jitter == 0:
		jitter = DefaultJitter
	case jitter < 0:
		jitter = 0
	}
	jitter = min(jitter, 1)

	// Floats keep a large n from overflowing; the cap applies before the
	// conversion back.
	w := float64(first) * math.Pow(mult, float64(max(n, 1)-1))
	w = min(w, float64(maxWait))
	if jitter > 0 {
		w *= 1 + jitter*(2*rand.Float64()-1)
	}
	return time.Duration(w)
}

func (p Exponential) retryAfter(d time.Duration) time.Duration {
	limit := p.MaxRetryAfter
	switch {
	case limit == 0:
		limit = DefaultMaxRetryAfter
	case limit < 0:
		return 0
	}
	if d <= 0 {
		return 0
	}
	return min(d, limit)
}

// ParseRetryAfter reads a Retry-After header value: a number of seconds or
// an HTTP date, taken relative to now. It reports false for an empty,
// negative or unreadable value; a date in the past gives 0 and true. A
// number too large for a Duration saturates, so a policy's cap applies.
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
