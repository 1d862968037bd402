package delivery

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// slots shares one worker's attempt slots (Worker.Concurrency) among
// destinations, and knows each destination's circuit as the log last said.
//
// A job is admitted for its destination before its delivery is claimed,
// and takes a slot once claimed, so that the claim's commit is not spent
// holding a slot. Each destination has a limit on its attempts in flight,
// adaptive: it starts at a quarter of the slots, grows by one with each
// attempt the destination answers (up to every slot), and halves when an
// attempt fails or times out (once per round of attempts: those that
// started before the cut do not cut again). A destination may have
// admitted its limit, and as many again claimed ahead, ready for the
// slots its attempts give back, unless its attempts are slow (then a
// share of them that shrinks as they slow); while other destinations have
// jobs admitted, no more than its share of the slots, unless one is free.
// A job refused waits in memory, a few of them, to be admitted as
// attempts end; the others are held: River runs them again after a wait
// about as long as the destination takes to free a slot, jittered, so
// that they do not spin and their retry counts are left alone. A slot
// given back goes to the destination below its limit with the fewest
// attempts in flight among those whose jobs wait for one, first come
// first served within it.
type slots struct {
	capacity int
	initial  float64
	circuit  Circuit
	now      func() time.Time

	mu       sync.Mutex
	dests    map[string]*destSlots
	active   int    // destinations with jobs admitted
	inflight int    // slots taken
	waiting  int    // jobs waiting for a slot
	turn     uint64 // orders the jobs waiting for a slot
	queued   int    // jobs waiting to be admitted
}

// destSlots is one destination as a worker sees it.
type destSlots struct {
	reserved int     // jobs admitted and not yet done
	inflight int     // of which hold a slot
	limit    float64 // how many may hold a slot at once
	slowed   bool    // the limit was cut and has not grown back
	cutAt    time.Time
	// progress is when an attempt last ended, or when the first of those
	// in flight began: how long the destination has kept its slots.
	progress time.Time
	latency  time.Duration // moving average of attempt durations
	circuit  circuitView
	lastUsed time.Time
	// streak counts the failures in a row this worker saw, unrecorded
	// those of its failures the log does not hold yet.
	streak, unrecorded int
	// waiters are its claimed jobs waiting for a slot, oldest first.
	waiters []*waiter
	// queue holds its jobs waiting to be admitted, oldest first.
	queue []*queuedJob

	// Attempts since the counts were last written to the log.
	ok, failed int64
	spent      time.Duration

	// reported is the state OnDestination was last told, and
	// reportedUntil the end of the pause it was told of.
	reported      DestinationState
	reportedUntil time.Time
}

// queuedJob is a job waiting in memory to be admitted: answering it sets
// admitted and closes ready.
type queuedJob struct {
	ready    chan struct{}
	admitted bool
}

// waiter is a job waiting for a slot: answering it sets got and closes
// ready.
type waiter struct {
	ready chan struct{}
	turn  uint64
	probe bool
	got   taken
}

// circuitView is what a worker knows of a destination's shared circuit.
type circuitView struct {
	state         string
	failures      int
	pausedUntil   time.Time
	probeDelivery int64
	probeUntil    time.Time
	cooldown      time.Duration
	lastClass     string
	lastStatus    int
	// guessed is when the worker took the circuit to be open, before the
	// log said so; zero when the log said.
	guessed time.Time
}

// guessFor bounds how long a worker keeps its guess that a circuit is
// open without the log confirming it.
const guessFor = time.Minute

func newSlots(capacity int, circuit Circuit, now func() time.Time) *slots {
	return &slots{
		capacity: capacity,
		initial:  max(1, float64(capacity)/4),
		circuit:  circuit,
		now:      now,
		dests:    make(map[string]*destSlots),
	}
}

// Hold waits are at least holdMin and at most holdMax, before jitter. A
// destination whose attempts take quickAnswer or less may have as many
// jobs claimed ahead as its limit.
const (
	holdMin     = 100 * time.Millisecond
	holdMax     = 10 * time.Second
	quickAnswer = 100 * time.Millisecond
)

