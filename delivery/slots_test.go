package delivery

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// admitN admits jobs for name until one is not admitted (it may be
// queued), at most n, and returns how many were.
func admitN(s *slots, name string, n int) int {
	for i := range n {
		if adm, _, _ := s.admit(name, int64(i)); adm != admitted {
			return i
		}
	}
	return n
}

func TestSlotsStartAtAQuarterAndGrowWithAnswers(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0).UTC()
	s := newSlots(8, Circuit{}, func() time.Time { return now })
	name := "https://a:443"
	require.Equal(t, 4, admitN(s, name, 8), "a quarter of the slots, and as many claimed ahead")
	require.Len(t, s.dests[name].queue, 1, "the next waits in memory")
	for range 2 {
		require.Equal(t, gotSlot, s.take(context.Background(), name, false, time.Second))
	}
	assert.Equal(t, noSlot, s.take(context.Background(), name, false, time.Millisecond),
		"a quarter of the slots in flight")
	// The jobs claimed ahead wait for a slot; an answer grows the limit
	// by one, gives the slot back and a slot more: both go to them.
	got := make(chan taken, 2)
	for range 2 {
		go func() { got <- s.take(context.Background(), name, false, time.Minute) }()
	}
	waitUntil(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.waiting == 2 })
	s.done(name, true, answered, now, 10*time.Millisecond)
	assert.Equal(t, 3.0, s.dests[name].limit)
	assert.Equal(t, gotSlot, <-got)
	assert.Equal(t, gotSlot, <-got)
	assert.Equal(t, 3, s.dests[name].inflight)
	assert.Empty(t, s.dests[name].queue, "the queued job was admitted")
}

func TestSlotsHalveOncePerRound(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0).UTC()
	s := newSlots(16, Circuit{}, func() time.Time { return now })
	d := s.dest("https://a:443", now)
	d.limit = 16
	require.Equal(t, 16, admitN(s, "https://a:443", 16))
	started := now.Add(-time.Second)
	changed := s.done("https://a:443", false, failing, started, time.Second)
	assert.True(t, changed, "slowed")
	assert.Equal(t, 8.0, d.limit)
	// Attempts that began before the cut do not cut again.
	s.done("https://a:443", false, failing, started, time.Second)
	s.done("https://a:443", false, throttled, started, time.Second)
	assert.Equal(t, 8.0, d.limit)
	// One that began after it does.
	now = now.Add(time.Second)
	s.done("https://a:443", false, failing, now, time.Millisecond)
	assert.Equal(t, 4.0, d.limit)
	assert.Equal(t, DestinationSlowed, s.describe("https://a:443").State)
	assert.Equal(t, 4, s.describe("https://a:443").Slots)

	// Answers grow it back; at every slot it is healthy again.
	for range 12 {
		s.done("https://a:443", false, answered, now, time.Millisecond)
	}
	assert.Equal(t, 16.0, d.limit)
	assert.Equal(t, DestinationHealthy, s.describe("https://a:443").State)
}

func TestSlotsShareWhileOthersWait(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0).UTC()
	s := newSlots(8, Circuit{}, func() time.Time { return now })
	for _, name := range []string{"https://a:443", "https://b:443"} {
		s.dest(name, now).limit = 8
		s.dest(name, now).latency = time.Second // slow: nothing claimed ahead
	}
	// a is alone: it may take every slot.
	require.Equal(t, 8, admitN(s, "https://a:443", 8))
	for range 8 {
		require.Equal(t, gotSlot, s.take(context.Background(), "https://a:443", false, time.Second))
	}
	// b's first job is admitted, and waits for a slot.
	adm, _, _ := s.admit("https://b:443", 100)
	require.Equal(t, admitted, adm)
	got := make(chan taken)
	go func() { got <- s.take(context.Background(), "https://b:443", false, time.Minute) }()
	waitUntil(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.waiting == 1 })

	// a is over its share while b waits: its next job is not admitted.
	adm, _, _ = s.admit("https://a:443", 101)
	assert.NotEqual(t, admitted, adm)
	// The slot a gives back goes to b, whose destination has none.
	s.done("https://a:443", true, answered, now, time.Second)
	assert.Equal(t, gotSlot, <-got)
	assert.Equal(t, 1, s.dests["https://b:443"].inflight)
}

