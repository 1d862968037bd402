package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/riverqueue/river"
)

// runner makes attempts for one Work call.
type runner struct {
	q             *Queue
	sender        *webhook.Sender // the Worker's, with no retries of its own
	policy        webhook.RetryPolicy
	concurrency   int
	timeout       time.Duration // of an attempt
	jobTimeout    time.Duration
	rescueAfter   time.Duration
	orphanSweep   time.Duration
	circuit       Circuit
	onDelivered   func(ctx context.Context, d *Delivery) error
	onFailed      func(ctx context.Context, d *Delivery) error
	onAttempt     func(d *Delivery, a Attempt)
	onDestination func(d Destination)

	slots    *slots
	claims   *batcher[*claimOp]
	finishes *batcher[*finishOp]
	parks    *batcher[*parkOp]

	logger *slog.Logger
	tel    *workerTelemetry
	// sealedLeft is set once idle has said that deliveries sealed with
	// other keys are left.
	sealedLeft atomic.Bool
}

func newRunner(q *Queue, w *Worker) (*runner, error) {
	var base webhook.Sender
	if w.Sender != nil {
		base = *w.Sender
	}
	policy := base.RetryPolicy
	if policy == nil {
		policy = webhook.DefaultRetryPolicy
	}
	// One attempt per job run: the policy is applied here, across runs.
	sender := &base
	sender.RetryPolicy = webhook.NoRetry
	sender.OnAttempt = nil // it would see every attempt as number 1
	timeout := base.Timeout
	if timeout <= 0 {
		timeout = defaultAttemptTimeout
	}
	r := &runner{
		q:             q,
		sender:        sender,
		policy:        policy,
		concurrency:   w.Concurrency,
		timeout:       timeout,
		jobTimeout:    timeout + cmp.Or(w.jobMargin, jobMargin),
		rescueAfter:   w.RescueAfter,
		orphanSweep:   w.orphanSweep,
		circuit:       w.Circuit,
		onDelivered:   w.OnDelivered,
		onFailed:      w.OnFailed,
		onAttempt:     w.OnAttempt,
		onDestination: w.OnDestination,
		logger:        w.Logger,
	}
	if r.logger == nil {
		r.logger = discardLogger()
	}
	r.tel = newWorkerTelemetry(w, sender, r.logger)
	if r.concurrency <= 0 {
		r.concurrency = defaultConcurrency
	}
	if r.rescueAfter == 0 {
		r.rescueAfter = r.jobTimeout + rescueMargin
	}
	if r.rescueAfter <= r.jobTimeout {
		return nil, fmt.Errorf("%w (it is %v, the attempt timeout %v)", ErrRescueTooSoon, r.rescueAfter, timeout)
	}
	now := time.Now
	if q != nil {
		now = q.now
	}
	r.slots = newSlots(r.concurrency, r.circuit, now)
	return r, nil
}

// start starts the batchers; stop stops them once no job is running. One
// runner each: while a batch commits, the next one gathers, and bigger
// batches mean fewer commits (measured on both databases).
func (r *runner) start() {
	r.claims = newBatcher(1, batchMax, r.claimBatch)
	r.finishes = newBatcher(1, batchMax, r.finishBatch)
	r.parks = newBatcher(1, batchMax, r.parkBatch)
}

func (r *runner) stop() {
	r.claims.close()
	r.finishes.close()
	r.parks.close()
	// The copy of the Worker's Sender is this run's: its connections go
	// with it.
	r.sender.CloseIdleConnections()
}

// batchMax bounds the operations in one batch, and so the size of one
// statement's parameters.
const batchMax = 256

func (r *runner) hooks() bool { return r.onDelivered != nil || r.onFailed != nil }

// learn tells OnDestination of destinations whose state changed.
func (r *runner) learn(changed []Destination) {
	if r.onDestination == nil {
		return
	}
	for _, d := range changed {
		r.onDestination(d)
	}
}

// sendWorker is the River worker of send jobs.
type sendWorker struct {
	river.WorkerDefaults[sendArgs]
	r *runner
}

func (w *sendWorker) Timeout(*river.Job[sendArgs]) time.Duration { return w.r.jobTimeout }

func (w *sendWorker) Work(ctx context.Context, job *river.Job[sendArgs]) error {
	return w.r.work(ctx, job)
}

