package deliverytest

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/delivery"
	"github.com/liquidhook/webhook/internal/tbtest"
	"github.com/liquidhook/webhook/webhooktest"
)

var testKey = []byte("test-signing-key")

// enqueue queues one automatic delivery to url that maps the response's id.
func enqueue(t *testing.T, q *delivery.Queue, url string, opts *delivery.EnqueueOptions) *delivery.Delivery {
	t.Helper()
	action, err := webhook.Compile(webhook.Spec{
		URL:      url + "/leads",
		Body:     `{"email": {{ customer.email | json }}}`,
		Response: map[string]string{"lead_id": "{{ response.id }}"},
		Sending:  webhook.SendingAutomatic,
	})
	require.NoError(t, err)
	d, err := q.Enqueue(context.Background(), action, map[string]any{"customer": map[string]any{"email": "ada@example.com"}}, opts)
	require.NoError(t, err)
	return d
}

// hookCalls records the deliveries a hook was called with.
type hookCalls struct {
	mu sync.Mutex
	ds []*delivery.Delivery
}

func (h *hookCalls) hook(_ context.Context, d *delivery.Delivery) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ds = append(h.ds, d)
	return nil
}

func (h *hookCalls) get() []*delivery.Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*delivery.Delivery(nil), h.ds...)
}

func TestWorkRetriesAndCallsOnDelivered(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	srv.RespondWith(
		webhooktest.Reply{Status: http.StatusServiceUnavailable},
		webhooktest.Reply{Status: http.StatusCreated, Body: `{"id": "lead-7"}`},
	)
	q := NewQueue(t)
	d := enqueue(t, q, srv.URL, nil)

	var delivered, failed hookCalls
	Work(t, q, &delivery.Worker{Sender: srv.Sender(), OnDelivered: delivered.hook, OnFailed: failed.hook})

	got := delivered.get()
	require.Len(t, got, 1, "OnDelivered has been called when Work returns")
	assert.Equal(t, d.ID, got[0].ID)
	assert.Equal(t, "lead-7", got[0].Attributes["lead_id"])
	assert.Empty(t, failed.get())

	d, err := q.Get(context.Background(), d.ID)
	require.NoError(t, err)
	assert.Equal(t, delivery.StateDelivered, d.State)
	require.Len(t, d.Attempts, 2)
	assert.Equal(t, 503, d.Attempts[0].Status)
	assert.Equal(t, time.Millisecond, d.Attempts[0].Wait)
	assert.Equal(t, 201, d.Attempts[1].Status)
	for _, r := range srv.Requests() {
		assert.True(t, r.SignatureValid)
		assert.Equal(t, d.IdempotencyKey, r.IdempotencyKey)
	}
}

func TestWorkGivesTheSenderFastRetries(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	statuses := make([]int, 1+webhook.DefaultRetries)
	for i := range statuses {
		statuses[i] = http.StatusBadGateway
	}
	srv.Respond(statuses...)
	q := NewQueue(t)
	d := enqueue(t, q, srv.URL, nil)

	sender := &webhook.Sender{Key: testKey, AllowPrivate: true}
	var failed hookCalls
	Work(t, q, &delivery.Worker{Sender: sender, OnFailed: failed.hook})
	assert.Nil(t, sender.RetryPolicy, "the caller's Sender is not modified")

	d, err := q.Get(context.Background(), d.ID)
	require.NoError(t, err)
	assert.Equal(t, delivery.StateFailed, d.State)
	assert.Len(t, d.Attempts, 1+webhook.DefaultRetries, "webhooktest.RetryPolicy's retries")
	require.Len(t, failed.get(), 1)
	assert.Equal(t, d.ID, failed.get()[0].ID)
}

func TestWorkProbesAPausedDestinationAtOnce(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	replies := make([]webhooktest.Reply, 12, 15) // more failures in a row than pause a destination
	for i := range replies {
		replies[i] = webhooktest.Reply{Status: http.StatusServiceUnavailable}
	}
	for range 3 {
		replies = append(replies, webhooktest.Reply{Status: http.StatusCreated, Body: `{"id": "lead"}`})
	}
	srv.RespondWith(replies...)
	q := NewQueue(t)
	var ids []int64
	for range 3 {
		ids = append(ids, enqueue(t, q, srv.URL, nil).ID)
	}
	Work(t, q, &delivery.Worker{Sender: &webhook.Sender{Key: testKey, AllowPrivate: true,
		RetryPolicy: webhook.RetryFunc(func(a webhook.Attempt) (time.Duration, bool) {
			return time.Millisecond, webhook.Retryable(a)
		})}})

	attempts := 0
	for _, id := range ids {
		d, err := q.Get(context.Background(), id)
		require.NoError(t, err)
		assert.Equal(t, delivery.StateDelivered, d.State)
		attempts += len(d.Attempts)
	}
	assert.Equal(t, 15, attempts, "twelve failures, then each delivery once")
	ds, err := q.Destinations(context.Background())
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, delivery.DestinationSlowed, ds[0].State, "no longer paused; still given fewer slots")
	assert.Zero(t, ds[0].Failures)
}