func TestSlotsHoldSlowDestinations(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0).UTC()
	s := newSlots(4, Circuit{}, func() time.Time { return now })
	d := s.dest("https://slow:443", now)
	d.latency = 3 * time.Second
	require.Equal(t, 1, admitN(s, "https://slow:443", 4), "its limit, and none claimed ahead")
	assert.Empty(t, d.queue, "a slow destination's jobs do not wait in memory")
	// The next is held for about as long as the destination takes.
	adm, wait, _ := s.admit("https://slow:443", 11)
	require.Equal(t, held, adm)
	assert.GreaterOrEqual(t, wait, 3*time.Second)
	assert.LessOrEqual(t, wait, 3*time.Second*3/2)

	// Its attempt in flight for long without an answer: the wait grows
	// with that, up to holdMax.
	require.Equal(t, gotSlot, s.take(context.Background(), "https://slow:443", false, time.Second))
	now = now.Add(time.Hour)
	_, wait, _ = s.admit("https://slow:443", 12)
	assert.GreaterOrEqual(t, wait, holdMax)
	assert.LessOrEqual(t, wait, holdMax*3/2)
}

func TestSlotsSendAwayTheQueueOfADestinationThatStopsAnswering(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0).UTC()
	s := newSlots(8, Circuit{}, func() time.Time { return now })
	name := "https://quiet:443"
	require.Equal(t, 4, admitN(s, name, 8), "nothing known: quick until shown otherwise")
	q := s.dests[name].queue[0]
	for range 2 {
		require.Equal(t, gotSlot, s.take(context.Background(), name, false, time.Second))
	}
	// Its attempts stay unanswered for longer than a quick answer: when
	// another destination's attempt ends, its queued job is sent away.
	now = now.Add(time.Second)
	other := "https://other:443"
	adm, _, _ := s.admit(other, 99)
	require.Equal(t, admitted, adm)
	require.Equal(t, gotSlot, s.take(context.Background(), other, false, time.Second))
	s.done(other, true, answered, now, time.Millisecond)
	<-q.ready
	assert.False(t, q.admitted)
	assert.Greater(t, s.leave(name, q), time.Duration(0), "held")
	assert.Empty(t, s.dests[name].queue)
	adm, _, _ = s.admit(name, 100)
	assert.Equal(t, held, adm, "no longer queued")
}

func TestSlotsFollowTheCircuit(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0).UTC()
	s := newSlots(4, Circuit{}, func() time.Time { return now })
	name := "https://a:443"
	s.dest(name, now)
	changed := s.setCircuits([]*destRow{{Name: name, Circuit: circuitOpen, Failures: 3,
		PausedUntil: toMicros(now.Add(time.Minute))}}, true)
	require.Len(t, changed, 1)
	assert.Equal(t, DestinationPaused, changed[0].State)
	assert.Equal(t, now.Add(time.Minute), changed[0].PausedUntil)
	adm, _, _ := s.admit(name, 1)
	assert.Equal(t, paused, adm)
	assert.True(t, s.failing(name))

	now = now.Add(2 * time.Minute)
	adm, _, _ = s.admit(name, 1)
	assert.Equal(t, probeDue, adm, "the cool-down has passed")

	s.setCircuits([]*destRow{{Name: name, Circuit: circuitOpen, PausedUntil: toMicros(now.Add(-time.Second)),
		ProbeDelivery: 7, ProbeUntil: toMicros(now.Add(time.Minute))}}, true)
	adm, _, _ = s.admit(name, 1)
	assert.Equal(t, paused, adm, "another delivery is the probe")
	adm, _, _ = s.admit(name, 7)
	assert.Equal(t, probeDue, adm, "the probe's own job")

	// A job waiting for a slot when its destination is paused is stopped;
	// the probe waits on.
	s.setCircuits(nil, true)
	s.dest(name, now).limit = 1
	for i := range 3 {
		adm, _, _ := s.admit(name, int64(i))
		require.Equal(t, admitted, adm)
		s.dest(name, now).limit = 3
	}
	s.dest(name, now).limit = 1
	require.Equal(t, gotSlot, s.take(context.Background(), name, false, time.Second))
	waiting, probing := make(chan taken), make(chan taken)
	go func() { waiting <- s.take(context.Background(), name, false, time.Minute) }()
	waitUntil(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.waiting == 1 })
	go func() { probing <- s.take(context.Background(), name, true, time.Minute) }()
	waitUntil(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.waiting == 2 })
	s.setCircuits([]*destRow{{Name: name, Circuit: circuitOpen, PausedUntil: toMicros(now.Add(time.Hour))}}, true)
	assert.Equal(t, stopped, <-waiting)
	assert.Equal(t, stopped, s.take(context.Background(), name, false, time.Minute), "stopped at once")
	s.done(name, false, neutral, now, 0) // the stopped one
	s.done(name, true, neutral, now, 0)
	assert.Equal(t, gotSlot, <-probing)
	s.done(name, true, neutral, now, 0)

	s.setCircuits([]*destRow{{Name: name, Circuit: circuitDisabled}}, true)
	adm, _, _ = s.admit(name, 1)
	assert.Equal(t, disabled, adm)

	// A destination the log no longer lists is closed and not failing.
	changed = s.setCircuits(nil, true)
	require.Len(t, changed, 1)
	assert.Equal(t, DestinationHealthy, changed[0].State)
	assert.False(t, s.failing(name))
	adm, _, _ = s.admit(name, 1)
	assert.Equal(t, admitted, adm)
}

