package delivery

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkerOnDeliveredIsRetriedUntilItSucceeds(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, nil)
		d, err := q.Enqueue(ctx, testAction(t, rc.URL, webhook.SendingAutomatic), customer("a@example.com"), nil)
		require.NoError(t, err)
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