// work makes one attempt at the job's delivery, if its destination lets
// it: a job held for its destination's share of the slots is run again
// later (a snooze, which River does not count), a delivery whose
// destination is paused waits in the log without a job, one whose
// destination is disabled fails. The delivery log decides the rest: a job
// whose delivery has moved on (cancelled, re-sent, finished) does nothing,
// and one that runs before its delivery is due waits.
//
// The job's own completion is left to River, after the outcome is
// committed: should the process stop in between, the job runs again, finds
// its delivery finished (or re-queued under another job) and does nothing.
func (r *runner) work(ctx context.Context, job *river.Job[sendArgs]) error {
	id, dest := job.Args.DeliveryID, job.Args.Destination
	probe := false
	adm, wait, ready := r.slots.admit(dest, id)
	switch adm {
	case queued:
		if wait := r.queued(ctx, dest, ready); wait > 0 {
			return river.JobSnooze(wait)
		}
	case held:
		return river.JobSnooze(wait)
	case paused:
		return r.hold(ctx, job)
	case disabled:
		return r.record(ctx, job, func(*claimed) outcome { return r.disabledOutcome(dest) })
	case probeDue:
		won, err := r.takeProbe(ctx, dest, id)
		if err != nil {
			return fmt.Errorf("delivery: probe %s: %w", dest, err)
		}
		if !won {
			return r.hold(ctx, job)
		}
		r.slots.admitProbe(dest)
		probe = true
	}
	return r.send(ctx, job, dest, probe)
}

// queued waits for a queued job to be admitted, at most slotWait, and
// returns 0 if it was, or else how long it is to be held.
func (r *runner) queued(ctx context.Context, dest string, q *queuedJob) time.Duration {
	t := time.NewTimer(slotWait)
	defer t.Stop()
	select {
	case <-q.ready:
	case <-t.C:
	case <-ctx.Done():
	}
	return r.slots.leave(dest, q)
}

// slotWait bounds how long a job waits in memory to be admitted.
const slotWait = 2 * time.Second

// send makes the attempt of an admitted job. The delivery is marked
// sending (and committed) before the request goes out, so that an attempt
// cannot be cancelled or re-sent while in flight, and a worker that dies
// mid-request leaves a trace: the next run finds the delivery still
// sending and records the lost attempt. The claim is made before the job
// waits for a slot, and the slot is given back as soon as the response is
// in, before the outcome is recorded: a slot is busy only while a request
// is.
func (r *runner) send(ctx context.Context, job *river.Job[sendArgs], dest string, probe bool) error {
	id := job.Args.DeliveryID
	slot, ended := false, false
	end := func(v verdict, a Attempt) {
		if !ended {
			ended = true
			if r.slots.done(dest, slot, v, a.Start, a.Duration) {
				r.learn([]Destination{r.slots.describe(dest)})
			}
		}
	}
	defer end(neutral, Attempt{})

	claim := &claimOp{id: id, jobID: job.ID}
	if err := r.claims.do(claim); err != nil {
		return fmt.Errorf("delivery: claim delivery %d: %w", claim.id, err)
	}
	if !claim.found {
		end(neutral, Attempt{})
		if probe {
			r.dropProbe(dest, id)
		}
		return r.unclaimed(ctx, job)
	}
	ctx = r.tel.start(ctx, claim)
	defer r.tel.end(ctx)
	c := &claim.c
	if c.interruptedAt != 0 {
		end(neutral, Attempt{})
		return r.finish(ctx, job, c, interrupted(claim), probe)
	}
	switch r.slots.take(ctx, dest, probe, r.slotBudget(ctx)) {
	case noSlot:
		// None while the job could still make its attempt in time: the
		// delivery goes back to waiting, nothing sent.
		end(neutral, Attempt{})
		if probe {
			r.dropProbe(dest, id)
		}
		return r.giveBack(job, false)
	case stopped:
		// Paused since it was admitted: it waits for the destination.
		end(neutral, Attempt{})
		return r.giveBack(job, true)
	}
	slot = true
	// The attempt's outcome is known once attempt returns: end gives the
	// slot back and adjusts the destination's limit; finish applies the
	// policy and records it.
	o := r.attempt(ctx, c)
	end(verdictOf(o.attempt), o.attempt)
	return r.finish(ctx, job, c, o, probe)
}

// slotBudget is how long a claimed job may wait for a slot and still
// make its attempt, and record it, before River's job timeout.
func (r *runner) slotBudget(ctx context.Context) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return r.jobTimeout
	}
	// Half the margin is left for recording the outcome.
	return time.Until(deadline) - r.timeout - (r.jobTimeout-r.timeout)/2
}

