package delivery

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerdictOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a    Attempt
		want verdict
	}{
		{"delivered", Attempt{Status: 200}, answered},
		{"a 4xx is an answer", Attempt{Status: 404, Class: webhook.ClassStatus}, answered},
		{"a 5xx fails", Attempt{Status: 503, Class: webhook.ClassStatus}, failing},
		{"a 429 throttles", Attempt{Status: 429, Class: webhook.ClassStatus}, throttled},
		{"a timeout fails", Attempt{Class: webhook.ClassTimeout}, failing},
		{"a connection error fails", Attempt{Class: webhook.ClassConnection}, failing},
		{"a response too large is an answer", Attempt{Status: 200, Class: webhook.ClassTooLarge}, answered},
		{"a redirect is an answer", Attempt{Status: 302, Class: webhook.ClassRedirect}, answered},
		{"a mapping error is an answer", Attempt{Status: 200, Class: webhook.ClassMapping}, answered},
		{"a render error says nothing", Attempt{Class: webhook.ClassInvalid}, neutral},
		{"a refused address says nothing", Attempt{Class: webhook.ClassBlocked}, neutral},
		{"a stopped worker says nothing", Attempt{Class: ClassInterrupted}, neutral},
		{"a disabled destination says nothing", Attempt{Class: ClassDisabled}, neutral},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, verdictOf(tc.a))
		})
	}
}

