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
	return fn(ctx, d)
}
