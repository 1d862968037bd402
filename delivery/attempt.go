package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// runner makes attempts for one Work call.
type runner struct {
	q           *Queue
	send        func(ctx context.Context, r *webhook.Request) (*webhook.Result, error)
	policy      webhook.RetryPolicy
	concurrency int
	jobTimeout  time.Duration
	rescueAfter time.Duration
	onDelivered func(ctx context.Context, d *Delivery) error
	onFailed    func(ctx context.Context, d *Delivery) error
	onAttempt   func(d *Delivery, a Attempt)
}

func newRunner(q *Queue, w *Worker) (*runner, error) {
	var base webhook.Sender
	if w.Sender != nil {
		base = *w.Sender
	}
	policy := base.RetryPolicy
	if policy == nil {
		policy = defaultRetryPolicyTmp
	}
	// One attempt per job run: the policy is applied here, across runs.
	sender := base
	sender.RetryPolicy = noRetryTmp
	timeout := base.Timeout
	if timeout <= 0 {
		timeout = defaultAttemptTimeout
	}
	r := &runner{
		q:           q,
		send:        sender.Send,
		policy:      policy,
		concurrency: w.Concurrency,
		jobTimeout:  timeout + jobMargin,
		rescueAfter: w.RescueAfter,
		onDelivered: w.OnDelivered,
		onFailed:    w.OnFailed,
		onAttempt:   w.OnAttempt,
	}
	if w.send != nil {
		r.send = w.send
	}
	if r.concurrency <= 0 {
		r.concurrency = defaultConcurrency
	}
	if r.rescueAfter == 0 {
		r.rescueAfter = r.jobTimeout + rescueMargin
	}
	if r.rescueAfter <= r.jobTimeout {
		return nil, fmt.Errorf("%w (it is %v, the attempt timeout %v)", ErrRescueTooSoon, r.rescueAfter, timeout)
	}
	return r, nil
}

func (r *runner) hooks() bool { return r.onDelivered != nil || r.onFailed != nil }

// sendWorker is the River worker of send jobs.
type sendWorker struct {
	river.WorkerDefaults[sendArgs]
	r *runner
}

func (w *sendWorker) Timeout(*river.Job[sendArgs]) time.Duration { return w.r.jobTimeout }

func (w *sendWorker) Work(ctx context.Context, job *river.Job[sendArgs]) error {
	return w.r.work(ctx, job)
}

// claimed is what an attempt needs from the delivery log.
type claimed struct {
	id             int64
	spec, data     string
	key            string
	series         int
	seriesAttempts int
	interruptedAt  int64
}

// work makes one attempt at the job's delivery. The delivery log decides:
// a job whose delivery has moved on (cancelled, re-sent, finished) does
// nothing, and one that runs before its delivery is due waits.
func (r *runner) work(ctx context.Context, job *river.Job[sendArgs]) error {
	id := job.Args.DeliveryID
	now := r.q.now()
	c := claimed{id: id}
	var interrupted sql.NullInt64
	// Mark the delivery sending, committed before the request goes out, so
	// a worker that dies mid-request leaves a trace: the next run finds it
	// still sending and records the lost attempt.
	err := r.q.s.db().queryRow(ctx, `
UPDATE liquidhook_delivery
SET state = ?, sending_at = ?, updated_at = ?,
	interrupted_at = CASE WHEN state = ? THEN sending_at ELSE NULL END
WHERE id = ? AND job_id = ? AND state IN (?, ?) AND coalesce(next_at, 0) <= ?
RETURNING spec, data, idempotency_key, series, series_attempts, interrupted_at`,
		string(StateSending), toMicros(now), toMicros(now), string(StateSending),
		id, job.ID, string(StateScheduled), string(StateSending), toMicros(now),
	).Scan(&c.spec, &c.data, &c.key, &c.series, &c.seriesAttempts, &interrupted)
	if isNoRows(err) {
		return r.unclaimed(ctx, job, now)
	}
	if err != nil {
		return err
	}

	if interrupted.Valid {
		c.interruptedAt = interrupted.Int64
		at := fromMicros(c.interruptedAt)
		return r.finish(ctx, job, &c, outcome{
			attempt: Attempt{
				Start:    at,
				Duration: now.Sub(at),
				Class:    ClassInterrupted,
				Error:    "delivery: the worker stopped before a response arrived",
			},
			waitFrom: at,
		})
	}

	return r.finish(ctx, job, &c, r.attempt(ctx, &c))
}