func TestCircuitRecord(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := Circuit{Failures: 3, Cooldown: time.Minute, MaxCooldown: 3 * time.Minute}
	fail := Attempt{Start: now.Add(-time.Second), Class: webhook.ClassTimeout}
	ok := Attempt{Start: now, Status: 200}
	open := func(cooldown time.Duration, probe int64) destRow {
		return destRow{Circuit: circuitOpen, Failures: 3, FailingSince: toMicros(now.Add(-time.Hour)),
			Cooldown: int64(cooldown), PausedUntil: toMicros(now.Add(-time.Second)), ProbeDelivery: probe,
			ProbeUntil: toMicros(now.Add(time.Minute))}
	}
	type step struct {
		v     verdict
		a     Attempt
		id    int64
		probe bool
	}
	for _, tc := range []struct {
		name  string
		c     Circuit
		row   destRow
		steps []step
		want  destRow
	}{{
		name:  "failures below the threshold count",
		row:   destRow{Circuit: circuitClosed},
		steps: []step{{v: failing, a: fail}, {v: failing, a: fail}},
		want: destRow{Circuit: circuitClosed, Failures: 2, FailingSince: toMicros(fail.Start),
			LastClass: "timeout"},
	}, {
		name:  "a success forgets them",
		row:   destRow{Circuit: circuitClosed, Failures: 2, FailingSince: 1},
		steps: []step{{v: answered, a: ok}},
		want:  destRow{Circuit: circuitClosed},
	}, {
		name:  "the threshold pauses",
		row:   destRow{Circuit: circuitClosed, Failures: 2, FailingSince: 1},
		steps: []step{{v: failing, a: Attempt{Start: now, Class: webhook.ClassStatus, Status: 503}}},
		want: destRow{Circuit: circuitOpen, Failures: 3, FailingSince: 1, LastClass: "status", LastStatus: 503,
			Cooldown: int64(time.Minute), PausedUntil: toMicros(now.Add(time.Minute))},
	}, {
		name:  "a throttle does not count",
		row:   destRow{Circuit: circuitClosed, Failures: 2, FailingSince: 1},
		steps: []step{{v: throttled, a: Attempt{Start: now, Class: webhook.ClassStatus, Status: 429}}},
		want:  destRow{Circuit: circuitClosed, Failures: 2, FailingSince: 1},
	}, {
		name:  "a late failure while paused does not extend the pause",
		row:   open(time.Minute, 0),
		steps: []step{{v: failing, a: fail, id: 9}},
		want: func() destRow {
			r := open(time.Minute, 0)
			r.Failures, r.LastClass = 4, "timeout"
			return r
		}(),
	}, {
		name:  "the probe's success closes",
		row:   open(time.Minute, 7),
		steps: []step{{v: answered, a: ok, id: 7, probe: true}},
		want:  destRow{Circuit: circuitClosed},
	}, {
		name:  "the probe's failure pauses for twice as long",
		row:   open(time.Minute, 7),
		steps: []step{{v: failing, a: fail, id: 7, probe: true}},
		want: func() destRow {
			r := open(2*time.Minute, 0)
			r.Failures, r.LastClass, r.ProbeUntil = 4, "timeout", 0
			r.PausedUntil = toMicros(now.Add(2 * time.Minute))
			return r
		}(),
	}, {
		name:  "a throttled probe pauses for as long again",
		row:   open(time.Minute, 7),
		steps: []step{{v: throttled, a: Attempt{Start: now, Class: webhook.ClassStatus, Status: 429}, id: 7, probe: true}},
		want: func() destRow {
			r := open(time.Minute, 0)
			r.ProbeUntil = 0
			r.PausedUntil = toMicros(now.Add(time.Minute))
			return r
		}(),
	}, {
		name:  "a throttle that is not the probe changes nothing",
		row:   open(time.Minute, 7),
		steps: []step{{v: throttled, a: Attempt{Start: now, Class: webhook.ClassStatus, Status: 429}, id: 8}},
		want:  open(time.Minute, 7),
	}, {
		name:  "up to the cap",
		row:   open(2*time.Minute, 7),
		steps: []step{{v: failing, a: fail, id: 7, probe: true}},
		want: func() destRow {
			r := open(3*time.Minute, 0)
			r.Failures, r.LastClass, r.ProbeUntil = 4, "timeout", 0
			r.PausedUntil = toMicros(now.Add(3 * time.Minute))
			return r
		}(),
	}, {
		name:  "a probe that was not sent frees the lease",
		row:   open(time.Minute, 7),
		steps: []step{{v: neutral, a: Attempt{Class: ClassInterrupted}, id: 7, probe: true}},
		want: func() destRow {
			r := open(time.Minute, 0)
			r.ProbeUntil = 0
			return r
		}(),
	}, {
		name:  "another delivery's outcome is no probe's",
		row:   open(time.Minute, 7),
		steps: []step{{v: neutral, a: Attempt{Class: ClassInterrupted}, id: 8, probe: true}},
		want:  open(time.Minute, 7),
	}, {
		name:  "failing for long enough disables",
		c:     Circuit{Failures: 3, Cooldown: time.Minute, DisableAfter: time.Hour},
		row:   open(time.Minute, 7),
		steps: []step{{v: failing, a: fail, id: 7, probe: true}},
		want: func() destRow {
			r := open(time.Minute, 0)
			r.Circuit, r.Failures, r.LastClass, r.PausedUntil, r.ProbeUntil = circuitDisabled, 4, "timeout", 0, 0
			return r
		}(),
	}, {
		name:  "a disabled destination stays so",
		row:   destRow{Circuit: circuitDisabled, Failures: 9},
		steps: []step{{v: answered, a: ok}},
		want:  destRow{Circuit: circuitDisabled},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cc := c
			if tc.c != (Circuit{}) {
				cc = tc.c
			}
			row := tc.row
			for _, s := range tc.steps {
				row.record(s.v, s.a, s.id, s.probe, now, cc)
			}
			assert.Equal(t, tc.want, row)
		})
	}
}

func TestCircuitDefaults(t *testing.T) {
	t.Parallel()
	var c Circuit
	assert.Equal(t, 10, c.failures())
	assert.Equal(t, 30*time.Second, c.cooldown())
	assert.Equal(t, 10*time.Minute, c.maxCooldown())
	c = Circuit{Cooldown: time.Hour, MaxCooldown: time.Minute}
	assert.Equal(t, time.Hour, c.maxCooldown(), "the cap is never below the first cool-down")
}

