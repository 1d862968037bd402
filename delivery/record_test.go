package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestByDelivery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ids  []int64
		want [][]int64
	}{
		{"empty", nil, [][]int64{nil}},
		{"distinct", []int64{1, 2, 3}, [][]int64{{1, 2, 3}}},
		{"a repeat goes to the next group", []int64{1, 2, 1, 3, 1}, [][]int64{{1, 2, 3}, {1}, {1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, byDelivery(tt.ids, func(id int64) int64 { return id }))
		})
	}
}

// TestClaimTellsJobsApart claims one delivery for its current job and for
// a stale job in the same batch: only the current job gets it.
func TestClaimTellsJobsApart(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		d, err := q.Enqueue(ctx, testAction(t, "https://example.com", webhook.SendingAutomatic), customer("a@example.com"), nil)
		require.NoError(t, err)
		var jobID int64
		require.NoError(t, q.s.db().queryRow(ctx, `SELECT job_id FROM liquidhook_delivery WHERE id = ?`, d.ID).Scan(&jobID))

		r, err := newRunner(q, testWorker(0))
		require.NoError(t, err)
		stale := &claimOp{id: d.ID, jobID: jobID + 1000}
		current := &claimOp{id: d.ID, jobID: jobID}
		other := &claimOp{id: d.ID + 1000, jobID: jobID}
		require.NoError(t, r.claimBatch(ctx, []*claimOp{stale, current, other}))
		assert.False(t, stale.found, "a stale job claimed the delivery")
		assert.True(t, current.found)
		assert.False(t, other.found)
		assert.Equal(t, d.IdempotencyKey, current.c.key)
		assert.Zero(t, current.c.interruptedAt)

		// Claiming again finds the attempt that was in flight.
		again := &claimOp{id: d.ID, jobID: jobID}
		require.NoError(t, r.claimBatch(ctx, []*claimOp{again}))
		require.True(t, again.found)
		assert.WithinDuration(t, current.now, fromMicros(again.c.interruptedAt), time.Millisecond)

		got, err := q.Get(ctx, d.ID)
		require.NoError(t, err)
		assert.Equal(t, StateSending, got.State)
	})
}

// TestFinishRecordsALostClaim finishes a delivery for its current job and
// for a stale job in one batch: the current job's outcome sets the state;
// the stale job's attempt is kept in the log and changes nothing else.
func TestFinishRecordsALostClaim(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		d, err := q.Enqueue(ctx, testAction(t, "https://example.com", webhook.SendingAutomatic), customer("a@example.com"), nil)
		require.NoError(t, err)
		var jobID int64
		require.NoError(t, q.s.db().queryRow(ctx, `SELECT job_id FROM liquidhook_delivery WHERE id = ?`, d.ID).Scan(&jobID))
		r, err := newRunner(q, testWorker(0))
		require.NoError(t, err)
		claim := &claimOp{id: d.ID, jobID: jobID}
		require.NoError(t, r.claimBatch(ctx, []*claimOp{claim}))
		require.True(t, claim.found)

		now := time.Now()
		stale := &finishOp{id: d.ID, jobID: jobID + 1000, state: StateFailed, hook: true,
			attempt: Attempt{Series: 1, Number: 1, Start: now, Class: ClassInterrupted, Error: "stale"}}
		attrs := `{"lead_id":"x"}`
		current := &finishOp{id: d.ID, jobID: jobID, state: StateDelivered, attributes: &attrs,
			attempt: Attempt{Series: 1, Number: 1, Start: now, Status: 200, Response: []byte("ok")}}
		require.NoError(t, r.finishBatch(ctx, []*finishOp{stale, current}))
		assert.True(t, stale.lost)
		assert.False(t, current.lost)

		got, err := q.Get(ctx, d.ID)
		require.NoError(t, err)
		assert.Equal(t, StateDelivered, got.State)
		assert.Equal(t, map[string]any{"lead_id": "x"}, got.Attributes)
		require.Len(t, got.Attempts, 2, "both attempts happened")
		assert.Equal(t, ClassInterrupted, got.Attempts[0].Class)
		assert.Equal(t, "ok", string(got.Attempts[1].Response))
		n, err := q.s.pendingJobs(ctx, hookArgs{}.Kind())
		require.NoError(t, err)
		assert.Zero(t, n, "no hook for the stale job's outcome")
	})
}
