package webhook

import "time"

// RetryPolicy decides what happens after an attempt that did not deliver.
// Next returns how long to wait before the next attempt, or retry false to
// stop. It must be safe for concurrent use.
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
