package delivery

import (
	"context"
	"fmt"
	"time"
)

// purgeBatch is how many deliveries one Purge statement deletes: small
// enough that a long backlog never holds the database's write lock (SQLite
// has a single writer) for long, so workers keep recording attempts.
const purgeBatch = 500

// Purge deletes the deliveries that ended (delivered, failed or cancelled)
// before the given time, with their attempts, and returns how many it
// deleted. Drafts and deliveries that are scheduled or sending are kept
// whatever their age, and a delivery re-sent since is no longer ended. The
// log otherwise keeps every delivery: call Purge on a schedule to keep,
// say, the last 30 days. A cancelled context stops it between batches, with
// what it has deleted so far.
func (q *Queue) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := q.check(); err != nil {
		return 0, err
	}
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		// The outer WHERE repeats the inner one: a PostgreSQL DELETE that
		// waited for a row another transaction changed (a Resend) checks
		// the new row against its own WHERE only, not against the subquery.
		n, err := q.s.db().exec(ctx, `
DELETE FROM liquidhook_delivery WHERE id IN (
	SELECT id FROM liquidhook_delivery
	WHERE state IN (?, ?, ?) AND updated_at < ?
	ORDER BY id LIMIT ?)
	AND state IN (?, ?, ?) AND updated_at < ?`,
			string(StateDelivered), string(StateFailed), string(StateCancelled), toMicros(before), purgeBatch,
			string(StateDelivered), string(StateFailed), string(StateCancelled), toMicros(before))
		total += n
		if err != nil {
			return total, fmt.Errorf("delivery: purge: %w", err)
		}
		if n < purgeBatch {
			return total, nil
		}
	}
}
