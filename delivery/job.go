package delivery

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// River queues of this package, apart from any an application runs on the
// same database.
const (
	riverQueueSend = "liquidhook"
	riverQueueHook = "liquidhook_hook"
)

// sendArgs is the River job that makes a delivery's next attempt. It
// carries the delivery's id, and its destination so that a worker can hold
// the job back before reading the delivery: everything else is read from
// the delivery log when the job runs, so the worker's policy applies
// whatever was true when the job was queued. Jobs queued before
// destinations were kept have none, and are sent as if to a destination of
// their own; their next job has it.
type sendArgs struct {
	DeliveryID  int64  `json:"delivery_id"`
	Destination string `json:"destination,omitempty"`
}

func (sendArgs) Kind() string { return "liquidhook_send" }

// InsertOpts puts send jobs in their own queue. River's attempts count
// only runs that ended without recording an outcome (a crash, a database
// error); the delivery's own retries are new jobs.
func (sendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: riverQueueSend, MaxAttempts: 25}
}

// hookEvent names the hook a hook job calls.
type hookEvent string

const (
	hookDelivered hookEvent = "delivered"
	hookFailed    hookEvent = "failed"
)

// hookArgs is the River job that calls OnDelivered or OnFailed. It is
// queued in the transaction that records the outcome, so the hook runs at
// least once however the worker stops. Series is the send series whose
// outcome it reports (0 in jobs queued before it was recorded): once the
// delivery is re-sent, that outcome no longer stands.
type hookArgs struct {
	DeliveryID int64     `json:"delivery_id"`
	Event      hookEvent `json:"event"`
	Series     int       `json:"series,omitempty"`
}

func (hookArgs) Kind() string { return "liquidhook_hook" }

func (hookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: riverQueueHook, MaxAttempts: 25}
}

// scheduleAhead is River's scheduler interval: a job queued for later
// becomes available within this long after it is due. A job due sooner is
// queued available now, and the worker snoozes it until it is due, which
// River wakes on time.
const scheduleAhead = 5 * time.Second

// insertSendJob queues the job for a delivery's next attempt, due at due.
func insertSendJob(ctx context.Context, tx txn, id int64, destination string, due, now time.Time) (int64, error) {
	return tx.insertJob(ctx, sendArgs{DeliveryID: id, Destination: destination}, scheduleOpts(due, now))
}
