package delivery

import (
	"errors"
	"fmt"
	"time"

	"github.com/liquidhook/webhook"
)

// State is where a delivery stands.
//
//	draft ──Release──▶ scheduled ──worker──▶ sending ──▶ delivered
//	  │                  ▲   │                  │    └──▶ failed (after the last retry)
//	  └──Cancel──▶ cancelled ◀┘                  └──▶ scheduled (a retry is due later)
//
// Resend starts a new series of attempts from delivered, failed, cancelled
// or scheduled.
type State string

// The states of a delivery.
const (
	// StateDraft is held until Release; it is never sent before.
	StateDraft State = "draft"
	// StateScheduled waits for its next attempt (NextAt).
	StateScheduled State = "scheduled"
	// StateSending has an attempt in flight.
	StateSending State = "sending"
	// StateDelivered got a 2xx response, read and mapped.
	StateDelivered State = "delivered"
	// StateFailed was not delivered and the retry policy gave up.
	StateFailed State = "failed"
	// StateCancelled was stopped by Cancel before it was delivered.
	StateCancelled State = "cancelled"
)

// ParseState returns the State named s, or an error for an unknown name.
func ParseState(s string) (State, error) {
	switch st := State(s); st {
	case StateDraft, StateScheduled, StateSending, StateDelivered, StateFailed, StateCancelled:
		return st, nil
	}
	return "", fmt.Errorf("%w %q: want draft, scheduled, sending, delivered, failed or cancelled", ErrUnknownState, s)
}

// ErrUnknownState is returned by ParseState, and by List, for a name that
// is not a State.
var ErrUnknownState = errors.New("delivery: unknown state")

// Final reports whether s ends a series of attempts: delivered, failed or
// cancelled.
func (s State) Final() bool {
	return s == StateDelivered || s == StateFailed || s == StateCancelled
}

// Delivery is one webhook for one person's data, as the delivery log holds
// it: the "Sent tab" row with every attempt.
type Delivery struct {
	// ID identifies the delivery in its Queue.
	ID int64 `json:"id"`
	// State is where the delivery stands.
	State State `json:"state"`
	// IdempotencyKey is sent as X-CIO-Idempotency-Key on every attempt of
	// every series, re-sends included.
	IdempotencyKey string `json:"idempotency_key"`
	// Spec is the action the delivery renders. Its URL may hold
	// credentials; treat a Delivery as secret.
	Spec webhook.Spec `json:"-"`
	// Data is the data the next attempt renders with, as decoded from JSON:
	// numbers are int or float64, as webhook.ParseData gives them.
	Data map[string]any `json:"data,omitempty"`
	// Destination is where its requests go, scheme://host:port, from the
	// URL its action rendered when it was queued or last re-sent.
	Destination string `json:"destination,omitempty"`
	// Waiting, when set, says why a scheduled delivery is held rather than
	// sent when due.
	Waiting *Waiting `json:"waiting,omitempty"`
	// Conversion is the action's "allow conversion from this webhook" flag.
	Conversion bool `json:"conversion"`
	// Lax says the delivery renders in lax mode, a missing variable
	// printed as empty, because its action was compiled with
	// webhook.Compiler.Lax: Enqueue keeps that with the delivery, and every
	// attempt and re-send renders that way.
	Lax bool `json:"lax,omitempty"`
	// Metadata is free text the application attached at enqueue.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Attributes holds the mapped response of the attempt that delivered
	// the delivery; nil in every other state, so a Resend clears them
	// until its own series delivers.
	Attributes map[string]any `json:"attributes"`
	// Series counts send series: 1, plus one per Resend.
	Series int `json:"series"`
	// Attempts lists every attempt, oldest first, across series. List and
	// Get fill it.
	Attempts []Attempt `json:"attempts"`
	// NextAt is when the next attempt is due (scheduled), or when a draft
	// asked to be sent; zero otherwise.
	NextAt time.Time `json:"next_at,omitzero"`
	// LastError describes why the last attempt did not deliver; empty after
	// a delivered one.
	LastError string `json:"last_error,omitempty"`
	// CreatedAt is when the delivery was enqueued.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when the delivery last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// Attempt is one attempt as the delivery log records it.
type Attempt struct {
	// Series is the send series the attempt belongs to: 1 for the first,
	// 2 after the first Resend, and so on.
	Series int `json:"series"`
	// Number counts attempts from 1 within the series; the retry policy
	// sees this number.
	Number int `json:"number"`
	// Start is when the attempt began.
	Start time.Time `json:"start"`
	// Duration is how long it took.
	Duration time.Duration `json:"duration"`
	// Status is the HTTP status, or 0 when no response arrived.
	Status int `json:"status,omitempty"`
	// Class says why the attempt did not deliver; empty when it did.
	Class webhook.ErrorClass `json:"class,omitempty"`
	// RetryAfter is the delay the receiver asked for, or 0.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// Wait is the delay chosen before the next attempt, or 0 after the last.
	Wait time.Duration `json:"wait,omitempty"`
	// Error is what went wrong, without credentials; empty when delivered.
	Error string `json:"error,omitempty"`
	// Response is the start of the response body, at most
	// MaxResponseExcerpt bytes.
	Response []byte `json:"-"`
}

// Waiting says why a scheduled delivery is held.
type Waiting struct {
	// Reason is "paused" (its destination failed too often in a row; the
	// delivery is sent once a probe succeeds or the pause is resumed),
	// "resuming" (the pause ended; a worker queues the delivery again
	// shortly) or "disabled" (its destination is disabled; a worker fails
	// the delivery shortly).
	Reason string `json:"reason"`
	// Until is when the destination's next probe may go, while paused.
	Until time.Time `json:"until,omitzero"`
}

// The reasons a delivery waits.
const (
	WaitPaused   = "paused"
	WaitResuming = "resuming"
	WaitDisabled = "disabled"
)

// MaxResponseExcerpt caps the response body kept with each attempt: the
// Sender's default response cap, 10 KiB.
const MaxResponseExcerpt = 10 << 10

// ClassInterrupted marks an attempt whose worker stopped (crashed, was
// killed, or shut down) before a response arrived. The request may have
// reached the receiver; the next attempt carries the same idempotency key.
// The retry policy sees it as a timeout.
const ClassInterrupted webhook.ErrorClass = "interrupted"

// ErrNotFound is returned for an ID the Queue does not hold.
var ErrNotFound = errors.New("delivery: not found")

// ErrWrongState is matched (with errors.Is) by every StateError.
var ErrWrongState = errors.New("delivery: not allowed in this state")

// StateError reports an operation that the delivery's state does not allow,
// such as cancelling a delivered delivery. Nothing was changed.
type StateError struct {
	// ID is the delivery's.
	ID int64
	// Op is the operation refused: "release", "resend" or "cancel".
	Op string
	// State is the delivery's state, which refused it.
	State State
}

// Error says which operation the state refused, as
// "delivery: cannot cancel delivery 7: it is delivered".
func (e *StateError) Error() string {
	return fmt.Sprintf("delivery: cannot %s delivery %d: it is %s", e.Op, e.ID, e.State)
}

// Is makes errors.Is(err, ErrWrongState) hold for every StateError.
func (e *StateError) Is(target error) bool { return target == ErrWrongState }

// notFound wraps ErrNotFound with the id.
func notFound(id int64) error { return fmt.Errorf("%w: delivery %d", ErrNotFound, id) }
