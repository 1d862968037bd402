package delivery

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jobOf returns the River job a delivery waits for.
func jobOf(t *testing.T, q *Queue, id int64) int64 {
	t.Helper()
	var job int64
	require.NoError(t, q.s.db().queryRow(context.Background(),
		`SELECT job_id FROM liquidhook_delivery WHERE id = ?`, id).Scan(&job))
	require.NotZero(t, job)
	return job
}

// discardJob ends a job as River does after its last failed run.
func discardJob(t *testing.T, q *Queue, job int64) {
	t.Helper()
	n, err := q.s.db().exec(context.Background(),
		`UPDATE river_job SET state = 'discarded', attempt = 25, finalized_at = ? WHERE id = ?`, time.Now().UTC(), job)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
}

// markSending leaves a delivery as a worker does that claimed it and
// stopped before recording the outcome.
func markSending(t *testing.T, q *Queue, id int64, at time.Time) {
	t.Helper()
	_, err := q.s.db().exec(context.Background(),
		`UPDATE liquidhook_delivery SET state = 'sending', sending_at = ? WHERE id = ?`, toMicros(at), id)
	require.NoError(t, err)
}

// TestOrphansFail: a scheduled or sending delivery whose River job ended
// without an outcome (discarded, cancelled through River, or deleted) is
// failed by a sweep, with the reason; one that was sending gets its
// unfinished attempt. Deliveries whose jobs are alive, drafts and finished
// deliveries are left alone, and a second sweep finds nothing.
func TestOrphansFail(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		action := testAction(t, "http://127.0.0.1:1", webhook.SendingAutomatic)
		enqueue := func(opts *EnqueueOptions) *Delivery {
			return mustEnqueue(t, q, action, customer("a@example.com"), opts)
		}
		discarded := enqueue(nil)
		discardJob(t, q, jobOf(t, q, discarded.ID))

		sending := enqueue(nil)
		claimedAt := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
		markSending(t, q, sending.ID, claimedAt)
		discardJob(t, q, jobOf(t, q, sending.ID))

		cancelled := enqueue(nil)
		cancelledJob := jobOf(t, q, cancelled.ID)
		require.NoError(t, q.s.inTx(ctx, func(tx txn) error { return tx.cancelJob(ctx, cancelledJob) }))

		deleted := enqueue(nil)
		_, err := q.s.db().exec(ctx, `DELETE FROM river_job WHERE id = ?`, jobOf(t, q, deleted.ID))
		require.NoError(t, err)

		later := enqueue(&EnqueueOptions{SendAt: time.Now().Add(time.Hour)})
		draft := enqueue(&EnqueueOptions{Draft: true})

		r, err := newRunner(q, &Worker{})
		require.NoError(t, err)
		n, err := r.failOrphans(ctx)
		require.NoError(t, err)
		assert.Equal(t, 4, n)

		d := mustGet(t, q, discarded.ID)
		assert.Equal(t, StateFailed, d.State)
		assert.Contains(t, d.LastError, "gave up on this delivery's job after 25 runs")
		assert.Empty(t, d.Attempts, "no request was made")
		assert.True(t, d.NextAt.IsZero())

		d = mustGet(t, q, sending.ID)
		assert.Equal(t, StateFailed, d.State)
		require.Len(t, d.Attempts, 1, "the claimed attempt is recorded")
		a := d.Attempts[0]
		assert.Equal(t, ClassInterrupted, a.Class)
		assert.Equal(t, 1, a.Number)
		assert.Equal(t, 1, a.Series)
		assert.True(t, a.Start.Equal(claimedAt), "the attempt started when it was claimed: %v", a.Start)
		assert.GreaterOrEqual(t, a.Duration, time.Minute)
		assert.Equal(t, d.LastError, a.Error)

		d = mustGet(t, q, cancelled.ID)
		assert.Equal(t, StateFailed, d.State)
		assert.Contains(t, d.LastError, "cancelled in the job queue")

		d = mustGet(t, q, deleted.ID)
		assert.Equal(t, StateFailed, d.State)
		assert.Contains(t, d.LastError, "ended without recording an outcome")

		assert.Equal(t, StateScheduled, mustGet(t, q, later.ID).State)
		assert.Equal(t, StateDraft, mustGet(t, q, draft.ID).State)

		n, err = r.failOrphans(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "a failed orphan is failed once")
	})
}

