package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
)

// hookWorker is the River worker of hook jobs: it calls OnDelivered or
// OnFailed with the delivery as the log holds it now.
type hookWorker struct {
	river.WorkerDefaults[hookArgs]
	r *runner
}

func (w *hookWorker) Timeout(*river.Job[hookArgs]) time.Duration { return w.r.jobTimeout }

func (w *hookWorker) Work(ctx context.Context, job *river.Job[hookArgs]) error {
	fn := w.r.onDelivered
	if job.Args.Event == hookFailed {
		fn = w.r.onFailed
	}
	if fn == nil {
		// Queued by a worker that had this hook; this one has not. River
		// retries the job later, when a worker with the hook may take it.
		return errors.New("delivery: no " + string(job.Args.Event) + " hook in this worker")
	}
	d, err := w.r.q.Get(ctx, job.Args.DeliveryID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if superseded(d, job.Args) {
		// Re-sent since the outcome: the delivery no longer stands as the
		// hook would report it, and the new series' outcome queues a
		// call of its own.
		return nil
	}
	return fn(ctx, d)
}

// superseded reports whether d has moved on from the outcome a hook job
// reports.
func superseded(d *Delivery, args hookArgs) bool {
	if args.Series != 0 && d.Series != args.Series {
		return true
	}
	want := StateDelivered
	if args.Event == hookFailed {
		want = StateFailed
	}
	return d.State != want
}
