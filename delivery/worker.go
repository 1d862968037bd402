package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Worker configures Work: how attempts are sent and retried, and what the
// application hears. The zero value sends with a default webhook.Sender and
// its DefaultRetryPolicy, and calls nothing.
type Worker struct {
	// Sender sends each attempt: its transport, signing key, Timeout,
	// response cap and private-address rules apply. Every job run makes
	// exactly one attempt; Sender.RetryPolicy (DefaultRetryPolicy when nil)
	// then decides, with the attempt's number within its series, whether
	// and when the next one is made, through River's scheduling, so retries
	// outlive the process. The policy and timeout in force are this
	// Worker's when each attempt finishes, whatever was true at enqueue.
	// Sender.OnAttempt and Sender.Logger are not used: the Worker reports
	// each attempt through OnAttempt and Logger, numbered within its
	// delivery's series. Work sends with a copy of it, whose connections
	// are its own and are closed when Work returns; the copy takes the
	// Worker's TracerProvider and MeterProvider where it has none of its
	// own. Defaults to a zero Sender.
	Sender *webhook.Sender

	// Concurrency is how many attempts are in flight at once in this
	// process: its slots. Destinations share them: while others wait, a
	// destination holds no more than its share, and one whose attempts
	// fail or time out gets fewer, growing back as it answers; one that
	// answers well may use every slot when it is alone. A worker runs up to
	// as many jobs again, claimed and waiting for a slot or recording an
	// outcome, so that a slot is taken again as soon as it is given back.
	// Defaults to 300.
	Concurrency int

	// RescueAfter is how long an attempt may seem to be in flight before
	// another worker takes the delivery over, assuming this one died: the
	// request is then sent again with the same idempotency key. It must
	// exceed the attempt timeout by a margin. Defaults to the attempt
	// timeout plus 40 seconds, so a killed worker's deliveries resume
	// within a minute or two.
	RescueAfter time.Duration

	// OnDelivered is called with a delivery that was delivered, with its
	// mapped Attributes, so the application can update the person and move
	// them on. OnFailed is called with one that failed after its last
	// retry (no attributes). Each call runs as a River job queued in the
	// transaction that recorded the outcome, so it happens at least once
	// however the worker stops; an error returned is retried later with
	// River's backoff, and the call's context ends after the attempt
	// timeout plus 10 seconds. Calls are made by workers that set the
	// hook, so give every worker process the same hooks. Hooks run
	// concurrently. A call still pending when the delivery is re-sent (or
	// purged) is dropped: the delivery no longer stands as it would report,
	// and the new series calls the hook for its own outcome.
	OnDelivered func(ctx context.Context, d *Delivery) error
	OnFailed    func(ctx context.Context, d *Delivery) error

	// Circuit configures the circuit of each destination: how many
	// failures in a row pause it, for how long, and whether one that keeps
	// failing is disabled. The zero value uses the defaults.
	Circuit Circuit

	// OnDestination, if set, is called when a destination's state changes
	// as this worker sees it: slowed (its slots cut after failures),
	// paused (again, after a failed probe) or disabled (from the log,
	// which every worker shares), or healthy again. The Destination carries what the worker knows
	// (failures, pause, slots), not the recent counts. It is for progress
	// and may be called from many goroutines at once.
	OnDestination func(d Destination)

	// OnAttempt, if set, is called after each attempt is recorded, with the
	// attempt and the delivery as the log now holds them (without the
	// delivery's Spec, Data and Attempts, which Get returns). It is for
	// progress and metrics: it is not retried, may be missed if the process
	// stops, and is called from many goroutines at once.
	OnAttempt func(d *Delivery, a Attempt)

	// Logger receives River's warnings and errors and the worker's own:
	// each attempt at Debug, each failed attempt and each delivery failed
	// for want of a job at Warn, with the delivery's id, the redacted URL,
	// and never a header value or the body. Nil logs nothing.
	Logger *slog.Logger

	// TracerProvider makes the span of each job run (see the package
	// doc's Observability section), and, when Sender has none, the spans
	// of the attempts. Defaults to OpenTelemetry's global provider, which
	// records nothing until the application installs an SDK.
	TracerProvider trace.TracerProvider

	// MeterProvider makes the worker's metrics and, when Sender has none,
	// the attempts'. Defaults to OpenTelemetry's global provider.
	MeterProvider metric.MeterProvider

	// PollInterval is how often the worker looks for attempts and hook
	// calls that have fallen due without being announced (everything on
	// SQLite; retries, and deliveries held back for their destination's
	// share of the slots, on PostgreSQL, so one due sooner than that may
	// wait for the next look), and reads the destinations' circuits.
	// Defaults to 100 ms; values below 20 ms count as 20 ms.
	// Tests whose retries come a millisecond apart set it low (package
	// deliverytest does).
	PollInterval time.Duration

	// testOnly turns off River's startup jitter in tests.
	testOnly bool
	// jobMargin replaces the default margin of the job timeout over the
	// attempt timeout in tests, so that rescue can come quickly.
	jobMargin time.Duration
	// orphanSweep replaces orphanSweep in tests.
	orphanSweep time.Duration
}