// TestOrphanThatMovedOnIsLeftAlone: an orphan found by one sweep but
// re-sent (or failed by another worker) before it is failed keeps its new
// state.
func TestOrphanThatMovedOnIsLeftAlone(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		d := enqueueOne(t, q, "http://127.0.0.1:1")
		job := jobOf(t, q, d.ID)
		discardJob(t, q, job)
		r, err := newRunner(q, &Worker{})
		require.NoError(t, err)
		found, err := r.findOrphans(ctx, 0)
		require.NoError(t, err)
		require.Len(t, found, 1)

		// Failed meanwhile by another worker's sweep, then re-sent.
		ok, err := r.failOrphan(ctx, found[0])
		require.NoError(t, err)
		require.True(t, ok)
		_, err = q.Resend(ctx, d.ID, nil)
		require.NoError(t, err)

		ok, err = r.failOrphan(ctx, found[0])
		require.NoError(t, err)
		assert.False(t, ok)
		got := mustGet(t, q, d.ID)
		assert.Equal(t, StateScheduled, got.State)
		assert.NotEqual(t, job, jobOf(t, q, d.ID))
	})
}

// TestWorkUntilIdleFailsOrphans: WorkUntilIdle finishes although a
// delivery's job was discarded, and OnFailed hears of it; a running Work
// fails an orphan that appears while it runs.
func TestWorkUntilIdleFailsOrphans(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		rc := newReceiver(t, nil)
		orphaned := enqueueOne(t, q, rc.URL)
		discardJob(t, q, jobOf(t, q, orphaned.ID))
		sent := enqueueOne(t, q, rc.URL)

		var mu sync.Mutex
		var failed []int64
		w := testWorker(0)
		w.OnFailed = func(_ context.Context, d *Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			failed = append(failed, d.ID)
			return nil
		}
		workUntilIdle(t, q, w)
		assert.Equal(t, StateFailed, mustGet(t, q, orphaned.ID).State)
		assert.Equal(t, StateDelivered, mustGet(t, q, sent.ID).State)
		assert.Len(t, rc.seen(), 1, "only the live delivery was sent")
		mu.Lock()
		assert.Equal(t, []int64{orphaned.ID}, failed)
		mu.Unlock()

		// While Work runs, an orphan is found by the periodic sweep.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		w = testWorker(0)
		w.orphanSweep = 20 * time.Millisecond
		go func() { done <- q.Work(ctx, w) }()
		later := mustEnqueue(t, q, testAction(t, rc.URL, webhook.SendingAutomatic), customer("b@example.com"),
			&EnqueueOptions{SendAt: time.Now().Add(time.Hour)})
		discardJob(t, q, jobOf(t, q, later.ID))
		require.Eventually(t, func() bool { return mustGet(t, q, later.ID).State == StateFailed },
			10*time.Second, 10*time.Millisecond)
		cancel()
		require.NoError(t, <-done)
	})
}

// TestOnAttemptHearsOfEveryRecordedAttempt: the attempt a failed orphan
// was left with, and one recorded after another run took its delivery
// over, reach OnAttempt like any other, with the delivery as it stands.
func TestOnAttemptHearsOfEveryRecordedAttempt(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		var heard heardAttempts
		w := testWorker(0)
		w.OnAttempt = heard.onAttempt

		// An orphan that was sending.
		orphaned := enqueueOne(t, q, "http://127.0.0.1:1")
		markSending(t, q, orphaned.ID, time.Now().Add(-time.Minute))
		discardJob(t, q, jobOf(t, q, orphaned.ID))
		r, err := newRunner(q, w)
		require.NoError(t, err)
		_, err = r.failOrphans(ctx)
		require.NoError(t, err)
		got := mustGet(t, q, orphaned.ID)
		seen, attempts := heard.get()
		require.Len(t, attempts, 1)
		assert.Equal(t, got.Attempts[0], attempts[0])
		got.Spec, got.Data, got.Attempts = webhook.Spec{}, nil, nil
		assert.Equal(t, got, seen[0])

		// A stale run's attempt, recorded after the current run's.
		d, jobID, r := claimable(t, q)
		r.onAttempt = w.OnAttempt
		r.start()
		defer r.stop()
		claim := &claimOp{id: d.ID, jobID: jobID}
		require.NoError(t, r.claimBatch(ctx, []*claimOp{claim}))
		require.True(t, claim.found)
		c := claim.c
		job := func(id int64) *river.Job[sendArgs] {
			return &river.Job[sendArgs]{JobRow: &rivertype.JobRow{ID: id}, Args: sendArgs{DeliveryID: d.ID}}
		}
		require.NoError(t, r.finish(ctx, job(jobID), &c, outcome{delivered: true, attempt: Attempt{Start: time.Now(), Status: 200}}, false))
		require.NoError(t, r.finish(ctx, job(jobID+1000), &c, outcome{final: true,
			attempt: Attempt{Start: time.Now(), Class: ClassInterrupted, Error: "stale"}}, false))
		got = mustGet(t, q, d.ID)
		require.Len(t, got.Attempts, 2)
		seen, attempts = heard.get()
		require.Len(t, attempts, 3, "the stale run's attempt was not reported")
		assert.Equal(t, got.Attempts[1], attempts[2])
		assert.Equal(t, StateDelivered, seen[2].State, "the delivery as it stands")
	})
}