func TestDestinationCounts(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var row destRow
	row.count(3, 1, 4*time.Second, start)
	row.count(1, 0, time.Second, start.Add(30*time.Second))
	d := row.public(start.Add(40 * time.Second))
	assert.Equal(t, 5, d.Attempts)
	assert.InDelta(t, 0.8, d.SuccessRate, 1e-9)
	assert.Equal(t, time.Second, d.Latency)

	// A minute on, the first window is the previous one: still recent.
	row.count(0, 5, 5*time.Second, start.Add(70*time.Second))
	d = row.public(start.Add(80 * time.Second))
	assert.Equal(t, 10, d.Attempts)
	assert.InDelta(t, 0.4, d.SuccessRate, 1e-9)

	// Two minutes after the last window began, nothing is recent.
	d = row.public(start.Add(190 * time.Second))
	assert.Zero(t, d.Attempts)
	assert.Zero(t, d.SuccessRate)
	assert.Zero(t, d.Latency)
}

func TestDestinationState(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		row  destRow
		want DestinationState
	}{
		{"closed", destRow{Circuit: circuitClosed}, DestinationHealthy},
		{"slowed by a worker", destRow{Circuit: circuitClosed, SlowedUntil: toMicros(now.Add(time.Second))}, DestinationSlowed},
		{"no longer slowed", destRow{Circuit: circuitClosed, SlowedUntil: toMicros(now.Add(-time.Second))}, DestinationHealthy},
		{"open", destRow{Circuit: circuitOpen, SlowedUntil: toMicros(now.Add(time.Second))}, DestinationPaused},
		{"disabled", destRow{Circuit: circuitDisabled}, DestinationDisabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.row.state(now))
		})
	}
}

// circuitWorker is a Worker for the circuit tests: one attempt at a time,
// so that the failures before a pause are counted exactly, retries a few
// milliseconds apart and never given up, and a pause of an hour unless
// the test's clock moves.
func circuitWorker(onDestination func(Destination)) *Worker {
	w := testWorker(1000)
	w.Concurrency = 1
	w.PollInterval = 20 * time.Millisecond
	w.Circuit = Circuit{Failures: 3, Cooldown: time.Hour, MaxCooldown: 8 * time.Hour}
	w.OnDestination = onDestination
	return w
}

// pausedSignal returns an OnDestination that closes the channel it
// returns the first time dest is seen paused.
func pausedSignal(dest string) (func(Destination), chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(d Destination) {
		if d.Destination == dest && d.State == DestinationPaused {
			once.Do(func() { close(ch) })
		}
	}, ch
}

// awaitHeld waits until n deliveries are held for dest.
func awaitHeld(t *testing.T, q *Queue, dest string, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, itoa(n)+" deliveries held", func() bool { return heldFor(t, q, dest) == n })
}

