package delivery

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkerRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("busy"))
				return
			}
			w.Write([]byte(`{"id": "lead-7"}`))
		})
		d := enqueueOne(t, q, rc.URL)
		var progress []Attempt
		var mu sync.Mutex
		w := testWorker(5)
		w.OnAttempt = func(_ *Delivery, a Attempt) {
			mu.Lock()
			progress = append(progress, a)
			mu.Unlock()
		}
		workUntilIdle(t, q, w)

		got := mustGet(t, q, d.ID)
		assert.Equal(t, StateDelivered, got.State)
		require.Len(t, got.Attempts, 3)
		for i, a := range got.Attempts {
			assert.Equal(t, i+1, a.Number)
			assert.Equal(t, 1, a.Series)
		}
		assert.Equal(t, 503, got.Attempts[0].Status)
		assert.Equal(t, webhook.ClassStatus, got.Attempts[0].Class)
		assert.Equal(t, 5*time.Millisecond, got.Attempts[0].Wait)
		assert.Equal(t, "busy", string(got.Attempts[0].Response))
		assert.Equal(t, 200, got.Attempts[2].Status)
		assert.Zero(t, got.Attempts[2].Wait)
		assert.Len(t, progress, 3)
		for _, r := range rc.seen() {
			assert.Equal(t, d.IdempotencyKey, r.Key, "every retry carries the key")
		}
	})
}

func TestWorkerFailsAfterTheLastRetryAndCallsOnFailed(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(http.StatusInternalServerError)
		})
		d := enqueueOne(t, q, rc.URL)
		var failed []*Delivery
		var delivered atomic.Int32
		w := testWorker(2)
		w.OnFailed = func(_ context.Context, d *Delivery) error { failed = append(failed, d); return nil }
		w.OnDelivered = func(context.Context, *Delivery) error { delivered.Add(1); return nil }
		workUntilIdle(t, q, w)

		assert.Len(t, rc.seen(), 3, "the first attempt and two retries")
		require.Len(t, failed, 1, "OnFailed once, after the last retry")
		assert.Equal(t, d.ID, failed[0].ID)
		assert.Equal(t, StateFailed, failed[0].State)
		assert.Nil(t, failed[0].Attributes)
		assert.Len(t, failed[0].Attempts, 3)
		assert.NotEmpty(t, failed[0].LastError)
		assert.Zero(t, delivered.Load())
	})
}

func TestWorkerFinalStatusIsNotRetried(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusBadRequest) })
	d := enqueueOne(t, q, rc.URL)
	workUntilIdle(t, q, testWorker(5))
	got := mustGet(t, q, d.ID)
	assert.Equal(t, StateFailed, got.State)
	assert.Len(t, got.Attempts, 1)
}

// TestWorkerPolicyIsTheFinishingWorkers shows that the policy in force is
// the one of the worker that records an attempt, not the one in force when
// the delivery was queued or last attempted.
func TestWorkerPolicyIsTheFinishingWorkers(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	ctx := context.Background()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusBadGateway) })
	d := enqueueOne(t, q, rc.URL)

	// The first worker would retry for an hour; it stops after one attempt.
	patient := testWorker(0)
	patient.Sender.RetryPolicy = webhook.RetryFunc(func(webhook.Attempt) (time.Duration, bool) { return time.Second, true })
	wctx, stop := context.WithCancel(ctx)
	patient.OnAttempt = func(*Delivery, Attempt) { stop() }
	require.NoError(t, q.Work(wctx, patient))
	got := mustGet(t, q, d.ID)
	require.Equal(t, StateScheduled, got.State)

	// The next worker allows no retries: its policy decides attempt 2.
	workUntilIdle(t, q, testWorker(0))
	got = mustGet(t, q, d.ID)
	assert.Equal(t, StateFailed, got.State)
	assert.Len(t, got.Attempts, 2)
}

