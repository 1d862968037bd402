package delivery

import (
	"context"
	"errors"
	"fmt"
)

// Release sends a draft: it becomes scheduled and its first attempt is
// queued, due now or at the SendAt it was enqueued with. Releasing
// anything but a draft returns a *StateError and changes nothing.
func (q *Queue) Release(ctx context.Context, id int64) (*Delivery, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	err := q.s.inTx(ctx, func(tx txn) error {
		row, err := lockDelivery(ctx, q.s.dialect(), tx, id)
		if err != nil {
			return err
		}
		if row.state != StateDraft {
			return &StateError{ID: id, Op: "release", State: row.state}
		}
		now := q.now()
		due := later(now, row.nextAt)
		jobID, err := insertSendJob(ctx, tx, id, due, now)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `
UPDATE liquidhook_delivery SET state = ?, job_id = ?, next_at = ?, updated_at = ?
WHERE id = ?`, string(StateScheduled), jobID, toMicros(due), toMicros(now), id)
		return err
	})
	if err != nil {
		return nil, opError("release", id, err)
	}
	return q.Get(ctx, id)
}

// opError adds the operation to a database error and passes the
// package's own errors through unchanged.
func opError(op string, id int64, err error) error {
	var se *StateError
	if errors.As(err, &se) || errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("delivery: %s %d: %w", op, id, err)
}