// unclaimed handles a job whose delivery could not be marked sending.
func (r *runner) unclaimed(ctx context.Context, job *river.Job[sendArgs], now time.Time) error {
	var (
		state  string
		jobID  int64
		nextAt int64
	)
	err := r.q.s.db().queryRow(ctx,
		`SELECT state, coalesce(job_id, 0), coalesce(next_at, 0) FROM liquidhook_delivery WHERE id = ?`,
		job.Args.DeliveryID).Scan(&state, &jobID, &nextAt)
	if isNoRows(err) {
		return nil // deleted: nothing to send
	}
	if err != nil {
		return err
	}
	if jobID == job.ID && State(state) == StateScheduled {
		if wait := fromMicros(nextAt).Sub(now); wait > 0 {
			return river.JobSnooze(wait)
		}
		return river.JobSnooze(0)
	}
	return nil // superseded: the delivery moved on without this job
}

// outcome is an attempt's result, before the policy has spoken.
type outcome struct {
	attempt    Attempt
	delivered  bool
	final      bool // no retry whatever the policy says
	attributes map[string]any
	// waitFrom is when the policy's wait starts: the end of the attempt.
	waitFrom time.Time
}

// attempt renders and sends one attempt. It never returns an error: every
// way an attempt can go wrong is an outcome to record.
func (r *runner) attempt(ctx context.Context, c *claimed) outcome {
	start := r.q.now()
	invalid := func(err error) outcome {
		return outcome{
			attempt: Attempt{Start: start, Class: webhook.ClassInvalid, Error: err.Error()},
			final:   true,
		}
	}
	action, err := r.q.actions.get(c.spec)
	if err != nil {
		return invalid(err)
	}
	data, err := decodeData([]byte(c.data))
	if err != nil {
		return invalid(err)
	}
	req, err := action.Render(data)
	if err != nil {
		return invalid(err)
	}
	req.IdempotencyKey = c.key

	res, err := r.send(ctx, req)
	o := outcome{waitFrom: r.q.now()}
	var atts []webhook.Attempt
	var se *webhook.SendError
	switch {
	case res != nil && len(res.Attempts) > 0:
		atts = res.Attempts
	case errors.As(err, &se):
		atts = se.Attempts
	}
	if len(atts) == 0 {
		if err == nil {
			err = errors.New("delivery: the sender made no attempt")
		}
		o.attempt = Attempt{Start: start, Duration: r.q.now().Sub(start), Class: webhook.ClassInvalid, Error: err.Error()}
		o.final = true
		return o
	}
	a := atts[len(atts)-1]
	o.attempt = Attempt{
		Start:      a.Start,
		Duration:   a.Duration,
		Status:     a.Status,
		Class:      a.Class,
		RetryAfter: a.RetryAfter,
	}
	if a.Err != nil {
		o.attempt.Error = a.Err.Error()
	} else if err != nil && a.Class != "" {
		o.attempt.Error = err.Error()
	}
	if res != nil && res.Response != nil {
		body := res.Response.Body
		if len(body) > MaxResponseExcerpt {
			body = body[:MaxResponseExcerpt]
		}
		o.attempt.Response = body
	}
	if err == nil && res.Delivered() {
		o.delivered = true
		o.attributes = res.Attributes
	}
	return o
}

// errLostClaim means another run took the delivery over while this one was
// sending (RescueAfter passed): the other run records the outcome.
var errLostClaim = errors.New("delivery: another worker took the delivery over")

