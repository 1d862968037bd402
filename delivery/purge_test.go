package delivery

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPurge: only deliveries that ended before the cut-off go, with their
// attempts; drafts, scheduled and re-sent deliveries stay.
func TestPurge(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			body, _ := io.ReadAll(r.Body)
			if strings.Contains(string(body), "refused@") {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.Write([]byte(`{"id": "lead-1"}`))
		})
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		delivered := mustEnqueue(t, q, action, customer("a@example.com"), nil)
		failed := mustEnqueue(t, q, action, customer("refused@example.com"), nil)
		resent := mustEnqueue(t, q, action, customer("r@example.com"), nil)
		cancelled := mustEnqueue(t, q, action, customer("c@example.com"), &EnqueueOptions{Draft: true})
		draft := mustEnqueue(t, q, action, customer("d@example.com"), &EnqueueOptions{Draft: true})
		workUntilIdle(t, q, testWorker(0))
		later := mustEnqueue(t, q, action, customer("l@example.com"), &EnqueueOptions{SendAt: time.Now().Add(time.Hour)})
		_, err := q.Cancel(ctx, cancelled.ID)
		require.NoError(t, err)
		require.Equal(t, StateDelivered, mustGet(t, q, delivered.ID).State)
		require.Equal(t, StateFailed, mustGet(t, q, failed.ID).State)
		_, err = q.Resend(ctx, resent.ID, customer("r2@example.com"))
		require.NoError(t, err)

		n, err := q.Purge(ctx, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		assert.Zero(t, n, "nothing ended an hour ago")

		n, err = q.Purge(ctx, time.Now().Add(time.Second))
		require.NoError(t, err)
		assert.Equal(t, int64(3), n)
		for _, id := range []int64{delivered.ID, failed.ID, cancelled.ID} {
			_, err := q.Get(ctx, id)
			assert.ErrorIs(t, err, ErrNotFound, "delivery %d", id)
			var attempts int
			require.NoError(t, q.s.db().queryRow(ctx, `SELECT count(*) FROM liquidhook_attempt WHERE delivery_id = ?`, id).Scan(&attempts))
			assert.Zero(t, attempts, "attempts of delivery %d", id)
		}
		assert.Equal(t, StateScheduled, mustGet(t, q, resent.ID).State)
		assert.Len(t, mustGet(t, q, resent.ID).Attempts, 1, "a re-sent delivery keeps its history")
		assert.Equal(t, StateDraft, mustGet(t, q, draft.ID).State)
		assert.Equal(t, StateScheduled, mustGet(t, q, later.ID).State)

		// The re-sent delivery still goes out, and both it and the one
		// scheduled for later can be purged once they end.
		_, err = q.Cancel(ctx, later.ID)
		require.NoError(t, err)
		workUntilIdle(t, q, testWorker(0))
		assert.Equal(t, StateDelivered, mustGet(t, q, resent.ID).State)
		n, err = q.Purge(ctx, time.Now().Add(time.Second))
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
	})
}

// TestPurgeBatches: a backlog larger than one batch is deleted whole.
func TestPurgeBatches(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		action := testAction(t, "http://127.0.0.1:1", webhook.SendingDraft)
		const total = 2*purgeBatch + 7
		for i := range total {
			mustEnqueue(t, q, action, customer(itoa(i)+"@example.com"), nil)
		}
		keep := mustEnqueue(t, q, action, customer("keep@example.com"), nil)
		_, err := q.s.db().exec(ctx, `UPDATE liquidhook_delivery SET state = ? WHERE id <> ?`, string(StateCancelled), keep.ID)
		require.NoError(t, err)

		n, err := q.Purge(ctx, time.Now().Add(time.Second))
		require.NoError(t, err)
		assert.Equal(t, int64(total), n)
		list, err := q.List(ctx, nil)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, keep.ID, list[0].ID)
	})
}

func TestPurgeStops(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := q.Purge(ctx, time.Now())
	assert.ErrorIs(t, err, context.Canceled)
	require.NoError(t, q.Close())
	_, err = q.Purge(context.Background(), time.Now())
	assert.ErrorIs(t, err, ErrClosed)
}

// TestPurgeKeepsADeliveryReSentMeanwhile: a delivery that a Resend moves
// back to scheduled while Purge waits for its row is kept. PostgreSQL
// re-reads a row changed under a waiting DELETE, and the delivery's new
// state must be what decides.
func TestPurgeKeepsADeliveryReSentMeanwhile(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		action := testAction(t, "http://127.0.0.1:1", webhook.SendingDraft)
		d := mustEnqueue(t, q, action, customer("a@example.com"), nil)
		_, err := q.Cancel(ctx, d.ID)
		require.NoError(t, err)

		// A re-send in progress: the row is locked and changed, not yet
		// committed, when Purge starts.
		locked, release := make(chan struct{}), make(chan struct{})
		resent := make(chan error, 1)
		go func() {
			resent <- q.s.inTx(ctx, func(tx txn) error {
				if _, err := lockDelivery(ctx, q.s.dialect(), tx, d.ID); err != nil {
					return err
				}
				_, err := tx.exec(ctx, `UPDATE liquidhook_delivery SET state = ?, updated_at = ? WHERE id = ?`,
					string(StateScheduled), toMicros(time.Now()), d.ID)
				close(locked)
				<-release
				return err
			})
		}()
		<-locked
		purged := make(chan int64, 1)
		go func() {
			n, err := q.Purge(ctx, time.Now().Add(time.Hour))
			assert.NoError(t, err)
			purged <- n
		}()
		time.Sleep(300 * time.Millisecond) // Purge waits for the row
		close(release)
		require.NoError(t, <-resent)
		assert.Zero(t, <-purged, "a delivery scheduled again was purged")
		assert.Equal(t, StateScheduled, mustGet(t, q, d.ID).State)
	})
}
