package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
)

// A delivery that is scheduled or sending waits for its River job. River
// can end a job without the job recording an outcome: it discards one
// whose runs all failed (25 of them: a database that refused every write,
// a worker killed mid-request again and again), and an application may
// cancel one through River itself. Such a delivery would wait for ever, and
// WorkUntilIdle with it. Workers therefore look for these orphans when they
// start and every orphanSweep while they run, and fail them: the record
// says why, and OnFailed is called as for any other failure.

// orphanSweep is how often a running worker looks for orphans.
const orphanSweep = time.Minute

// orphanBatch bounds the orphans one sweep reads at once.
const orphanBatch = 100

// orphanSQL finds orphans: deliveries waiting for a job that is gone or
// in a state River never runs again. A delivery held for its paused
// destination has no job, and is not one.
const orphanSQL = `
SELECT d.id, d.job_id, d.state, coalesce(d.sending_at, 0), d.series, d.series_attempts,
	coalesce(CAST(j.state AS TEXT), ''), coalesce(j.attempt, 0)
FROM liquidhook_delivery AS d LEFT JOIN river_job AS j ON j.id = d.job_id
WHERE d.state IN ('scheduled', 'sending') AND d.id > ? AND d.job_id IS NOT NULL
	AND (j.id IS NULL OR j.state IN ('cancelled', 'completed', 'discarded'))
ORDER BY d.id LIMIT ?`

// orphan is a delivery whose job ended without recording its outcome.
type orphan struct {
	id, jobID      int64
	state          State
	sendingAt      int64
	series         int
	seriesAttempts int
	jobState       string
	jobRuns        int
}

// why says what became of the orphan's job.
func (o *orphan) why() string {
	switch o.jobState {
	case "discarded":
		return fmt.Sprintf("delivery: the job queue gave up on this delivery's job after %d runs that recorded no outcome", o.jobRuns)
	case "cancelled":
		return "delivery: this delivery's job was cancelled in the job queue"
	}
	return "delivery: this delivery's job ended without recording an outcome"
}

// failOrphans fails every orphan and returns how many it failed.
func (r *runner) failOrphans(ctx context.Context) (int, error) {
	failed := 0
	for after := int64(0); ; {
		batch, err := r.findOrphans(ctx, after)
		if err != nil {
			return failed, err
		}
		for _, o := range batch {
			ok, err := r.failOrphan(ctx, o)
			if err != nil {
				return failed, fmt.Errorf("delivery: fail orphaned delivery %d: %w", o.id, err)
			}
			if ok {
				failed++
			}
			after = o.id
		}
		if len(batch) < orphanBatch {
			return failed, nil
		}
	}
}

func (r *runner) findOrphans(ctx context.Context, after int64) ([]orphan, error) {
	rs, err := r.q.s.db().query(ctx, orphanSQL, after, orphanBatch)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var batch []orphan
	for rs.Next() {
		var (
			o     orphan
			state string
		)
		if err := rs.Scan(&o.id, &o.jobID, &state, &o.sendingAt, &o.series, &o.seriesAttempts, &o.jobState, &o.jobRuns); err != nil {
			return nil, err
		}
		o.state = State(state)
		batch = append(batch, o)
	}
	return batch, rs.Err()
}

// failOrphan fails o if it still stands as it was found: with the same job
// and state, so a delivery that moved on meanwhile, or that another worker
// failed first, is left alone. One that was sending gets the attempt its
// last run left unfinished, as a rescued delivery does, and OnAttempt
// hears of it.
func (r *runner) failOrphan(ctx context.Context, o orphan) (bool, error) {
	now := r.q.now()
	why := o.why()
	var (
		failed bool
		lost   *Attempt // the attempt recorded for a sending orphan
	)
	lastError, err := r.q.keys().sealString(place{id: o.id, field: "last_error"}, why)
	if err != nil {
		return false, err
	}
	err = r.q.s.inTx(ctx, func(tx txn) error {
		attempted := 0
		if o.state == StateSending {
			attempted = 1
		}
		n, err := tx.exec(ctx, `
UPDATE liquidhook_delivery
SET state = ?, next_at = NULL, sending_at = NULL, interrupted_at = NULL,
	attempts = attempts + ?, series_attempts = series_attempts + ?, last_error = ?, updated_at = ?
WHERE id = ? AND job_id = ? AND state = ?`,
			string(StateFailed), attempted, attempted, lastError, toMicros(now), o.id, o.jobID, string(o.state))
		if err != nil || n == 0 {
			return err
		}
		failed = true
		if o.state == StateSending {
			start := fromMicros(o.sendingAt)
			op := &finishOp{id: o.id, attempt: Attempt{
				Series:   o.series,
				Number:   o.seriesAttempts + 1,
				Start:    start,
				Duration: max(now.Sub(start), 0),
				Class:    ClassInterrupted,
				Error:    why,
			}}
			if err := r.insertAttempts(ctx, tx, []*finishOp{op}); err != nil {
				return err
			}
			op.attempt.Start = fromMicros(toMicros(start)) // as the log keeps it
			lost = &op.attempt
		}
		if r.onFailed == nil {
			return nil
		}
		_, err = tx.insertJobs(ctx, []river.InsertManyParams{{Args: hookArgs{DeliveryID: o.id, Event: hookFailed, Series: o.series}}})
		return err
	})
	if err == nil && lost != nil && r.onAttempt != nil {
		r.reportStored(o.id, *lost)
	}
	if failed && err == nil {
		r.tel.orphaned(ctx, &o)
	}
	return failed && err == nil, err
}

// sweepOrphans fails the orphans there are now. A failure is logged, not
// returned: the next sweep tries again.
func (r *runner) sweepOrphans(ctx context.Context, logger *slog.Logger) {
	if _, err := r.failOrphans(ctx); err != nil && ctx.Err() == nil {
		logger.WarnContext(ctx, "delivery: looking for orphaned deliveries", "error", err)
	}
}
