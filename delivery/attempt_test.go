package delivery

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttemptSignsAndMapsAttributes checks that attempts go through the
// Worker's Sender: signed with its key, and the response mapped into the
// attributes OnDelivered receives.
func TestAttemptSignsAndMapsAttributes(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	key := []byte("attempt-key")
	var signed []bool
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		body := []byte(`{"email": "ada@example.com"}`)
		signed = append(signed, webhook.Verify(key, r.Header.Get(webhook.HeaderSignature), ts, body) == nil)
		w.Write([]byte(`{"id": "lead-42"}`))
	})
	d := mustEnqueue(t, q, testAction(t, rc.URL, webhook.SendingAutomatic), customer("ada@example.com"), nil)
	w := testWorker(0)
	w.Sender.Key = key
	var hooked *Delivery
	w.OnDelivered = func(_ context.Context, d *Delivery) error { hooked = d; return nil }
	workUntilIdle(t, q, w)

	assert.Equal(t, []bool{true}, signed)
	require.NotNil(t, hooked)
	assert.Equal(t, map[string]any{"lead_id": "lead-42"}, hooked.Attributes)
	got := mustGet(t, q, d.ID)
	assert.Equal(t, map[string]any{"lead_id": "lead-42"}, got.Attributes)
}

// TestAttemptHonoursRetryAfter checks the next attempt's time after a 429
// with Retry-After, without waiting for it: the policy (Exponential, as in
// the core) waits the longer of its schedule and Retry-After.
func TestAttemptHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		})
		d := enqueueOne(t, q, rc.URL)
		w := testWorker(0)
		w.Sender.RetryPolicy = webhook.Exponential{Retries: 3, FirstWait: 10 * time.Millisecond, Jitter: -1}
		wctx, stop := context.WithCancel(ctx)
		w.OnAttempt = func(*Delivery, Attempt) { stop() }
		require.NoError(t, q.Work(wctx, w))

		got := mustGet(t, q, d.ID)
		assert.Equal(t, StateScheduled, got.State)
		require.Len(t, got.Attempts, 1)
		a := got.Attempts[0]
		assert.Equal(t, 429, a.Status)
		assert.Equal(t, 2*time.Minute, a.RetryAfter)
		assert.Equal(t, 2*time.Minute, a.Wait)
		end := a.Start.Add(a.Duration)
		assert.WithinDuration(t, end.Add(2*time.Minute), got.NextAt, 500*time.Millisecond)
	})
}

// TestAttemptTimeoutIsTheWorkers: a receiver slower than the Worker's
// attempt timeout fails the attempt as a timeout, whatever the delivery was
// queued with.
func TestAttemptTimeoutIsTheWorkers(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			time.Sleep(500 * time.Millisecond)
		}
		w.Write([]byte(`{"id": "x"}`))
	})
	d := enqueueOne(t, q, rc.URL)
	w := testWorker(1)
	w.Sender.Timeout = 100 * time.Millisecond
	workUntilIdle(t, q, w)
	got := mustGet(t, q, d.ID)
	assert.Equal(t, StateDelivered, got.State)
	require.Len(t, got.Attempts, 2)
	assert.Equal(t, webhook.ClassTimeout, got.Attempts[0].Class)
	assert.Less(t, got.Attempts[0].Duration, 400*time.Millisecond)
}

// TestAttemptKeepsAnExcerptOfTheResponse: the log keeps the first
// MaxResponseExcerpt bytes of a response, even when the Sender allows more;
// over the Sender's cap (10 KiB by default), the attempt fails for good, as
// in Customer.io.
func TestAttemptKeepsAnExcerptOfTheResponse(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	body := strings.Repeat("0123456789", 3*MaxResponseExcerpt/10)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.Write([]byte(body)) })
	action, err := webhook.Compile(webhook.Spec{URL: rc.URL, Body: `{}`, Sending: webhook.SendingAutomatic})
	require.NoError(t, err)
	tooLarge := mustEnqueue(t, q, action, nil, nil)
	workUntilIdle(t, q, testWorker(3))
	allowed := mustEnqueue(t, q, action, nil, nil)
	w := testWorker(3)
	w.Sender.MaxResponseBytes = int64(len(body))
	workUntilIdle(t, q, w)

	got := mustGet(t, q, tooLarge.ID)
	assert.Equal(t, StateFailed, got.State, "too large is final")
	require.Len(t, got.Attempts, 1)
	assert.Equal(t, webhook.ClassTooLarge, got.Attempts[0].Class)
	assert.Contains(t, got.LastError, "too large")

	got = mustGet(t, q, allowed.ID)
	assert.Equal(t, StateDelivered, got.State)
	require.Len(t, got.Attempts, 1)
	assert.Equal(t, body[:MaxResponseExcerpt], string(got.Attempts[0].Response))
}

