package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// change runs fn on delivery id's row, locked, in one transaction, and
// returns the delivery as it then stands: the frame of every operation that
// moves one delivery to another state (Release, Resend, Cancel). An error
// fn returns rolls the transaction back and comes out through opError.
func (q *Queue) change(ctx context.Context, op string, id int64, fn func(tx txn, row *lockedRow) error) (*Delivery, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	err := q.s.inTx(ctx, func(tx txn) error {
		row, err := lockDelivery(ctx, q.s.dialect(), tx, id)
		if err != nil {
			return err
		}
		return fn(tx, row)
	})
	if err != nil {
		return nil, opError(op, id, err)
	}
	return q.Get(ctx, id)
}

// opError adds the operation to a database error. The package's own errors
// and a render error pass through unchanged.
func opError(op string, id int64, err error) error {
	var (
		se *StateError
		re *renderError
	)
	switch {
	case errors.As(err, &re):
		return re.err
	case errors.As(err, &se), errors.Is(err, ErrNotFound), errors.Is(err, ErrSealed), errors.Is(err, ErrSealKey):
		return err
	}
	return fmt.Errorf("delivery: %s %d: %w", op, id, err)
}

// renderError carries a render error out of the transaction unchanged.
type renderError struct{ err error }

func (e *renderError) Error() string { return e.err.Error() }

// lockedRow is a delivery's row as read, and locked, inside a transaction
// that is about to change it. Its spec and data are as stored: sealed, if
// they were.
type lockedRow struct {
	state       State
	jobID       int64
	nextAt      int64
	spec        string
	data        string
	lax         bool
	destination string
}

// lockDelivery reads the row and keeps other writers off it until the
// transaction ends: FOR UPDATE on PostgreSQL; on SQLite every transaction
// already holds the database's write lock from its start.
func lockDelivery(ctx context.Context, d dialect, tx txn, id int64) (*lockedRow, error) {
	q := `SELECT state, coalesce(job_id, 0), coalesce(next_at, 0), spec, data, lax, destination FROM liquidhook_delivery WHERE id = ?`
	if d == dialectPostgres {
		q += ` FOR UPDATE`
	}
	var (
		r     lockedRow
		state string
	)
	err := tx.queryRow(ctx, q, id).Scan(&state, &r.jobID, &r.nextAt, &r.spec, &r.data, &r.lax, &r.destination)
	if isNoRows(err) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, err
	}
	r.state = State(state)
	return &r, nil
}

// later returns the later of t and the time us (Unix microseconds) names.
func later(t time.Time, us int64) time.Time {
	if at := fromMicros(us); at.After(t) {
		return at
	}
	return t
}
