package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImpossibleOperationsChangeNothing covers every operation refused by
// a delivery's state, and unknown ids.
func TestImpossibleOperationsChangeNothing(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, nil)
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		later := &EnqueueOptions{SendAt: time.Now().Add(time.Hour)}
		byState := map[State]int64{}
		mk := func(opts *EnqueueOptions) int64 {
			d, err := q.Enqueue(ctx, action, customer("a@example.com"), opts)
			require.NoError(t, err)
			return d.ID
		}
		byState[StateDraft] = mk(&EnqueueOptions{Draft: true})
		byState[StateDelivered] = mk(nil)
		workUntilIdle(t, q, testWorker(0))
		// Queued after the run: WorkUntilIdle would wait an hour for them.
		byState[StateScheduled] = mk(later)
		byState[StateCancelled] = mk(later)
		_, err := q.Cancel(ctx, byState[StateCancelled])
		require.NoError(t, err)

		ops := map[string]func(id int64) (*Delivery, error){
			"release": func(id int64) (*Delivery, error) { return q.Release(ctx, id) },
			"resend":  func(id int64) (*Delivery, error) { return q.Resend(ctx, id, customer("b@example.com")) },
			"cancel":  func(id int64) (*Delivery, error) { return q.Cancel(ctx, id) },
		}
		tests := []struct {
			op      string
			state   State
			wantErr error
		}{
			{"release", StateScheduled, ErrWrongState},
			{"release", StateDelivered, ErrWrongState},
			{"release", StateCancelled, ErrWrongState},
			{"resend", StateDraft, ErrWrongState},
			{"cancel", StateDelivered, ErrWrongState},
			{"cancel", StateCancelled, ErrWrongState},
			{"release", "unknown", ErrNotFound},
			{"resend", "unknown", ErrNotFound},
			{"cancel", "unknown", ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.op+" "+string(tt.state), func(t *testing.T) {
				id, ok := byState[tt.state]
				if !ok {
					id = 999999
				}
				var before *Delivery
				if ok {
					var err error
					before, err = q.Get(ctx, id)
					require.NoError(t, err)
				}
				_, err := ops[tt.op](id)
				require.ErrorIs(t, err, tt.wantErr)
				if tt.wantErr == ErrWrongState {
					var se *StateError
					require.ErrorAs(t, err, &se)
					assert.Equal(t, StateError{ID: id, Op: tt.op, State: tt.state}, *se)
				}
				if ok {
					after, err := q.Get(ctx, id)
					require.NoError(t, err)
					assert.Equal(t, before, after)
				}
			})
		}
		_, err = q.Get(ctx, 999999)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Len(t, rc.seen(), 1, "only the automatic delivery was sent")
	})
}
