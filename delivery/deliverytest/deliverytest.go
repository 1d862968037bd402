// Package deliverytest runs durable delivery inside an application's tests:
// a Queue of its own for each test, and a Worker run until every delivery
// has an outcome, with retries a millisecond apart, so that a test asserts
// on the delivery log and on its hooks without sleeping.
//
//	func TestSignupQueuesLead(t *testing.T) {
//		srv := webhooktest.NewServer(t, key)
//		srv.RespondWith(webhooktest.Reply{Status: 503}, // retried a millisecond later
//			webhooktest.Reply{Status: 201, Body: `{"id": "lead-7"}`})
//		q := deliverytest.NewQueue(t)
//		app := newApp(q, srv.URL)
//		app.SignUp(ctx, "ada@example.com") // enqueues the webhook
//		deliverytest.Work(t, q, &delivery.Worker{
//			Sender:      srv.Sender(),
//			OnDelivered: app.OnDelivered, // stores the lead id
//		})
//		// Every delivery has an outcome and its hook has returned:
//		// assert on q.List, q.Get and what OnDelivered stored.
//	}
//
// It is for tests only: its functions fail the test instead of returning
// errors.
package deliverytest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/delivery"
	"github.com/liquidhook/webhook/webhooktest"
)

// timeout bounds one Work call: a queue not idle by then fails the test,
// naming the deliveries still waiting.
const timeout = 30 * time.Second

// NewQueue opens a Queue on a new SQLite file in a directory of the test's
// own (tb.TempDir), closed when the test ends. Set its Compiler, if the
// actions need one, before using it.
func NewQueue(tb testing.TB) *delivery.Queue {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "deliveries.db")
	q, err := delivery.OpenSQLite(tb.Context(), path)
	if err != nil {
		tb.Fatalf("deliverytest: NewQueue: %v", err)
		return nil
	}
	tb.Cleanup(func() {
		if err := q.Close(); err != nil && !errors.Is(err, delivery.ErrClosed) {
			tb.Errorf("deliverytest: closing the queue: %v", err)
		}
	})
	return q
}

// Work runs w on q until the queue is idle, as delivery.Queue.WorkUntilIdle
// does: every delivery delivered, failed, cancelled or a draft, and every
// call of w's hooks returned. Then the test can read the log and see what
// its hooks did.
//
// w may be nil, and is not modified. Its Sender defaults to one that may
// reach loopback; a Sender without a RetryPolicy retries with
// webhooktest.RetryPolicy, a millisecond apart, instead of over hours; a
// destination paused by its circuit is probed again after a millisecond,
// and at most 10 milliseconds, instead of 30 seconds to 10 minutes, unless
// w.Circuit says otherwise; and a PollInterval of zero becomes the
// shortest, so that those retries, probes and the hook calls are seen as
// soon as they fall due.
//
// Work fails the test with FailNow when a hook returns an error, panics or
// calls FailNow (the application's own code failed, and River would retry
// the hook only seconds later), when WorkUntilIdle returns an error, or when
// the queue is not idle after 30 seconds, naming the deliveries still
// waiting. It must be called from the test's goroutine.
func Work(tb testing.TB, q *delivery.Queue, w *delivery.Worker) {
	tb.Helper()
	work(tb, q, w, timeout)
}

// work is Work with a bound of its own, so that its tests need not wait
// for the default.
func work(tb testing.TB, q *delivery.Queue, w *delivery.Worker, timeout time.Duration) {
	tb.Helper()
	var run delivery.Worker
	if w != nil {
		run = *w
	}
	if run.Sender == nil {
		run.Sender = &webhook.Sender{AllowPrivate: true}
	}
	if run.Sender.RetryPolicy == nil {
		s := *run.Sender
		s.RetryPolicy = webhooktest.RetryPolicy
		run.Sender = &s
	}
	if run.PollInterval == 0 {
		run.PollInterval = time.Nanosecond // the Worker's shortest
	}
	if run.Circuit.Cooldown == 0 {
		run.Circuit.Cooldown = time.Millisecond
	}
	if run.Circuit.MaxCooldown == 0 {
		run.Circuit.MaxCooldown = 10 * time.Millisecond
	}

	ctx, cancel := context.WithTimeout(tb.Context(), timeout)
	defer cancel()
	var failures hookFailures
	run.OnDelivered = failures.guard("OnDelivered", run.OnDelivered, cancel)
	run.OnFailed = failures.guard("OnFailed", run.OnFailed, cancel)

	err := q.WorkUntilIdle(ctx, &run)
	if msgs := failures.get(); len(msgs) > 0 {
		tb.Fatalf("deliverytest: %s", strings.Join(msgs, "\n"))
		return
	}
	if err != nil {
		tb.Fatalf("deliverytest: Work: %v", err)
		return
	}
	if ctx.Err() != nil {
		tb.Fatalf("deliverytest: the queue was not idle after %v%s", timeout, waiting(q))
	}
}

// hookFailures collects the errors and panics of a Worker's hooks, which
// run on River's goroutines, for Work to report on the test's.
type hookFailures struct {
	mu   sync.Mutex
	msgs []string
}

// guard wraps a hook so that an error, a panic or a FailNow is recorded
// and stops the run. The hook runs on a goroutine of its own, so that a
// FailNow (runtime.Goexit), which cannot be stopped, ends that goroutine
// and not the worker's. A nil hook stays nil: a Worker sets up hook jobs
// only for the hooks it has.
func (f *hookFailures) guard(name string, hook func(context.Context, *delivery.Delivery) error, stop func()) func(context.Context, *delivery.Delivery) error {
	if hook == nil {
		return nil
	}
	return func(ctx context.Context, d *delivery.Delivery) error {
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			returned := false
			defer func() {
				if v := recover(); v != nil {
					err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
				} else if !returned {
					err = errors.New("stopped its goroutine (FailNow, Fatal or runtime.Goexit); report failures from a hook with Errorf")
				}
			}()
			err = hook(ctx, d)
			returned = true
		}()
		<-done
		if err != nil {
			f.add(fmt.Sprintf("%s for delivery %d: %v", name, d.ID, err))
			stop()
		}
		return err
	}
}

func (f *hookFailures) add(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, msg)
}

func (f *hookFailures) get() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.msgs...)
}

// waiting lists the deliveries that keep q from being idle, after a colon,
// or says that only hooks can be left.
func waiting(q *delivery.Queue) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds, err := q.List(ctx, &delivery.ListOptions{
		States: []delivery.State{delivery.StateScheduled, delivery.StateSending},
		Limit:  10,
	})
	switch {
	case err != nil:
		return fmt.Sprintf(" (listing what is left: %v)", err)
	case len(ds) == 0:
		return ": every delivery has an outcome; a hook is still pending"
	}
	var b strings.Builder
	b.WriteString(":")
	now := time.Now()
	for _, d := range ds {
		fmt.Fprintf(&b, "\n\tdelivery %d is %s", d.ID, d.State)
		if d.State == delivery.StateScheduled && !d.NextAt.IsZero() {
			fmt.Fprintf(&b, ", next attempt due in %v", d.NextAt.Sub(now).Round(time.Millisecond))
		}
		if d.LastError != "" {
			fmt.Fprintf(&b, ", last error: %s", d.LastError)
		}
	}
	return b.String()
}