// waitUntil waits for cond, which another goroutine makes true.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("the condition did not come true")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSlowDestinationDoesNotTakeEverySlot queues deliveries to a
// destination that does not answer ahead of a healthy one's: the healthy
// ones are all delivered while the slow one still holds its slots, and
// the slow one's deliveries, held meanwhile, spend no attempt on it.
func TestSlowDestinationDoesNotTakeEverySlot(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		slow := newBlockingReceiver(t)
		healthy := newReceiver(t, nil)
		slowAction := testAction(t, slow.URL, webhook.SendingAutomatic)
		var slowIDs []int64
		for i := range 12 {
			slowIDs = append(slowIDs, mustEnqueue(t, q, slowAction, customer("s"+itoa(i)+"@example.com"), nil).ID)
		}
		healthyAction := testAction(t, healthy.URL, webhook.SendingAutomatic)
		for i := range 10 {
			mustEnqueue(t, q, healthyAction, customer("h"+itoa(i)+"@example.com"), nil)
		}

		healthyDone := make(chan struct{})
		var delivered atomic.Int32
		w := testWorker(0)
		w.Sender.Timeout = time.Minute // the slow one answers when released, not by timing out
		w.Concurrency = 8
		w.PollInterval = 20 * time.Millisecond
		w.OnAttempt = func(d *Delivery, a Attempt) {
			if d.Destination == destinationOf(healthy.URL) && d.State == StateDelivered && delivered.Add(1) == 10 {
				close(healthyDone)
			}
		}
		work := backgroundWork(t, q, w, true)
		select {
		case <-healthyDone:
		case <-time.After(time.Minute):
			t.Fatal("the healthy destination's deliveries waited for the slow one")
		}
		assert.Len(t, healthy.seen(), 10)
		assert.LessOrEqual(t, int(slow.maxInflight.Load()), 2,
			"a destination that has not answered yet has a quarter of the slots")

		slow.open()
		require.NoError(t, work.wait())
		for _, id := range slowIDs {
			d := mustGet(t, q, id)
			assert.Equal(t, StateDelivered, d.State)
			assert.Len(t, d.Attempts, 1, "a held delivery spends no attempt")
		}
		assert.Len(t, slow.seen(), 12)
	})
}

func TestSlotsShareLeavesOutADestinationAtItsLimit(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0).UTC()
	s := newSlots(8, Circuit{}, func() time.Time { return now })
	slow, fast := "https://slow:443", "https://fast:443"
	s.dest(slow, now).latency = time.Minute // nothing claimed ahead
	require.Equal(t, 2, admitN(s, slow, 8))
	for range 2 {
		require.Equal(t, gotSlot, s.take(context.Background(), slow, false, time.Second))
	}
	s.dest(fast, now).limit = 8
	s.dest(fast, now).latency = time.Minute
	require.Equal(t, 6, admitN(s, fast, 6))
	for range 6 {
		require.Equal(t, gotSlot, s.take(context.Background(), fast, false, time.Second))
	}
	// Every slot is busy. The slow destination is at its limit: it waits
	// for its own attempts, not for a share; the fast one may go on.
	adm, _, _ := s.admit(fast, 100)
	assert.Equal(t, admitted, adm)
}