// TestCircuitPausesAndAProbeClosesIt fails three attempts in a row: the
// destination is paused, its deliveries wait without spending attempts,
// and after the cool-down one probe goes alone; its success closes the
// circuit and the others are sent.
func TestCircuitPausesAndAProbeClosesIt(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		var clock testClock
		clock.use(q)
		var failing atomic.Bool
		failing.Store(true)
		probe := make(chan struct{})
		var requests atomic.Int32
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			requests.Add(1)
			if failing.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			if n == 4 {
				<-probe // the probe waits while the test looks
			}
			io.WriteString(w, `{"id": "lead"}`)
		})
		dest := destinationOf(rc.URL)
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		var ids []int64
		for i := range 6 {
			ids = append(ids, mustEnqueue(t, q, action, customer("p"+itoa(i)+"@example.com"), nil).ID)
		}
		onDest, pausedCh := pausedSignal(dest)
		work := backgroundWork(t, q, circuitWorker(onDest), true)
		<-pausedCh
		awaitHeld(t, q, dest, 6)
		assert.Equal(t, int32(3), requests.Load(), "three failures in a row, then nothing")

		d := destination(t, q, dest)
		assert.Equal(t, DestinationPaused, d.State)
		assert.Equal(t, 3, d.Failures)
		assert.Equal(t, "status", d.LastClass)
		assert.Equal(t, 503, d.LastStatus)
		assert.Equal(t, time.Hour, d.Cooldown)
		assert.Equal(t, 6, d.Waiting)
		got := mustGet(t, q, ids[5])
		assert.Equal(t, StateScheduled, got.State)
		require.NotNil(t, got.Waiting)
		assert.Equal(t, WaitPaused, got.Waiting.Reason)
		assert.WithinDuration(t, clock.now().Add(time.Hour), got.Waiting.Until, time.Minute)

		// The cool-down passes: one probe, alone.
		failing.Store(false)
		clock.advance(2 * time.Hour)
		waitFor(t, 30*time.Second, "the probe", func() bool { return requests.Load() == 4 })
		assert.Equal(t, 5, heldFor(t, q, dest), "the others wait while the probe is out")
		assert.Equal(t, int32(4), requests.Load())
		close(probe)
		require.NoError(t, work.wait())

		assert.Equal(t, int32(9), requests.Load())
		attempts := 0
		for _, id := range ids {
			d := mustGet(t, q, id)
			assert.Equal(t, StateDelivered, d.State)
			assert.Nil(t, d.Waiting)
			attempts += len(d.Attempts)
		}
		assert.Equal(t, 9, attempts, "no attempt was spent while the destination was paused")
		d = destination(t, q, dest)
		assert.Equal(t, DestinationHealthy, d.State)
		assert.Zero(t, d.Failures)
		assert.Zero(t, d.Waiting)
	})
}

// TestCircuitFailedProbePausesForLonger: a probe that fails pauses the
// destination again, for twice the cool-down, and nothing else was sent.
func TestCircuitFailedProbePausesForLonger(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		var clock testClock
		clock.use(q)
		var failing atomic.Bool
		failing.Store(true)
		rc := statusReceiver(t, &failing)
		dest := destinationOf(rc.URL)
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		for i := range 5 {
			mustEnqueue(t, q, action, customer("p"+itoa(i)+"@example.com"), nil)
		}
		var heard sync.Map
		onDest, pausedCh := pausedSignal(dest)
		work := backgroundWork(t, q, circuitWorker(func(d Destination) {
			heard.Store(d.Cooldown, d)
			onDest(d)
		}), false)
		<-pausedCh
		awaitHeld(t, q, dest, 5)
		require.Len(t, rc.seen(), 3)

		clock.advance(2 * time.Hour)
		waitFor(t, 30*time.Second, "the probe's failure", func() bool {
			return destination(t, q, dest).Cooldown == 2*time.Hour
		})
		awaitHeld(t, q, dest, 5)
		d := destination(t, q, dest)
		assert.Equal(t, DestinationPaused, d.State)
		assert.Equal(t, 4, d.Failures)
		assert.WithinDuration(t, clock.now().Add(2*time.Hour), d.PausedUntil, time.Minute)
		assert.Len(t, rc.seen(), 4, "one probe, and nothing else")
		waitFor(t, 30*time.Second, "the worker to see the longer pause", func() bool {
			_, ok := heard.Load(2 * time.Hour)
			return ok
		})

		// Resume ends the pause: the deliveries go, the destination answers.
		failing.Store(false)
		resumed, err := q.Resume(context.Background(), rc.URL)
		require.NoError(t, err)
		assert.Equal(t, DestinationHealthy, resumed.State)
		waitFor(t, 30*time.Second, "every delivery", func() bool { return len(rc.seen()) == 9 })
		require.NoError(t, work.stop())
		ds, err := q.List(context.Background(), nil)
		require.NoError(t, err)
		for _, d := range ds {
			assert.Equal(t, StateDelivered, d.State)
		}
	})
}

