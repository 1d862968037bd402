package delivery

import "context"

// Cancel stops a draft or a scheduled delivery: it will not be sent (again)
// and its queued attempt is cancelled in the same transaction. A delivery
// that is sending, delivered, failed or already cancelled returns a
// *StateError and nothing changes; Resend can send a cancelled delivery
// later.
func (q *Queue) Cancel(ctx context.Context, id int64) (*Delivery, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	err := q.s.inTx(ctx, func(tx txn) error {
		row, err := lockDelivery(ctx, q.s.dialect(), tx, id)
		if err != nil {
			return err
		}
		if row.state != StateDraft && row.state != StateScheduled {
			return &StateError{ID: id, Op: "cancel", State: row.state}
		}
		if row.jobID != 0 {
			if err := tx.cancelJob(ctx, row.jobID); err != nil {
				return err
			}
		}
		_, err = tx.exec(ctx, `
UPDATE liquidhook_delivery SET state = ?, job_id = NULL, next_at = NULL, updated_at = ?
WHERE id = ?`, string(StateCancelled), toMicros(q.now()), id)
		return err
	})
	if err != nil {
		return nil, opError("cancel", id, err)
	}
	return q.Get(ctx, id)
}