// giveBack gives back a claim whose attempt was not made: the delivery is
// scheduled again, nothing recorded, under the same job, which River runs
// again shortly, or, with hold, held for its paused destination.
func (r *runner) giveBack(job *river.Job[sendArgs], hold bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	q := `UPDATE liquidhook_delivery SET state = 'scheduled', sending_at = NULL, interrupted_at = NULL
WHERE id = ? AND job_id = ? AND state = 'sending'`
	if hold {
		q = `UPDATE liquidhook_delivery SET state = 'scheduled', sending_at = NULL, interrupted_at = NULL, job_id = NULL
WHERE id = ? AND job_id = ? AND state = 'sending'`
	}
	if _, err := r.q.s.db().exec(ctx, q, job.Args.DeliveryID, job.ID); err != nil {
		return fmt.Errorf("delivery: give back delivery %d: %w", job.Args.DeliveryID, err)
	}
	if hold {
		return nil
	}
	return river.JobSnooze(holdMin)
}

// record claims the job's delivery and records the outcome that fn gives,
// without sending anything (a disabled destination's failure), or the
// attempt a stopped worker left unfinished.
func (r *runner) record(ctx context.Context, job *river.Job[sendArgs], fn func(c *claimed) outcome) error {
	claim := &claimOp{id: job.Args.DeliveryID, jobID: job.ID}
	if err := r.claims.do(claim); err != nil {
		return fmt.Errorf("delivery: claim delivery %d: %w", claim.id, err)
	}
	if !claim.found {
		return r.unclaimed(ctx, job)
	}
	ctx = r.tel.start(ctx, claim)
	defer r.tel.end(ctx)
	if claim.c.interruptedAt != 0 || fn == nil {
		return r.finish(ctx, job, &claim.c, interrupted(claim), false)
	}
	return r.finish(ctx, job, &claim.c, fn(&claim.c), false)
}

// interrupted is the outcome of an attempt that a stopped worker left
// unfinished: it began when the delivery was marked sending.
func interrupted(claim *claimOp) outcome {
	at := fromMicros(claim.c.interruptedAt)
	if claim.c.interruptedAt == 0 {
		at = claim.now
	}
	return outcome{
		attempt: Attempt{
			Start:    at,
			Duration: claim.now.Sub(at),
			Class:    ClassInterrupted,
			Error:    "delivery: the worker stopped before a response arrived",
		},
		destination: claim.c.destination,
		waitFrom:    at,
	}
}

// unclaimed handles a job whose delivery could not be marked sending:
// superseded, or early.
func (r *runner) unclaimed(ctx context.Context, job *river.Job[sendArgs]) error {
	var (
		state      string
		jobID      int64
		nextAt     int64
		spec, data string
	)
	err := r.q.s.db().queryRow(ctx,
		`SELECT state, coalesce(job_id, 0), coalesce(next_at, 0), substr(spec, 1, 14), substr(data, 1, 14)
FROM liquidhook_delivery WHERE id = ?`,
		job.Args.DeliveryID).Scan(&state, &jobID, &nextAt, &spec, &data)
	if isNoRows(err) {
		return nil // deleted: nothing to send
	}
	if err != nil {
		return err
	}
	if jobID == job.ID {
		// Sealed with a key this worker lacks: the job fails, to be retried
		// by River (perhaps by a worker that holds the key), and the
		// delivery is left as it is.
		if err := r.q.keys().canOpen(job.Args.DeliveryID, map[string]string{"spec": spec, "data": data}); err != nil {
			r.logger.WarnContext(ctx, "delivery: left for a worker that holds its key", "error", err)
			return err
		}
	}
	if jobID == job.ID && State(state) == StateScheduled {
		// Early: River snoozes the job, without counting an attempt, and
		// wakes it when due.
		return river.JobSnooze(max(fromMicros(nextAt).Sub(r.q.now()), 0))
	}
	return nil // superseded: the delivery moved on without this job
}

// outcome is an attempt's result, before the policy has spoken.
type outcome struct {
	attempt    Attempt
	delivered  bool
	final      bool // no retry whatever the policy says
	attributes map[string]any
	// destination is where the request went: the rendered URL's, or the
	// one the log held when there was no request.
	destination string
	// waitFrom is when the policy's wait starts: the end of the attempt.
	waitFrom time.Time
	// url is the request's, when it was rendered.
	url string
}