// finish records an attempt and moves the delivery on, in one transaction
// with River: the attempt, the delivery's new state, this job's completion,
// the next attempt's job and the hook's job commit together or not at all.
func (r *runner) finish(ctx context.Context, job *river.Job[sendArgs], c *claimed, o outcome) error {
	// The record is written even if the job's context has just ended: the
	// attempt happened.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()

	a := o.attempt
	a.Series = c.series
	a.Number = c.seriesAttempts + 1
	now := r.q.now()

	state := StateDelivered
	var due time.Time
	if !o.delivered {
		state = StateFailed
		if !o.final {
			// The policy sees the attempt's number within its series. An
			// attempt cut short by the worker stopping counts as a timeout:
			// no response arrived.
			pa := webhook.Attempt{
				Number: a.Number, Start: a.Start, Duration: a.Duration, Status: a.Status,
				Class: a.Class, RetryAfter: a.RetryAfter,
			}
			if pa.Class == ClassInterrupted || pa.Class == webhook.ClassCanceled {
				pa.Class = webhook.ClassTimeout
			}
			if wait, retry := r.policy.Next(pa); retry {
				state = StateScheduled
				a.Wait = max(wait, 0)
				due = later(o.waitFrom.Add(a.Wait), toMicros(now))
			}
		}
	}
	var attrs any
	if state == StateDelivered && o.attributes != nil {
		s, err := encodeJSON(o.attributes)
		if err != nil {
			return fmt.Errorf("delivery: attributes: %w", err)
		}
		attrs = s
	}

	err := r.q.s.inTx(ctx, func(tx txn) error {
		var next sql.NullInt64
		var nextAt any
		if state == StateScheduled {
			id, err := insertSendJob(ctx, tx, c.id, due, now)
			if err != nil {
				return err
			}
			next = nullJob(id)
			nextAt = toMicros(due)
		}
		n, err := tx.exec(ctx, `
UPDATE liquidhook_delivery
SET state = ?, job_id = ?, next_at = ?, sending_at = NULL, interrupted_at = NULL,
	attempts = attempts + 1, series_attempts = series_attempts + 1,
	attributes = ?, last_error = ?, updated_at = ?
WHERE id = ? AND job_id = ? AND state = ?`,
			string(state), next, nextAt, attrs, a.Error, toMicros(now),
			c.id, job.ID, string(StateSending))
		if err != nil {
			return err
		}
		if n == 0 {
			return errLostClaim
		}
		if err := insertAttempt(ctx, tx, c.id, a); err != nil {
			return err
		}
		if err := tx.completeJob(ctx, job); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
			return err
		}
		if (state == StateDelivered && r.onDelivered != nil) || (state == StateFailed && r.onFailed != nil) {
			ev := hookDelivered
			if state == StateFailed {
				ev = hookFailed
			}
			if _, err := tx.insertJob(ctx, hookArgs{DeliveryID: c.id, Event: ev}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errLostClaim) {
		// Keep the attempt in the log; the state belongs to the other run.
		return r.q.s.inTx(ctx, func(tx txn) error { return insertAttempt(ctx, tx, c.id, a) })
	}
	if err != nil {
		return fmt.Errorf("delivery: record attempt of delivery %d: %w", c.id, err)
	}
	if r.onAttempt != nil {
		d := &Delivery{
			ID: c.id, State: state, IdempotencyKey: c.key, Series: c.series,
			NextAt: due, LastError: a.Error, UpdatedAt: now,
		}
		if state == StateDelivered {
			d.Attributes = o.attributes
		}
		r.onAttempt(d, a)
	}
	return nil
}

func insertAttempt(ctx context.Context, tx txn, id int64, a Attempt) error {
	_, err := tx.exec(ctx, `
INSERT INTO liquidhook_attempt
	(delivery_id, series, number, started_at, duration, status, class, retry_after, wait, error, response)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, a.Series, a.Number, toMicros(a.Start), int64(a.Duration), a.Status, string(a.Class),
		int64(a.RetryAfter), int64(a.Wait), a.Error, a.Response)
	return err
}

func durationOf(ns int64) time.Duration { return time.Duration(ns) }

func errorClass(s string) webhook.ErrorClass { return webhook.ErrorClass(s) }
