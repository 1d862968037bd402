package delivery

import "context"

// Release sends a draft: it becomes scheduled and its first attempt is
// queued, due now or at the SendAt it was enqueued with. Releasing
// anything but a draft returns a *StateError and changes nothing.
func (q *Queue) Release(ctx context.Context, id int64) (*Delivery, error) {
	return q.change(ctx, "release", id, func(tx txn, row *lockedRow) error {
		if row.state != StateDraft {
			return &StateError{ID: id, Op: "release", State: row.state}
		}
		now := q.now()
		due := later(now, row.nextAt)
		jobID, err := insertSendJob(ctx, tx, id, row.destination, due, now)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `
UPDATE liquidhook_delivery SET state = ?, job_id = ?, next_at = ?, updated_at = ?
WHERE id = ?`, string(StateScheduled), jobID, toMicros(due), toMicros(now), id)
		return err
	})
}
