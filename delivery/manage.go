package delivery

import (
	"context"
	"database/sql"
	"time"
)

// lockedRow is a delivery's row as read, and locked, inside a transaction
// that is about to change it.
type lockedRow struct {
	state  State
	jobID  int64
	nextAt int64
	spec   string
	data   string
}

// lockDelivery reads the row and keeps other writers off it until the
// transaction ends: FOR UPDATE on PostgreSQL; on SQLite every transaction
// already holds the database's write lock from its start.
func lockDelivery(ctx context.Context, d dialect, tx txn, id int64) (*lockedRow, error) {
	q := `SELECT state, coalesce(job_id, 0), coalesce(next_at, 0), spec, data FROM liquidhook_delivery WHERE id = ?`
	if d == dialectPostgres {
		q += ` FOR UPDATE`
	}
	var (
		r     lockedRow
		state string
	)
	err := tx.queryRow(ctx, q, id).Scan(&state, &r.jobID, &r.nextAt, &r.spec, &r.data)
	if isNoRows(err) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, err
	}
	r.state = State(state)
	return &r, nil
}

// nullJob turns a job id of 0 into NULL.
func nullJob(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// later returns the later of t and the time us (Unix microseconds) names.
func later(t time.Time, us int64) time.Time {
	if at := fromMicros(us); at.After(t) {
		return at
	}
	return t
}
