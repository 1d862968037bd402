package delivery

import (
	"context"
	"fmt"
)

// Resend sends a delivery again as a new series of attempts, the way
// Customer.io retries a webhook from its Sent tab: the request is
// re-rendered with data (the current data; nil keeps the stored data) and
// carries the original idempotency key, and the retry policy starts over.
// Attempts of earlier series stay in the log.
//
// A delivered, failed, cancelled or scheduled delivery can be re-sent (a
// scheduled one's pending retry is replaced). A draft (use Release) or a
// delivery with an attempt in flight returns a *StateError; a render error
// is returned as Render returns it; either way nothing changes.
func (q *Queue) Resend(ctx context.Context, id int64, data map[string]any) (*Delivery, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	var (
		dataJSON string
		decoded  map[string]any
		err      error
	)
	if data != nil {
		if dataJSON, decoded, err = encodeData(data); err != nil {
			return nil, err
		}
	}
	err = q.s.inTx(ctx, func(tx txn) error {
		row, err := lockDelivery(ctx, q.s.dialect(), tx, id)
		if err != nil {
			return err
		}
		switch row.state {
		case StateDelivered, StateFailed, StateCancelled, StateScheduled:
		default:
			return &StateError{ID: id, Op: "resend", State: row.state}
		}
		if data == nil {
			dataJSON = row.data
			if decoded, err = decodeData([]byte(row.data)); err != nil {
				return err
			}
		}
		action, err := q.actions.get(q.Compiler, row.spec)
		if err != nil {
			return err
		}
		if _, err := action.Render(decoded); err != nil {
			return &renderError{err}
		}
		if row.jobID != 0 && row.state == StateScheduled {
			if err := tx.cancelJob(ctx, row.jobID); err != nil {
				return err
			}
		}
		now := q.now()
		jobID, err := insertSendJob(ctx, tx, id, now, now)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `
UPDATE liquidhook_delivery
SET state = ?, data = ?, job_id = ?, next_at = ?, series = series + 1, series_attempts = 0,
	attributes = NULL, last_error = '', updated_at = ?
WHERE id = ?`, string(StateScheduled), dataJSON, jobID, toMicros(now), toMicros(now), id)
		return err
	})
	if re, ok := err.(*renderError); ok {
		return nil, re.err
	}
	if err != nil {
		return nil, opError("resend", id, err)
	}
	return q.Get(ctx, id)
}

// renderError carries a render error out of the transaction unchanged.
type renderError struct{ err error }

func (e *renderError) Error() string { return fmt.Sprint(e.err) }