// admission is what a destination's state says of a job.
type admission int8

const (
	// admitted: the job may claim its delivery and wait for a slot.
	admitted admission = iota
	// queued: the job waits in memory to be admitted, until its channel is
	// closed.
	queued
	// held: the destination has its share; the job waits (a snooze).
	held
	// paused: the destination's circuit is open; the delivery waits
	// without a job until it closes.
	paused
	// probeDue: the circuit is open and a probe may go: the job is the
	// probe if it takes the lease.
	probeDue
	// disabled: the delivery fails without being sent.
	disabled
)

func (s *slots) dest(name string, now time.Time) *destSlots {
	d := s.dests[name]
	if d == nil {
		d = &destSlots{limit: s.initial, circuit: circuitView{state: circuitClosed}, reported: DestinationHealthy}
		s.dests[name] = d
	}
	d.lastUsed = now
	return d
}

// admit decides on a job of delivery id for the destination name. When
// admitted, the job counts against the destination until done; queued
// comes with the job's place in the queue, held with how long to wait.
func (s *slots) admit(name string, id int64) (admission, time.Duration, *queuedJob) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dest(name, now)
	switch c := d.circuit; c.state {
	case circuitDisabled:
		return disabled, 0, nil
	case circuitOpen:
		if now.Before(c.pausedUntil) {
			return paused, 0, nil
		}
		if c.probeDelivery == id || !now.Before(c.probeUntil) {
			return probeDue, 0, nil
		}
		return paused, 0, nil
	}
	if len(d.queue) == 0 && s.room(d, now) {
		s.reserve(d, now)
		return admitted, 0, nil
	}
	// Jobs of a quick destination wait in memory, where waiting costs
	// nothing, as long as they leave River workers to fetch other
	// destinations' jobs: half the slots' worth for a destination, as
	// many as the slots in all. The others are held.
	if d.quick(now) && s.queued < s.capacity && len(d.queue) < max(s.capacity/2, 1) {
		q := &queuedJob{ready: make(chan struct{})}
		d.queue = append(d.queue, q)
		s.queued++
		return queued, 0, q
	}
	return held, d.holdWait(now), nil
}

// pace is how long d's attempts take, as far as the worker can tell: their
// moving average, or, while none of those in flight has ended for longer,
// that time; zero while nothing is known.
func (d *destSlots) pace(now time.Time) time.Duration {
	p := d.latency
	if d.inflight > 0 {
		p = max(p, now.Sub(d.progress))
	}
	return p
}

// quick reports whether d's attempts take quickAnswer or less, as far as
// the worker can tell.
func (d *destSlots) quick(now time.Time) bool { return d.pace(now) <= quickAnswer }

// leave answers a queued job of name at the end of its wait: 0 if it was
// admitted, or else how long it is to be held, out of the queue.
func (s *slots) leave(name string, q *queuedJob) time.Duration {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.admitted {
		return 0
	}
	d := s.dest(name, now)
	if i := slices.Index(d.queue, q); i >= 0 {
		d.queue = slices.Delete(d.queue, i, i+1)
		s.queued--
	}
	return d.holdWait(now)
}

// admitQueued admits the queued jobs there is room for, the oldest of
// each destination first, and sends away those of a destination no longer
// quick, to be held: they would keep River workers from other jobs.
func (s *slots) admitQueued(now time.Time) {
	if s.queued == 0 {
		return
	}
	for _, d := range s.dests {
		if len(d.queue) > 0 && !d.quick(now) {
			for _, q := range d.queue {
				close(q.ready)
			}
			s.queued -= len(d.queue)
			d.queue = nil
			continue
		}
		for len(d.queue) > 0 && s.room(d, now) {
			s.reserve(d, now)
			d.queue[0].admitted = true
			close(d.queue[0].ready)
			d.queue = d.queue[1:]
			s.queued--
		}
	}
}