// Defaults of Worker.
const (
	defaultConcurrency    = 300
	defaultAttemptTimeout = 4 * time.Second // the Sender's default
	// jobMargin is added to the attempt timeout for River's job timeout: a
	// job renders, sends and records, and only the send is bounded by the
	// attempt timeout.
	jobMargin = 10 * time.Second
	// rescueMargin is added to the job timeout for the default RescueAfter.
	rescueMargin = 30 * time.Second
	// idlePoll is how often WorkUntilIdle looks for work left.
	idlePoll = 100 * time.Millisecond
	// fetchCooldown bounds how often River fetches jobs; a worker can start
	// at most Concurrency attempts per cooldown.
	fetchCooldown = 20 * time.Millisecond
)

// ErrRescueTooSoon is returned by Work when RescueAfter does not leave room
// for an attempt to finish.
var ErrRescueTooSoon = errors.New("delivery: RescueAfter must exceed the attempt timeout plus 10 seconds")

// Work sends due deliveries until ctx is done, then stops taking new work,
// lets attempts in flight finish and returns nil. Any number of Work calls,
// in any number of processes, may share a database; each delivery is sent
// by one of them at a time.
func (q *Queue) Work(ctx context.Context, w *Worker) error {
	return q.work(ctx, w, false)
}

// WorkUntilIdle is Work that also returns, with nil, once no delivery is
// scheduled or sending (each is delivered, failed, cancelled or a draft)
// and no hook of w is pending. Deliveries scheduled for later are waited
// for; those sealed with keys the Queue does not hold are not (they are
// left for a worker that holds them, and w.Logger hears of them).
func (q *Queue) WorkUntilIdle(ctx context.Context, w *Worker) error {
	return q.work(ctx, w, true)
}

