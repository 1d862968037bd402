package delivery

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkerOnDeliveredIsRetriedUntilItSucceeds(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		rc := newReceiver(t, nil)
		d := enqueueOne(t, q, rc.URL)
		var calls atomic.Int32
		var got *Delivery
		w := testWorker(0)
		w.OnDelivered = func(_ context.Context, d *Delivery) error {
			if calls.Add(1) == 1 {
				return errors.New("the CRM is down")
			}
			got = d
			return nil
		}
		workUntilIdle(t, q, w)
		assert.Equal(t, int32(2), calls.Load(), "a failed hook is called again")
		require.NotNil(t, got)
		assert.Equal(t, d.ID, got.ID)
		assert.Equal(t, StateDelivered, got.State)
	})
}

// TestHookOfASupersededOutcomeIsNotCalled: OnDelivered, put off by an
// error, is not called once the delivery has been re-sent: the delivery no
// longer stands delivered, and the new series' outcome calls its own hook.
func TestHookOfASupersededOutcomeIsNotCalled(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n > 1 {
				w.WriteHeader(http.StatusBadRequest) // the re-send fails
				return
			}
			w.Write([]byte(`{"id": "lead-1"}`))
		})
		d := enqueueOne(t, q, rc.URL)

		// The first worker delivers; its OnDelivered fails, so the call is
		// left for later.
		first := testWorker(0)
		workCtx, stop := context.WithCancel(ctx)
		first.OnDelivered = func(context.Context, *Delivery) error {
			stop()
			return errors.New("the CRM is down")
		}
		require.NoError(t, q.Work(workCtx, first))
		require.Equal(t, StateDelivered, mustGet(t, q, d.ID).State)

		_, err := q.Resend(ctx, d.ID, nil)
		require.NoError(t, err)

		var mu sync.Mutex
		var delivered, failed []*Delivery
		second := testWorker(0)
		second.OnDelivered = func(_ context.Context, d *Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			delivered = append(delivered, d)
			return nil
		}
		second.OnFailed = func(_ context.Context, d *Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			failed = append(failed, d)
			return nil
		}
		workUntilIdle(t, q, second)
		for _, d := range delivered {
			assert.Equal(t, StateDelivered, d.State, "OnDelivered was called with a delivery that is not delivered")
		}
		require.Len(t, failed, 1)
		assert.Equal(t, StateFailed, failed[0].State)
		assert.Equal(t, 2, failed[0].Series)
	})
}