// room reports whether d may have one more job admitted: as many as its
// limit, and as many again claimed ahead, waiting to take a slot as soon
// as one is given back, when its attempts are quick enough for them not
// to wait long (fewer as they slow); and while other destinations' jobs
// wait for slots, no more than its share.
func (s *slots) room(d *destSlots, now time.Time) bool {
	limit := max(d.limit, 1)
	ahead := limit // until its attempts say how long they take
	if p := d.pace(now); p > 0 {
		ahead = limit * min(float64(quickAnswer)/float64(p), 1)
	}
	if float64(d.reserved) >= math.Floor(limit+ahead) {
		return false
	}
	if s.inflight+s.waiting < s.capacity {
		return true // a slot is free: nobody waits for it
	}
	// Others wait: d may hold its share, counting the destinations that
	// could take more slots (one at its own limit waits for itself).
	n := s.active
	if d.reserved == 0 {
		n++
	}
	if d.reserved < (s.capacity+n-1)/n {
		return true
	}
	n = 1
	for _, o := range s.dests {
		if o != d && o.reserved > 0 && o.below() {
			n++
		}
	}
	return n == 1 || d.reserved < (s.capacity+n-1)/n
}

// admitProbe admits the probe of a paused destination, whatever its limit.
func (s *slots) admitProbe(name string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserve(s.dest(name, now), now)
}

func (s *slots) reserve(d *destSlots, now time.Time) {
	if d.reserved == 0 {
		s.active++
	}
	d.reserved++
}

// start gives d's job a slot.
func (s *slots) start(d *destSlots, now time.Time) {
	if d.inflight == 0 {
		d.progress = now
	}
	d.inflight++
	s.inflight++
}

// holdWait is how long a held job waits: about as long as the
// destination takes to free a slot, jittered by up to a half.
func (d *destSlots) holdWait(now time.Time) time.Duration {
	wait := d.latency
	if d.inflight > 0 {
		wait = max(wait, 2*now.Sub(d.progress))
	}
	wait = min(max(wait, holdMin), holdMax)
	return wait + rand.N(wait/2+1)
}

// taken is what take got.
type taken int8

const (
	// gotSlot: the job holds a slot until done.
	gotSlot taken = iota
	// noSlot: none was free in time.
	noSlot
	// stopped: the destination was paused or disabled meanwhile; the
	// job must not send.
	stopped
)

// take waits for a slot for an admitted job of name, at most wait. A
// probe may take one while its destination is paused; any other job is
// stopped, at once or while it waits, when it is.
func (s *slots) take(ctx context.Context, name string, probe bool, wait time.Duration) taken {
	s.mu.Lock()
	now := s.now()
	d := s.dest(name, now)
	if !probe && d.circuit.state != circuitClosed {
		s.mu.Unlock()
		return stopped
	}
	if s.inflight < s.capacity && s.waiting == 0 && d.below() {
		s.start(d, now)
		s.mu.Unlock()
		return gotSlot
	}
	// In line, and given a slot at once if one is free and no job that
	// comes first may take it (the jobs waiting may all be of
	// destinations at their limits).
	s.turn++
	w := &waiter{ready: make(chan struct{}), turn: s.turn, probe: probe}
	d.waiters = append(d.waiters, w)
	s.waiting++
	s.handOff(now)
	s.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-w.ready:
		return w.got
	case <-ctx.Done():
	case <-t.C:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(d.waiters, w)
	if i < 0 {
		return w.got // answered meanwhile
	}
	d.waiters = slices.Delete(d.waiters, i, i+1)
	s.waiting--
	return noSlot
}

// below reports whether d has fewer attempts in flight than its limit.
func (d *destSlots) below() bool { return float64(d.inflight) < max(d.limit, 1) }

