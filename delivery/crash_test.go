package delivery

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCrashedWorkerLosesNothing kills a worker process with SIGKILL while
// some deliveries' requests are in flight and others wait for a retry,
// starts another, and checks that every delivery completes, that no
// delivery is lost, and that the duplicates a receiver sees carry the same
// idempotency key.
func TestCrashedWorkerLosesNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("the crash test waits for River's leader lease to expire (about 20 s)")
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			testCrash(t, b)
		})
	}
}

func testCrash(t *testing.T, b backend) {
	ctx := context.Background()
	q, dsn := b.open(t)

	// The receiver holds the first request of each "hold" delivery until
	// released, answers the first of each "retry" delivery with 503, and
	// everything else with 200.
	release := make(chan struct{})
	var mu sync.Mutex
	firsts := map[string]bool{}
	ok2xx := map[string]int{}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		key := r.Header.Get(webhook.HeaderIdempotencyKey)
		mu.Lock()
		first := !firsts[key]
		firsts[key] = true
		mu.Unlock()
		seen := rcSeen(r)
		if first {
			switch seen {
			case "hold":
				<-release
			case "retry":
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		}
		mu.Lock()
		ok2xx[key]++
		mu.Unlock()
		w.Write([]byte(`{"id": "ok"}`))
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	action := testAction(t, rc.URL, webhook.SendingAutomatic)
	group := map[int64]string{}
	key := map[int64]string{}
	for _, g := range []struct {
		name string
		n    int
	}{{"hold", 8}, {"retry", 8}, {"ok", 16}} {
		for i := range g.n {
			d := mustEnqueue(t, q, action, customer(g.name+"-"+itoa(i)+"@example.com"), nil)
			group[d.ID], key[d.ID] = g.name, d.IdempotencyKey
		}
	}

	// The attempt timeout is long enough that the held requests are still
	// in flight when the worker is killed, however slowly a loaded machine
	// gets every group to its state.
	cfg := helperConfig{DSN: dsn, Retries: 3, Wait: 6 * time.Second, Timeout: 5 * time.Second, Rescue: 7 * time.Second}
	first := startWorker(t, cfg)
	countState := func(name string, st State) int {
		n := 0
		for id, g := range group {
			if g != name {
				continue
			}
			d := mustGet(t, q, id)
			if d.State == st {
				n++
			}
		}
		return n
	}
	// Mid-request: every "hold" request in flight. Mid-schedule: every
	// "retry" delivery waiting six seconds for its second attempt.
	waitFor(t, 20*time.Second, "requests in flight and retries scheduled", func() bool {
		return countState("hold", StateSending) == 8 && countState("retry", StateScheduled) == 8 &&
			countState("ok", StateDelivered) == 16
	})
	first.kill(t)
	close(release) // the held requests are answered, to a dead worker

	second := startWorker(t, helperConfig{DSN: dsn, UntilIdle: true, Retries: cfg.Retries, Wait: cfg.Wait,
		Timeout: cfg.Timeout, Rescue: cfg.Rescue})
	t.Cleanup(func() {
		if t.Failed() {
			all, _ := q.List(ctx, nil)
			for _, d := range all {
				t.Logf("delivery %d %s %s next %v attempts %d", d.ID, group[d.ID], d.State, d.NextAt, len(d.Attempts))
			}
		}
	})
	second.wait(t, 90*time.Second)

	all, err := q.List(ctx, nil)
	require.NoError(t, err)
	require.Len(t, all, len(group), "nothing lost")
	for _, d := range all {
		assert.Equal(t, StateDelivered, d.State, "delivery %d (%s)", d.ID, group[d.ID])
		mu.Lock()
		assert.GreaterOrEqual(t, ok2xx[d.IdempotencyKey], 1, "delivery %d never answered 2xx", d.ID)
		mu.Unlock()
		switch group[d.ID] {
		case "hold":
			require.Len(t, d.Attempts, 2, "delivery %d", d.ID)
			assert.Equal(t, ClassInterrupted, d.Attempts[0].Class)
			assert.Equal(t, 200, d.Attempts[1].Status)
		case "retry":
			require.Len(t, d.Attempts, 2, "delivery %d", d.ID)
			assert.Equal(t, 503, d.Attempts[0].Status)
			assert.Equal(t, 200, d.Attempts[1].Status)
		case "ok":
			assert.Len(t, d.Attempts, 1, "delivery %d", d.ID)
		}
	}
	// Every request a receiver saw carries the key of the delivery it
	// renders: a duplicate can be recognised.
	bodies := map[string]string{}
	for _, r := range rc.seen() {
		id := int64(0)
		for i, k := range key {
			if k == r.Key {
				id = i
			}
		}
		require.NotZero(t, id, "a request with an unknown key")
		if b, ok := bodies[r.Key]; ok {
			assert.Equal(t, b, r.Body, "a duplicate with the same key renders the same delivery")
		}
		bodies[r.Key] = r.Body
	}
	assert.Len(t, bodies, len(group))
}

// rcSeen returns the group of the delivery a request renders: the part of
// the customer's email before the dash.
func rcSeen(r *http.Request) string {
	body, _ := io.ReadAll(r.Body)
	return emailGroup(string(body))
}
