package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pauseFor writes dest's circuit open until an hour from now, as a worker
// does after failures.
func pauseFor(t testing.TB, q *Queue, dest string) {
	t.Helper()
	now := q.now()
	_, err := q.s.db().exec(context.Background(), `INSERT INTO liquidhook_destination
	(destination, circuit, failures, cooldown, paused_until, updated_at) VALUES (?, 'open', 10, ?, ?, ?)`,
		dest, int64(time.Hour), toMicros(now.Add(time.Hour)), toMicros(now))
	require.NoError(t, err)
}

// TestHeldDeliveriesWaitWithoutAJob: deliveries to a paused destination
// are held with no River job, which the orphan sweep leaves alone, and
// can still be cancelled or re-sent.
func TestHeldDeliveriesWaitWithoutAJob(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, nil)
		dest := destinationOf(rc.URL)
		pauseFor(t, q, dest)
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		ds, err := q.EnqueueBatch(ctx, action, []map[string]any{customer("a@example.com"), customer("b@example.com"),
			customer("c@example.com")}, nil)
		require.NoError(t, err)

		w := testWorker(0)
		w.PollInterval = 20 * time.Millisecond
		work := backgroundWork(t, q, w, false)
		waitFor(t, 30*time.Second, "the deliveries held", func() bool { return heldFor(t, q, dest) == 3 })
		require.NoError(t, work.stop())
		assert.Empty(t, rc.seen())
		for _, d := range ds {
			got := mustGet(t, q, d.ID)
			assert.Equal(t, StateScheduled, got.State)
			assert.Empty(t, got.Attempts, "held, not attempted")
			require.NotNil(t, got.Waiting)
			assert.Equal(t, WaitPaused, got.Waiting.Reason)
		}

		// The sweep for deliveries whose job is gone leaves them alone.
		r, err := newRunner(q, testWorker(0))
		require.NoError(t, err)
		failed, err := r.failOrphans(ctx)
		require.NoError(t, err)
		assert.Zero(t, failed)

		cancelled, err := q.Cancel(ctx, ds[0].ID)
		require.NoError(t, err)
		assert.Equal(t, StateCancelled, cancelled.State)
		assert.Nil(t, cancelled.Waiting)
		resent, err := q.Resend(ctx, ds[1].ID, nil)
		require.NoError(t, err)
		assert.Equal(t, StateScheduled, resent.State)
		assert.Nil(t, resent.Waiting, "queued again, under a job of its own")
		assert.Equal(t, 1, heldFor(t, q, dest), "the third is still held; the re-sent one has a job again")
	})
}

// TestResumeQueuesHeldDeliveriesAgain: once the destination is resumed,
// workers queue its held deliveries again, in batches, and send them.
func TestResumeQueuesHeldDeliveriesAgain(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, nil)
		dest := destinationOf(rc.URL)
		pauseFor(t, q, dest)
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		data := make([]map[string]any, 40)
		for i := range data {
			data[i] = customer("p" + itoa(i) + "@example.com")
		}
		_, err := q.EnqueueBatch(ctx, action, data, nil)
		require.NoError(t, err)
		w := testWorker(0)
		w.Concurrency = 4 // queued again a few at a time
		w.PollInterval = 20 * time.Millisecond
		work := backgroundWork(t, q, w, true)
		waitFor(t, 30*time.Second, "the deliveries held", func() bool { return heldFor(t, q, dest) == 40 })
		assert.Empty(t, rc.seen())

		_, err = q.Resume(ctx, dest)
		require.NoError(t, err)
		require.NoError(t, work.wait())
		assert.Len(t, rc.seen(), 40)
		assert.Zero(t, heldFor(t, q, dest))
		all, err := q.List(ctx, nil)
		require.NoError(t, err)
		for _, d := range all {
			assert.Equal(t, StateDelivered, d.State)
			assert.Len(t, d.Attempts, 1)
		}
	})
}