// handOff answers waiting jobs: those of destinations now paused or
// disabled are stopped, and free slots go each to the destination below
// its limit with the fewest attempts in flight, the oldest job first.
func (s *slots) handOff(now time.Time) {
	if s.waiting == 0 {
		return
	}
	for _, d := range s.dests {
		if d.circuit.state == circuitClosed || len(d.waiters) == 0 {
			continue
		}
		kept := d.waiters[:0]
		for _, w := range d.waiters {
			if w.probe {
				kept = append(kept, w)
				continue
			}
			s.waiting--
			w.got = stopped
			close(w.ready)
		}
		d.waiters = kept
	}
	for s.inflight < s.capacity && s.waiting > 0 {
		var next *destSlots
		for _, d := range s.dests {
			if len(d.waiters) == 0 || !d.below() {
				continue
			}
			if next == nil || d.inflight < next.inflight ||
				d.inflight == next.inflight && d.waiters[0].turn < next.waiters[0].turn {
				next = d
			}
		}
		if next == nil {
			return // every waiting job's destination is at its limit
		}
		w := next.waiters[0]
		next.waiters = next.waiters[1:]
		s.waiting--
		s.start(next, now)
		w.got = gotSlot
		close(w.ready)
	}
}

// done ends an admitted job: slot says whether it took a slot, v what its
// attempt said of the destination (neutral when none was made), start and
// took when it began and how long it took. It reports whether the
// destination's state changed.
func (s *slots) done(name string, slot bool, v verdict, start time.Time, took time.Duration) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dest(name, now)
	d.reserved--
	if d.reserved == 0 {
		s.active--
	}
	if slot {
		d.inflight--
		s.inflight--
	}
	d.progress = now
	defer func() {
		// After the limit has changed.
		s.handOff(now)
		s.admitQueued(now)
	}()
	switch v {
	case answered:
		d.limit = min(d.limit+1, float64(s.capacity))
		if d.limit >= float64(s.capacity) {
			d.slowed = false
		}
		d.streak = 0
		d.ok++
	case failing, throttled:
		if !start.Before(d.cutAt) {
			d.limit = max(1, d.limit/2)
			d.cutAt, d.slowed = now, true
		}
		d.failed++
		if v != failing {
			break
		}
		d.streak++
		d.unrecorded++
		if d.circuit.state == circuitClosed && max(d.streak, d.circuit.failures+1) >= s.circuit.failures() {
			// The failure that pauses the destination is recorded just
			// after: meanwhile, no other attempt starts. The log's row
			// written since has the last word.
			d.circuit.state, d.circuit.guessed = circuitOpen, now
			d.circuit.pausedUntil = now.Add(s.circuit.cooldown())
		}
	default:
		_, changed := s.changed(d)
		return changed
	}
	d.spent += took
	if d.latency == 0 {
		d.latency = took
	} else {
		d.latency += (took - d.latency) / 5
	}
	_, changed := s.changed(d)
	return changed
}

// state is how d stands for this worker.
func (d *destSlots) state() DestinationState {
	switch {
	case d.circuit.state == circuitDisabled:
		return DestinationDisabled
	case d.circuit.state == circuitOpen:
		return DestinationPaused
	case d.slowed:
		return DestinationSlowed
	}
	return DestinationHealthy
}

// changed reports d's state if it differs from the one last reported, or
// if d is paused until another time.
func (s *slots) changed(d *destSlots) (DestinationState, bool) {
	st := d.state()
	if !d.circuit.guessed.IsZero() {
		return st, false // told once the log says
	}
	until := time.Time{}
	if st == DestinationPaused {
		until = d.circuit.pausedUntil
	}
	if st == d.reported && until.Equal(d.reportedUntil) {
		return st, false
	}
	d.reported, d.reportedUntil = st, until
	return st, true
}

