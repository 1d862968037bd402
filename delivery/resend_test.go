package delivery

import (
	"context"
	"net/http"
	"testing"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResendCarriesTheKeyAndTheNewData(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, nil)
		d := mustEnqueue(t, q, testAction(t, rc.URL, webhook.SendingAutomatic), customer("old@example.com"), nil)
		workUntilIdle(t, q, testWorker(0))

		require.Equal(t, map[string]any{"lead_id": "lead-1"}, mustGet(t, q, d.ID).Attributes)
		re, err := q.Resend(ctx, d.ID, customer("new@example.com"))
		require.NoError(t, err)
		assert.Equal(t, StateScheduled, re.State)
		assert.Nil(t, re.Attributes, "attributes belong to a delivered delivery")
		assert.Equal(t, 2, re.Series)
		assert.Equal(t, customer("new@example.com"), re.Data)
		workUntilIdle(t, q, testWorker(0))

		seen := rc.seen()
		require.Len(t, seen, 2)
		assert.Equal(t, d.IdempotencyKey, seen[0].Key)
		assert.Equal(t, d.IdempotencyKey, seen[1].Key, "a re-send carries the original key")
		assert.JSONEq(t, `{"email": "old@example.com"}`, seen[0].Body)
		assert.JSONEq(t, `{"email": "new@example.com"}`, seen[1].Body, "a re-send renders the new data")

		got := mustGet(t, q, d.ID)
		assert.Equal(t, StateDelivered, got.State)
		require.Len(t, got.Attempts, 2, "attempts of both series, oldest first")
		assert.Equal(t, [2]int{1, 1}, [2]int{got.Attempts[0].Series, got.Attempts[0].Number})
		assert.Equal(t, [2]int{2, 1}, [2]int{got.Attempts[1].Series, got.Attempts[1].Number})
	})
}

func TestResendOfAFailedDeliveryStartsANewSeries(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	ctx := context.Background()
	healthy := false
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if !healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"id": "x"}`))
	})
	d := enqueueOne(t, q, rc.URL)
	workUntilIdle(t, q, testWorker(1))
	got := mustGet(t, q, d.ID)
	require.Equal(t, StateFailed, got.State)
	require.Len(t, got.Attempts, 2)

	healthy = true // the worker has stopped: no request is in flight
	_, err := q.Resend(ctx, d.ID, nil)
	require.NoError(t, err)
	workUntilIdle(t, q, testWorker(1))
	got = mustGet(t, q, d.ID)
	assert.Equal(t, StateDelivered, got.State)
	require.Len(t, got.Attempts, 3)
	assert.Equal(t, 2, got.Attempts[2].Series)
	assert.Equal(t, 1, got.Attempts[2].Number, "the policy starts over in a new series")
	assert.Empty(t, got.LastError)
	for _, r := range rc.seen() {
		assert.Equal(t, d.IdempotencyKey, r.Key)
		assert.JSONEq(t, `{"email": "a@example.com"}`, r.Body, "nil data keeps the stored data")
	}
}

func TestResendRefusesBadData(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	ctx := context.Background()
	a, err := webhook.Compile(webhook.Spec{URL: "https://example.com", Body: `{"n": {{ n }}}`, Sending: webhook.SendingAutomatic})
	require.NoError(t, err)
	d := mustEnqueue(t, q, a, map[string]any{"n": 1}, nil)
	_, err = q.Cancel(ctx, d.ID)
	require.NoError(t, err)
	before := mustGet(t, q, d.ID)

	_, err = q.Resend(ctx, d.ID, map[string]any{"n": "not a number"})
	require.ErrorIs(t, err, webhook.ErrInvalidBody)
	after := mustGet(t, q, d.ID)
	assert.Equal(t, before, after, "a refused re-send changed the delivery")
}