func TestWorkNilWorker(t *testing.T) {
	// The default Sender signs nothing, so the server refuses it (401, a
	// final status); what counts is that it reached loopback and stopped.
	srv := webhooktest.NewServer(t, testKey)
	q := NewQueue(t)
	d := enqueue(t, q, srv.URL, nil)
	Work(t, q, nil)

	d, err := q.Get(context.Background(), d.ID)
	require.NoError(t, err)
	assert.Equal(t, delivery.StateFailed, d.State)
	require.Len(t, d.Attempts, 1)
	assert.Equal(t, http.StatusUnauthorized, d.Attempts[0].Status)
	require.Len(t, srv.Requests(), 1)
	assert.ErrorIs(t, srv.Requests()[0].SignatureErr, webhook.ErrMissingHeader)
}

func TestWorkLeavesDraftsAlone(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	q := NewQueue(t)
	d := enqueue(t, q, srv.URL, &delivery.EnqueueOptions{Draft: true})
	Work(t, q, &delivery.Worker{Sender: srv.Sender()})
	d, err := q.Get(context.Background(), d.ID)
	require.NoError(t, err)
	assert.Equal(t, delivery.StateDraft, d.State)
	assert.Empty(t, srv.Requests())
}

func TestNewQueueClosedByCleanup(t *testing.T) {
	tb := tbtest.New()
	var q *delivery.Queue
	require.True(t, tb.Run(func(t testing.TB) { q = NewQueue(t) }))
	_, err := q.List(context.Background(), nil)
	require.NoError(t, err, "the queue is open until the test ends")
	tb.Finish()
	_, err = q.List(context.Background(), nil)
	assert.ErrorIs(t, err, delivery.ErrClosed)
	assert.Empty(t, tb.Errors(), "closing a queue twice is not an error")
}

func TestWorkFailures(t *testing.T) {
	srv := webhooktest.NewUnstartedServer(t, testKey)
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"id": "lead-7"}`)) })
	srv.Start()
	tests := []struct {
		name   string
		worker func() *delivery.Worker
		// want is the failure message, or its start when it ends in "...".
		want string
	}{
		{"hook error", func() *delivery.Worker {
			return &delivery.Worker{Sender: srv.Sender(), OnDelivered: func(context.Context, *delivery.Delivery) error {
				return errors.New("storing the lead: database is locked")
			}}
		}, "deliverytest: OnDelivered for delivery 1: storing the lead: database is locked"},
		{"hook panic", func() *delivery.Worker {
			return &delivery.Worker{Sender: srv.Sender(), OnDelivered: func(context.Context, *delivery.Delivery) error {
				panic("no lead id in the response")
			}}
		}, "deliverytest: OnDelivered for delivery 1: panic: no lead id in the response\ngoroutine ..."},
		{"hook FailNow", func() *delivery.Worker {
			return &delivery.Worker{Sender: srv.Sender(), OnDelivered: func(context.Context, *delivery.Delivery) error {
				runtime.Goexit()
				return nil
			}}
		}, "deliverytest: OnDelivered for delivery 1: stopped its goroutine (FailNow, Fatal or runtime.Goexit); report failures from a hook with Errorf"},
		{"OnFailed error", func() *delivery.Worker {
			return &delivery.Worker{Sender: &webhook.Sender{AllowPrivate: true}, OnFailed: func(context.Context, *delivery.Delivery) error {
				return errors.New("no")
			}}
		}, "deliverytest: OnFailed for delivery 1: no"},
		{"worker error", func() *delivery.Worker {
			return &delivery.Worker{Sender: srv.Sender(), RescueAfter: time.Second}
		}, "deliverytest: Work: " + delivery.ErrRescueTooSoon.Error() + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQueue(t)
			enqueue(t, q, srv.URL, nil)
			tb := tbtest.New()
			defer tb.Finish()
			assert.False(t, tb.Run(func(tb testing.TB) { Work(tb, q, tt.worker()) }), "Work must stop the test")
			errs := tb.Errors()
			require.Len(t, errs, 1)
			if prefix, ok := strings.CutSuffix(tt.want, "..."); ok {
				assert.True(t, strings.HasPrefix(errs[0], prefix), "got %q", errs[0])
			} else {
				assert.Equal(t, tt.want, errs[0])
			}
		})
	}
}

func TestWorkTimeout(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	srv.Respond(http.StatusServiceUnavailable)
	q := NewQueue(t)
	later := enqueue(t, q, srv.URL, &delivery.EnqueueOptions{SendAt: time.Now().Add(time.Hour)})
	retried := enqueue(t, q, srv.URL, nil)
	// A policy whose retry comes after the bound.
	sender := srv.Sender()
	sender.RetryPolicy = webhook.RetryFunc(func(webhook.Attempt) (time.Duration, bool) { return time.Hour, true })

	tb := tbtest.New()
	defer tb.Finish()
	assert.False(t, tb.Run(func(tb testing.TB) { work(tb, q, &delivery.Worker{Sender: sender}, 500*time.Millisecond) }))
	errs := tb.Errors()
	require.Len(t, errs, 1)
	lines := strings.Split(errs[0], "\n")
	require.Len(t, lines, 3, errs[0])
	assert.Equal(t, "deliverytest: the queue was not idle after 500ms:", lines[0])
	assert.Regexp(t, `^\tdelivery `+strconv.FormatInt(later.ID, 10)+` is scheduled, next attempt due in 59m5\d\.\d+s$`, lines[1])
	assert.Regexp(t, `^\tdelivery `+strconv.FormatInt(retried.ID, 10)+` is scheduled, next attempt due in 59m5\d\.\d+s, last error: .*503.*$`, lines[2])
}