// setCircuits takes the circuits of rows as the log holds them. With all,
// rows are every destination whose circuit is not closed or that is
// failing, and the others are taken to be closed and not failing. It
// returns the destinations whose state changed.
func (s *slots) setCircuits(rows []*destRow, all bool) []Destination {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool, len(rows))
	var changed []Destination
	for _, row := range rows {
		seen[row.Name] = true
		d := s.dests[row.Name]
		if d == nil {
			if row.Circuit == circuitClosed {
				continue // nothing to know before its first job
			}
			d = s.dest(row.Name, now)
		}
		if d.keepGuess(row, now) {
			continue
		}
		d.circuit = circuitView{
			state:         row.Circuit,
			failures:      row.Failures,
			pausedUntil:   fromMicros(row.PausedUntil),
			probeDelivery: row.ProbeDelivery,
			probeUntil:    fromMicros(row.ProbeUntil),
			cooldown:      time.Duration(row.Cooldown),
			lastClass:     row.LastClass,
			lastStatus:    row.LastStatus,
		}
		if _, ok := s.changed(d); ok {
			changed = append(changed, s.view(row.Name, d))
		}
	}
	defer s.handOff(now) // stops the jobs waiting for a destination now paused
	if !all {
		return changed
	}
	for name, d := range s.dests {
		if seen[name] {
			continue
		}
		if d.keepGuess(nil, now) {
			continue
		}
		d.circuit = circuitView{state: circuitClosed}
		if _, ok := s.changed(d); ok {
			changed = append(changed, s.view(name, d))
		}
		if d.reserved == 0 && len(d.queue) == 0 && d.ok == 0 && d.failed == 0 && now.Sub(d.lastUsed) > forgetAfter {
			delete(s.dests, name) // a worker keeps no destination it no longer sends to
		}
	}
	return changed
}

// keepGuess reports whether d's circuit, which the worker took to be
// open, stays so whatever row (nil: none) says: the log has not recorded
// every failure the worker saw yet, or row was written before the guess.
// A guess lasts guessFor at most.
func (d *destSlots) keepGuess(row *destRow, now time.Time) bool {
	g := d.circuit.guessed
	if g.IsZero() || now.Sub(g) >= guessFor {
		return false
	}
	return d.unrecorded > 0 || row == nil || row.UpdatedAt < toMicros(g)
}

// recorded notes that the failing attempts among ops are in the log.
func (s *slots) recorded(ops []*finishOp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
		if verdictOf(op.attempt) != failing {
			continue
		}
		if d := s.dests[op.counted]; d != nil && d.unrecorded > 0 {
			d.unrecorded--
		}
	}
}

// forgetAfter is how long a worker remembers a destination it does not
// send to.
const forgetAfter = 10 * time.Minute

// failing reports whether the log last said that the destination's
// circuit is open or that it is failing: a success must then be written.
func (s *slots) failing(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dests[name]
	return d != nil && (d.circuit.state != circuitClosed || d.circuit.failures > 0)
}

// view describes d as OnDestination is told.
func (s *slots) view(name string, d *destSlots) Destination {
	v := Destination{
		Destination: name,
		State:       d.state(),
		Failures:    d.circuit.failures,
		LastClass:   d.circuit.lastClass,
		LastStatus:  d.circuit.lastStatus,
	}
	switch v.State {
	case DestinationPaused:
		v.PausedUntil, v.Cooldown = d.circuit.pausedUntil, d.circuit.cooldown
	case DestinationSlowed:
		v.Slots = max(1, int(d.limit))
	}
	return v
}

// describe returns name as OnDestination is told.
func (s *slots) describe(name string) Destination {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view(name, s.dest(name, s.now()))
}

// counts is what a worker writes to the log about a destination's recent
// attempts.
type counts struct {
	ok, failed int64
	spent      time.Duration
	slots      int // while slowed
}

// takeCounts returns the attempts counted since the last call, by
// destination, and the limits of the slowed ones.
func (s *slots) takeCounts() map[string]counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]counts)
	for name, d := range s.dests {
		if d.ok == 0 && d.failed == 0 && !d.slowed {
			continue
		}
		c := counts{ok: d.ok, failed: d.failed, spent: d.spent}
		if d.slowed {
			c.slots = max(1, int(d.limit))
		}
		out[name] = c
		d.ok, d.failed, d.spent = 0, 0, 0
	}
	return out
}

// intake is how many held deliveries of name a worker queues again per
// poll interval every: about twice what its slots for the destination
// send in that time, at least a worker's slots and at most unparkMax.
func (s *slots) intake(name string, every time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit, latency := s.initial, time.Duration(0)
	if d := s.dests[name]; d != nil {
		limit, latency = max(d.limit, 1), d.latency
	}
	latency = max(latency, holdMin)
	n := int(2 * limit * float64(every) / float64(latency))
	return min(max(n, s.capacity), unparkMax)
}