// TestAttemptRenderErrorIsFinal: data that no longer renders at send time
// (here, an action whose loop a later Compiler's limits refuse) fails the
// delivery without a request.
func TestAttemptRenderErrorIsFinal(t *testing.T) {
	t.Parallel()
	q, path := openSQLiteTest(t)
	ctx := context.Background()
	rc := newReceiver(t, nil)
	action, err := webhook.Compile(webhook.Spec{
		URL: rc.URL, Body: `[{% for i in (1..50) %}{{ i }}{% unless forloop.last %},{% endunless %}{% endfor %}]`, Sending: webhook.SendingAutomatic,
	})
	require.NoError(t, err)
	d := mustEnqueue(t, q, action, customer("a@example.com"), nil) // renders: 50 iterations
	q.Compiler = &webhook.Compiler{MaxIterations: 10}
	workUntilIdle(t, q, testWorker(3))
	got := mustGet(t, q, d.ID)
	assert.Equal(t, StateFailed, got.State)
	require.Len(t, got.Attempts, 1)
	assert.Equal(t, webhook.ClassInvalid, got.Attempts[0].Class)
	assert.Contains(t, got.Attempts[0].Error, "more than 10 loop iterations")
	assert.Empty(t, rc.seen())

	// With the Compiler the action was made with, a re-send goes out.
	again, err := OpenSQLite(ctx, path)
	require.NoError(t, err)
	defer again.Close()
	_, err = again.Resend(ctx, d.ID, nil)
	require.NoError(t, err)
	workUntilIdle(t, again, testWorker(3))
	got = mustGet(t, again, d.ID)
	assert.Equal(t, StateDelivered, got.State)
}

// TestLaxDeliveryRendersLax: a delivery of an action compiled in lax mode
// renders in lax mode on every attempt and re-send, whatever the Queue's
// Compiler, and says so; a strict one stays strict.
func TestLaxDeliveryRendersLax(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, nil)
		spec := webhook.Spec{URL: rc.URL, Body: `{"name": "{{ customer.name }}"}`, Sending: webhook.SendingAutomatic}
		lax, err := (&webhook.Compiler{Lax: true}).Compile(spec)
		require.NoError(t, err)
		strict, err := webhook.Compile(spec)
		require.NoError(t, err)

		d := mustEnqueue(t, q, lax, customer("a@example.com"), nil)
		assert.True(t, d.Lax)
		_, err = q.Enqueue(ctx, strict, customer("a@example.com"), nil)
		require.ErrorIs(t, err, webhook.ErrMissingVariable, "a strict action refuses the same data")

		workUntilIdle(t, q, testWorker(3))
		got := mustGet(t, q, d.ID)
		assert.Equal(t, StateDelivered, got.State)
		assert.True(t, got.Lax)
		_, err = q.Resend(ctx, d.ID, map[string]any{"customer": map[string]any{}})
		require.NoError(t, err)
		workUntilIdle(t, q, testWorker(3))
		got = mustGet(t, q, d.ID)
		assert.Equal(t, StateDelivered, got.State)
		seen := rc.seen()
		require.Len(t, seen, 2)
		assert.Equal(t, `{"name": ""}`, seen[0].Body)
		assert.Equal(t, `{"name": ""}`, seen[1].Body)

		named := mustEnqueue(t, q, strict, map[string]any{"customer": map[string]any{"name": "Ann"}}, nil)
		assert.False(t, named.Lax)
		_, err = q.Resend(ctx, named.ID, map[string]any{"customer": map[string]any{}})
		assert.ErrorIs(t, err, webhook.ErrMissingVariable, "a strict delivery re-renders strictly")
	})
}

// TestAttemptWithAnEmptyResponseKeepsNone: a response without a body
// leaves the attempt's Response nil on both databases alike.
func TestAttemptWithAnEmptyResponseKeepsNone(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(http.StatusNoContent)
		})
		d := enqueueOne(t, q, rc.URL)
		workUntilIdle(t, q, testWorker(0))
		got := mustGet(t, q, d.ID)
		require.Len(t, got.Attempts, 1)
		assert.Equal(t, 204, got.Attempts[0].Status)
		assert.Nil(t, got.Attempts[0].Response)
	})
}
