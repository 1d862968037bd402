package delivery

import "context"

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
	var (
		dataJSON string
		decoded  map[string]any
	)
	if data != nil {
		var err error
		if dataJSON, decoded, err = encodeData(data); err != nil {
			return nil, err
		}
	}
	return q.change(ctx, "resend", id, func(tx txn, row *lockedRow) error {
		switch row.state {
		case StateDelivered, StateFailed, StateCancelled, StateScheduled:
		default:
			return &StateError{ID: id, Op: "resend", State: row.state}
		}
		kr := q.keys()
		if data == nil {
			// The stored data, as it is stored: sealed or not, it stays.
			plain, err := kr.open(place{id: id, field: "data"}, []byte(row.data))
			if err != nil {
				return err
			}
			if decoded, err = decodeData(plain); err != nil {
				return err
			}
			dataJSON = row.data
		} else {
			var err error
			if dataJSON, err = kr.sealString(place{id: id, field: "data"}, dataJSON); err != nil {
				return err
			}
		}
		spec, err := kr.openString(place{id: id, field: "spec"}, row.spec)
		if err != nil {
			return err
		}
		action, err := q.actions.get(q.Compiler, row.lax, spec)
		if err != nil {
			return err
		}
		req, err := action.Render(decoded)
		if err != nil {
			return &renderError{err}
		}
		destination := destinationOf(req.URL)
		if row.jobID != 0 && row.state == StateScheduled {
			if err := tx.cancelJob(ctx, row.jobID); err != nil {
				return err
			}
		}
		now := q.now()
		jobID, err := insertSendJob(ctx, tx, id, destination, now, now)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `
UPDATE liquidhook_delivery
SET state = ?, data = ?, destination = ?, job_id = ?, next_at = ?, series = series + 1, series_attempts = 0,
	attributes = NULL, last_error = '', updated_at = ?
WHERE id = ?`, string(StateScheduled), dataJSON, destination, jobID, toMicros(now), toMicros(now), id)
		return err
	})
}