// TestWorkerStopLetsAttemptsFinish cancels Work while a request is in
// flight: the attempt completes and is recorded.
func TestWorkerStopLetsAttemptsFinish(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	arrived := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		close(arrived)
		time.Sleep(200 * time.Millisecond)
		w.Write([]byte(`{"id": "slow"}`))
	})
	d := enqueueOne(t, q, rc.URL)
	go func() { <-arrived; cancel() }()
	require.NoError(t, q.Work(ctx, testWorker(0)))
	got := mustGet(t, q, d.ID)
	assert.Equal(t, StateDelivered, got.State)
	require.Len(t, got.Attempts, 1)
}

// TestWorkerSendsEachDeliveryOnce sends many deliveries with concurrent
// workers in one process: without a crash, each goes out exactly once.
func TestWorkerSendsEachDeliveryOnce(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, nil)
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		const n = 300
		keys := map[string]bool{}
		for i := range n {
			d := mustEnqueue(t, q, action, customer("p"+itoa(i)+"@example.com"), nil)
			keys[d.IdempotencyKey] = true
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { workUntilIdle(t, q, testWorker(0)) })
		}
		wg.Wait()
		seen := rc.seen()
		assert.Len(t, seen, n)
		counts := map[string]int{}
		for _, r := range seen {
			counts[r.Key]++
		}
		assert.Len(t, counts, n)
		for k, c := range counts {
			assert.True(t, keys[k], "unknown key %s", k)
			assert.Equal(t, 1, c, "key %s sent %d times", k, c)
		}
		done, err := q.List(ctx, &ListOptions{States: []State{StateDelivered}, Limit: 1000})
		require.NoError(t, err)
		assert.Len(t, done, n)
	})
}

func TestWorkerRefusesRescueAfterShorterThanAnAttempt(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	w := testWorker(0)
	w.RescueAfter = 5 * time.Second
	require.ErrorIs(t, q.Work(context.Background(), w), ErrRescueTooSoon)
}

// TestWorkerDefaults pins the defaults Worker documents.
func TestWorkerDefaults(t *testing.T) {
	t.Parallel()
	r, err := newRunner(nil, &Worker{})
	require.NoError(t, err)
	assert.Equal(t, 300, r.concurrency)
	assert.Equal(t, 4*time.Second+10*time.Second, r.jobTimeout, "the attempt timeout plus the job's margin")
	assert.Equal(t, 4*time.Second+40*time.Second, r.rescueAfter, "the attempt timeout plus 40 seconds")

	r, err = newRunner(nil, &Worker{Sender: &webhook.Sender{Timeout: time.Second}, Concurrency: 7})
	require.NoError(t, err)
	assert.Equal(t, 7, r.concurrency)
	assert.Equal(t, 41*time.Second, r.rescueAfter)
}

// TestWorkerOnAttemptSeesWhatIsRecorded: OnAttempt gets each attempt as the
// log keeps it, and the delivery as Get then returns it, bar its Spec, Data
// and Attempts: times in UTC, the metadata, the time it was recorded.
func TestWorkerOnAttemptSeesWhatIsRecorded(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("busy"))
				return
			}
			w.Write([]byte(`{"id": "lead-7"}`))
		})
		d := mustEnqueue(t, q, testAction(t, rc.URL, webhook.SendingAutomatic), customer("a@example.com"),
			&EnqueueOptions{Conversion: true, Metadata: map[string]string{"person": "7"}})
		var heard heardAttempts
		w := testWorker(1)
		w.OnAttempt = heard.onAttempt
		workUntilIdle(t, q, w)

		got := mustGet(t, q, d.ID)
		seen, attempts := heard.get()
		require.Len(t, attempts, 2)
		assert.Equal(t, got.Attempts, attempts)
		got.Spec, got.Data, got.Attempts = webhook.Spec{}, nil, nil
		assert.Equal(t, got, seen[1])
		assert.Equal(t, StateScheduled, seen[0].State)
		assert.Equal(t, time.UTC, seen[0].NextAt.Location())
		assert.Equal(t, map[string]string{"person": "7"}, seen[0].Metadata)
	})
}