// attempt renders and sends one attempt. It never returns an error: every
// way an attempt can go wrong is an outcome to record.
func (r *runner) attempt(ctx context.Context, c *claimed) outcome {
	start := r.q.now()
	invalid := func(err error) outcome {
		return outcome{
			attempt:     Attempt{Start: start, Class: webhook.ClassInvalid, Error: err.Error()},
			final:       true,
			destination: c.destination,
			waitFrom:    start,
		}
	}
	// The claim took only deliveries whose values these keys open: a value
	// that does not open now was altered, and will not open on a retry.
	kr := r.q.keys()
	spec, err := kr.openString(place{id: c.id, field: "spec"}, c.spec)
	if err != nil {
		return invalid(err)
	}
	action, err := r.q.actions.get(r.q.Compiler, c.lax, spec)
	if err != nil {
		return invalid(err)
	}
	dataJSON, err := kr.open(place{id: c.id, field: "data"}, []byte(c.data))
	if err != nil {
		return invalid(err)
	}
	data, err := decodeData(dataJSON)
	if err != nil {
		return invalid(err)
	}
	req, err := action.Render(data)
	if err != nil {
		return invalid(err)
	}
	req.IdempotencyKey = c.key
	destination := cmp.Or(destinationOf(req.URL), c.destination)

	res, err := r.sender.Send(ctx, req, action.Mapper(data))
	o := outcome{waitFrom: r.q.now(), destination: destination, url: req.URL}
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
	// An empty body is kept as none: SQLite reads an empty BLOB back as
	// NULL, PostgreSQL an empty BYTEA as empty, and the log must read the
	// same on both.
	if res != nil && res.Response != nil && len(res.Response.Body) > 0 {
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

// finish applies the policy to an attempt and records it. Here an
// attempt's outcome is known; it is in the log once r.finishes.do returns.
func (r *runner) finish(ctx context.Context, job *river.Job[sendArgs], c *claimed, o outcome, probe bool) error {
	a := o.attempt
	a.Series = c.series
	a.Number = c.seriesAttempts + 1
	a.Error = cleanText(a.Error)
	a.Start = fromMicros(toMicros(a.Start)) // as the log keeps it
	now := r.q.now()

	f := &finishOp{id: c.id, jobID: job.ID, state: StateDelivered, destination: o.destination,
		counted: job.Args.Destination, probe: probe}
	if !o.delivered {
		f.state = StateFailed
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
				f.state = StateScheduled
				a.Wait = max(wait, 0)
				f.due = later(o.waitFrom.Add(a.Wait), toMicros(now))
			}
		}
	}
	if f.state == StateDelivered && o.attributes != nil {
		s, err := encodeJSON(o.attributes)
		if err != nil {
			return fmt.Errorf("delivery: attributes: %w", err)
		}
		f.attributes = &s
	}
	f.hook = (f.state == StateDelivered && r.onDelivered != nil) || (f.state == StateFailed && r.onFailed != nil)
	f.attempt = a

	if err := r.finishes.do(f); err != nil {
		return fmt.Errorf("delivery: record attempt of delivery %d: %w", c.id, err)
	}
	r.tel.recorded(ctx, c, f, o.url)
	if r.onAttempt != nil {
		if f.lost {
			// Another run holds the delivery: only the log knows how it
			// stands. Rare, so worth the read.
			r.reportStored(c.id, f.attempt)
		} else {
			r.onAttempt(recorded(c, f), f.attempt)
		}
	}
	return nil
}

// reportStored calls OnAttempt with a, already recorded, and the delivery
// as Get returns it now. If that read fails, the call is missed, as
// OnAttempt allows.
func (r *runner) reportStored(id int64, a Attempt) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	d, err := r.q.Get(ctx, id)
	if err != nil {
		return
	}
	d.Spec, d.Data, d.Attempts = webhook.Spec{}, nil, nil
	r.onAttempt(d, a)
}

// recorded returns the delivery as f left it in the log, bar its Spec,
// Data and Attempts: what OnAttempt is given.
func recorded(c *claimed, f *finishOp) *Delivery {
	d := &Delivery{
		ID: c.id, State: f.state, IdempotencyKey: c.key, Destination: f.destination, Conversion: c.conversion, Series: c.series,
		LastError: f.attempt.Error, CreatedAt: fromMicros(c.createdAt), UpdatedAt: f.recordedAt,
	}
	// Stored metadata always decodes: Enqueue encoded it.
	_ = json.Unmarshal([]byte(c.metadata), &d.Metadata)
	if f.state == StateScheduled {
		d.NextAt = fromMicros(toMicros(f.due))
	}
	if f.attributes != nil {
		_ = json.Unmarshal([]byte(*f.attributes), &d.Attributes)
	}
	return d
}
