package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCancel(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, nil)
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		soon, err := q.Enqueue(ctx, action, customer("a@example.com"), &EnqueueOptions{SendAt: time.Now().Add(300 * time.Millisecond)})
		require.NoError(t, err)
		draft, err := q.Enqueue(ctx, action, customer("b@example.com"), &EnqueueOptions{Draft: true})
		require.NoError(t, err)
		for _, id := range []int64{soon.ID, draft.ID} {
			d, err := q.Cancel(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, StateCancelled, d.State)
			assert.True(t, d.NextAt.IsZero())
		}
		time.Sleep(400 * time.Millisecond) // past the cancelled delivery's SendAt
		workUntilIdle(t, q, testWorker(0))
		assert.Empty(t, rc.seen(), "a cancelled delivery was sent")
	})
}