// TestCircuitIsSharedByWorkers pauses a destination through one worker;
// another, started afresh on the same database, sends nothing to it, and
// a Resume lets both go on.
func TestCircuitIsSharedByWorkers(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			q1, dsn := be.open(t)
			q2, err := Open(context.Background(), dsn)
			require.NoError(t, err)
			t.Cleanup(func() { q2.Close() })
			var failing atomic.Bool
			failing.Store(true)
			rc := statusReceiver(t, &failing)
			dest := destinationOf(rc.URL)
			action := testAction(t, rc.URL, webhook.SendingAutomatic)
			for i := range 3 {
				mustEnqueue(t, q1, action, customer("a"+itoa(i)+"@example.com"), nil)
			}

			onDest, pausedCh := pausedSignal(dest)
			first := backgroundWork(t, q1, circuitWorker(onDest), false)
			<-pausedCh
			require.NoError(t, first.stop())
			require.Len(t, rc.seen(), 3)

			// The second worker has seen none of the failures.
			for i := range 4 {
				mustEnqueue(t, q2, action, customer("b"+itoa(i)+"@example.com"), nil)
			}
			w2 := circuitWorker(nil)
			w2.Concurrency = 4
			second := backgroundWork(t, q2, w2, false)
			awaitHeld(t, q2, dest, 7)
			assert.Len(t, rc.seen(), 3, "the second worker sent nothing to the paused destination")

			// Both work; the pause ends; every delivery goes once more.
			again := backgroundWork(t, q1, circuitWorker(nil), false)
			failing.Store(false)
			_, err = q2.Resume(context.Background(), dest)
			require.NoError(t, err)
			waitFor(t, 30*time.Second, "every delivery", func() bool { return len(rc.seen()) == 10 })
			require.NoError(t, second.stop())
			require.NoError(t, again.stop())
			assert.Zero(t, heldFor(t, q1, dest))
		})
	}
}

// TestCircuitDisablesAfterFailingForLong: with DisableAfter, a destination
// that kept failing is disabled and its deliveries fail, without being
// sent, with an attempt of class disabled; OnFailed hears of each.
func TestCircuitDisablesAfterFailingForLong(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		var clock testClock
		clock.use(q)
		var failing atomic.Bool
		failing.Store(true)
		rc := statusReceiver(t, &failing)
		dest := destinationOf(rc.URL)
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		var ids []int64
		for i := range 4 {
			ids = append(ids, mustEnqueue(t, q, action, customer("p"+itoa(i)+"@example.com"), nil).ID)
		}
		var failed atomic.Int32
		onDest, pausedCh := pausedSignal(dest)
		w := circuitWorker(onDest)
		w.Circuit.DisableAfter = 3 * time.Hour
		w.OnFailed = func(context.Context, *Delivery) error { failed.Add(1); return nil }
		work := backgroundWork(t, q, w, true)
		<-pausedCh
		awaitHeld(t, q, dest, 4)

		// A probe two hours on fails: paused again, not yet disabled.
		clock.advance(2 * time.Hour)
		waitFor(t, 30*time.Second, "the first probe", func() bool { return len(rc.seen()) == 4 })
		awaitHeld(t, q, dest, 4)
		// Another, four hours on, fails too: failing for six hours.
		clock.advance(4 * time.Hour)
		require.NoError(t, work.wait())

		assert.Len(t, rc.seen(), 5, "three failures and two probes")
		assert.Equal(t, DestinationDisabled, destination(t, q, dest).State)
		assert.Equal(t, int32(4), failed.Load())
		for _, id := range ids {
			d := mustGet(t, q, id)
			assert.Equal(t, StateFailed, d.State)
			last := d.Attempts[len(d.Attempts)-1]
			if last.Class == ClassDisabled {
				assert.Contains(t, d.LastError, "disabled")
				assert.Zero(t, last.Status)
			}
		}

		// New deliveries fail at once, unsent, until Resume.
		late := mustEnqueue(t, q, action, customer("late@example.com"), nil)
		workUntilIdle(t, q, circuitWorker(nil))
		got := mustGet(t, q, late.ID)
		assert.Equal(t, StateFailed, got.State)
		require.Len(t, got.Attempts, 1)
		assert.Equal(t, ClassDisabled, got.Attempts[0].Class)
		assert.Len(t, rc.seen(), 5)
	})
}