func (q *Queue) work(ctx context.Context, w *Worker, untilIdle bool) error {
	if err := q.check(); err != nil {
		return err
	}
	if err := q.keys().err; err != nil {
		return err
	}
	if w == nil {
		w = &Worker{}
	}
	r, err := newRunner(q, w)
	if err != nil {
		return err
	}
	logger := w.Logger
	if logger == nil {
		logger = discardLogger()
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &sendWorker{r: r})
	river.AddWorker(workers, &hookWorker{r: r})
	queues := map[string]river.QueueConfig{
		riverQueueSend: {MaxWorkers: 2 * r.concurrency, FetchCooldown: fetchCooldown},
	}
	if r.hooks() {
		queues[riverQueueHook] = river.QueueConfig{MaxWorkers: 10}
	}
	client, err := q.s.newWorkClient(&river.Config{
		CancelledJobRetentionPeriod: 24 * time.Hour,
		CompletedJobRetentionPeriod: 24 * time.Hour,
		DiscardedJobRetentionPeriod: 7 * 24 * time.Hour,
		FetchCooldown:               fetchCooldown,
		FetchPollInterval:           w.pollInterval(),
		JobTimeout:                  r.jobTimeout,
		Logger:                      logger,
		Queues:                      queues,
		RescueStuckJobsAfter:        r.rescueAfter,
		TestOnly:                    w.testOnly,
		Workers:                     workers,
	})
	if err != nil {
		return fmt.Errorf("delivery: worker: %w", err)
	}
	r.start()
	defer r.stop() // after the client has stopped: no job is left running
	r.sweepOrphans(ctx, logger)
	// Before the first job: a paused destination is not sent to.
	r.tend(ctx, w.pollInterval())
	// Jobs run under a context that ends only on a hard stop, so that a
	// cancelled ctx lets attempts in flight finish and be recorded.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("delivery: worker: %w", err)
	}

	runErr := q.run(ctx, r, logger, untilIdle, w.pollInterval())

	stopCtx, cancel := context.WithTimeout(context.Background(), r.jobTimeout)
	defer cancel()
	if err := client.Stop(stopCtx); err != nil {
		hard, cancelHard := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelHard()
		_ = client.StopAndCancel(hard)
	}
	if err := r.writeCounts(stopCtx); err != nil {
		logger.WarnContext(stopCtx, "delivery: writing the destinations' recent attempts", "error", err)
	}
	return runErr
}

// run returns once ctx is done or, with untilIdle, once nothing is left to
// do, sweeping for orphans, tending the destinations and writing their
// counts meanwhile.
func (q *Queue) run(ctx context.Context, r *runner, logger *slog.Logger, untilIdle bool, every time.Duration) error {
	sweep := time.NewTicker(cmp.Or(r.orphanSweep, orphanSweep))
	defer sweep.Stop()
	tend := time.NewTicker(every)
	defer tend.Stop()
	counts := time.NewTicker(countsEvery)
	defer counts.Stop()
	var poll <-chan time.Time
	if untilIdle {
		t := time.NewTicker(idlePoll)
		defer t.Stop()
		poll = t.C
	}
	for {
		if untilIdle {
			idle, err := q.idle(ctx, r)
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("delivery: worker: %w", err)
			}
			if idle {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-sweep.C:
			r.sweepOrphans(ctx, logger)
		case <-tend.C:
			r.tend(ctx, every)
		case <-counts.C:
			if err := r.writeCounts(ctx); err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, "delivery: writing the destinations' recent attempts", "error", err)
			}
		case <-poll:
		}
	}
}

// idle reports whether no delivery that this worker can open is scheduled
// or sending, and no hook is pending. Deliveries sealed with keys it lacks
// wait for a worker that holds them; it says so, once, when only they are
// left.
func (q *Queue) idle(ctx context.Context, r *runner) (bool, error) {
	d, kr := q.s.dialect(), q.keys()
	param := "?3"
	if d == dialectPostgres {
		param = "$3"
	}
	var busy, sealed int
	err := q.s.db().queryRow(ctx, `SELECT count(*) FROM (
	SELECT 1 FROM liquidhook_delivery WHERE state IN (?, ?)
		AND `+opensSQL(d, "spec", param)+` AND `+opensSQL(d, "data", param)+` LIMIT 1) AS busy`,
		string(StateScheduled), string(StateSending), keyIDsArg(d, kr)).Scan(&busy)
	if err != nil || busy > 0 {
		return false, err
	}
	err = q.s.db().queryRow(ctx, `SELECT count(*) FROM liquidhook_delivery WHERE state IN (?, ?)`,
		string(StateScheduled), string(StateSending)).Scan(&sealed)
	if err != nil {
		return false, err
	}
	if sealed > 0 && r.sealedLeft.CompareAndSwap(false, true) {
		r.logger.WarnContext(ctx, "delivery: deliveries left to a worker that holds their keys", "deliveries", sealed,
			"reason", "their values are sealed with keys this worker does not hold")
	}
	if !r.hooks() {
		return true, nil
	}
	n, err := q.s.pendingJobs(ctx, hookArgs{}.Kind())
	return n == 0, err
}
