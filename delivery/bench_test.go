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
	"github.com/stretchr/testify/require"
)

// BenchmarkDeliver sends b.N deliveries to a local receiver, one op per
// delivery, and reports deliveries per second:
//
//   - via=direct is the baseline: Sender.Send from 100 goroutines, nothing
//     stored.
//   - via=sqlite: deliveries queued beforehand (untimed) on SQLite, sent by
//     one worker until idle.
//   - via=postgres-2: the same on PostgreSQL with two workers, each with its
//     own pool and River client, as two processes would have.
//   - via=postgres-2-processes: two worker processes, their startup timed
//     too.
//
// deliveries/s is b.N over the whole timed run, which includes a fixed
// cost per run: starting River's clients, dialing the receiver, ramping up,
// and noticing the end (WorkUntilIdle looks every 100 ms) before stopping.
// steady-deliveries/s leaves that out: it is the rate at which the
// receiver saw the middle 80% of the deliveries arrive.
//
// Run with -benchtime 10000x; compare with benchstat -col /via.
func BenchmarkDeliver(b *testing.B) {
	b.Run("via=direct", func(b *testing.B) {
		rc := newReceiver(b, nil)
		action := testAction(b, rc.URL, webhook.SendingAutomatic)
		w := testWorker(0)
		r, err := newRunner(nil, w)
		require.NoError(b, err)
		type rendered struct {
			req    *webhook.Request
			mapper webhook.ResponseMapper
		}
		reqs := make(chan rendered, b.N)
		for i := range b.N {
			data := customer("p" + itoa(i) + "@example.com")
			req, err := action.Render(data)
			require.NoError(b, err)
			reqs <- rendered{req, action.Mapper(data)}
		}
		close(reqs)
		b.ReportAllocs()
		b.ResetTimer()
		var wg sync.WaitGroup
		for range defaultConcurrency {
			wg.Go(func() {
				for rd := range reqs {
					res, err := r.sender.Send(context.Background(), rd.req, rd.mapper)
					if err != nil || !res.Delivered() {
						b.Error("not delivered", err)
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		reportRates(b, rc)
	})
	b.Run("via=sqlite", func(b *testing.B) {
		q, dsn := openSQLiteTest(b)
		benchmarkWork(b, q, dsn, 1)
	})
	b.Run("via=sqlite-sealed", func(b *testing.B) {
		// The same with a key: spec and data opened for each attempt, its
		// error, response and attributes sealed.
		q, dsn := openSQLiteTest(b)
		q.Keys = [][]byte{keyA}
		benchmarkWork(b, q, dsn, 1)
	})
	b.Run("via=postgres-2", func(b *testing.B) {
		q, dsn := openPostgresTest(b)
		benchmarkWork(b, q, dsn, 2)
	})
	b.Run("via=postgres-2-processes", func(b *testing.B) {
		// Two worker processes, timed from their start (startup included)
		// until both have exited idle.
		q, dsn := openPostgresTest(b)
		rc := newReceiver(b, nil)
		enqueueMany(b, q, testAction(b, rc.URL, webhook.SendingAutomatic), b.N, nil)
		b.ResetTimer()
		cfg := helperConfig{DSN: dsn, UntilIdle: true}
		p1, p2 := startWorker(b, cfg), startWorker(b, cfg)
		n := p1.wait(b, 10*time.Minute) + p2.wait(b, 10*time.Minute)
		b.StopTimer()
		require.Equal(b, b.N, n)
		reportRates(b, rc)
	})
}

// benchmarkWork queues b.N deliveries, then times workers sending them.
func benchmarkWork(b *testing.B, q *Queue, dsn string, workers int) {
	ctx := context.Background()
	rc := newReceiver(b, nil)
	action := testAction(b, rc.URL, webhook.SendingAutomatic)
	enqueueMany(b, q, action, b.N, nil)
	queues := []*Queue{q}
	for range workers - 1 {
		// Another pool and River client on the same database.
		other, err := Open(ctx, dsn)
		require.NoError(b, err)
		b.Cleanup(func() { other.Close() })
		queues = append(queues, other)
	}
	b.ReportAllocs()
	conns := rc.conns.Load()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, wq := range queues {
		wg.Go(func() { workUntilIdle(b, wq, testWorker(0)) })
	}
	wg.Wait()
	b.StopTimer()
	reportRates(b, rc)
	b.ReportMetric(float64(rc.conns.Load()-conns)*1000/float64(b.N), "newconns/1000")
	require.Len(b, rc.seen(), b.N)
}

// reportRates reports deliveries/s over the timed run, and
// steady-deliveries/s: the rate of the middle 80% of the arrivals at rc,
// without the run's start and end.
func reportRates(b *testing.B, rc *receiver) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	seen := rc.seen()
	lo, hi := len(seen)/10, len(seen)*9/10
	if hi-lo < 100 {
		return // too few for a rate
	}
	if d := seen[hi].At.Sub(seen[lo].At); d > 0 {
		b.ReportMetric(float64(hi-lo)/d.Seconds(), "steady-deliveries/s")
	}
}

// enqueueMany queues n deliveries from four goroutines.
func enqueueMany(b testing.TB, q *Queue, action *webhook.Action, n int, opts *EnqueueOptions) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				_, err := q.Enqueue(context.Background(), action, customer("p"+itoa(i)+"@example.com"), opts)
				require.NoError(b, err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkEnqueue queues one automatic delivery per op, from one
// goroutine: a transaction with the delivery and its River job.
// With keys=1 the delivery's spec and data are sealed.
func BenchmarkEnqueue(b *testing.B) {
	for _, be := range backends {
		for _, keys := range [][][]byte{nil, {keyA}} {
			b.Run("db="+be.name+"/keys="+itoa(len(keys)), func(b *testing.B) {
				ctx := context.Background()
				q, _ := be.open(b)
				q.Keys = keys
				action := testAction(b, "https://example.com", webhook.SendingAutomatic)
				data := customer("ada@example.com")
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					_, err := q.Enqueue(ctx, action, data, nil)
					require.NoError(b, err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			})
		}
	}
}

// BenchmarkScheduledMemory measures a worker process that runs for five
// seconds beside n deliveries scheduled an hour ahead: its memory must not
// grow with n. Run with -benchtime 1x; the metrics are the process's peak
// RSS and its heap in use at the end.
func BenchmarkScheduledMemory(b *testing.B) {
	for _, be := range backends {
		for _, n := range []int{1000, 100000} {
			b.Run("db="+be.name+"/scheduled="+itoa(n), func(b *testing.B) {
				q, dsn := be.open(b)
				action := testAction(b, "https://example.com", webhook.SendingAutomatic)
				enqueueMany(b, q, action, n, &EnqueueOptions{SendAt: time.Now().Add(time.Hour)})
				b.ResetTimer()
				for range b.N {
					p := startWorker(b, helperConfig{DSN: dsn, For: 5 * time.Second})
					p.wait(b, time.Minute)
					b.ReportMetric(float64(p.reported("peak_rss_kb"))/1024, "peak-RSS-MiB")
					b.ReportMetric(float64(p.reported("heap_inuse"))/(1<<20), "heap-MiB")
				}
			})
		}
	}
}

// BenchmarkPausedMemory measures a worker process beside n deliveries to
// a paused destination, from its start until it has made every one of
// them wait in the log: its memory must not grow with n. Run with
// -benchtime 1x; the metrics are the process's peak RSS, its heap in use
// at the end, and how long holding them took.
func BenchmarkPausedMemory(b *testing.B) {
	for _, be := range backends {
		for _, n := range []int{1000, 100000} {
			b.Run("db="+be.name+"/held="+itoa(n), func(b *testing.B) {
				ctx := context.Background()
				q, dsn := be.open(b)
				action := testAction(b, "https://paused.example.com", webhook.SendingAutomatic)
				data := make([]map[string]any, 0, 1000)
				for i := range n {
					data = append(data, customer("p"+itoa(i)+"@example.com"))
					if len(data) == cap(data) || i == n-1 {
						_, err := q.EnqueueBatch(ctx, action, data, nil)
						require.NoError(b, err)
						data = data[:0]
					}
				}
				now := time.Now()
				_, err := q.s.db().exec(ctx, `INSERT INTO liquidhook_destination
	(destination, circuit, failures, cooldown, paused_until, updated_at) VALUES (?, 'open', 10, ?, ?, ?)`,
					"https://paused.example.com:443", int64(time.Hour), toMicros(now.Add(time.Hour)), toMicros(now))
				require.NoError(b, err)
				b.ResetTimer()
				for range b.N {
					p := startWorker(b, helperConfig{DSN: dsn, Held: n})
					p.wait(b, 10*time.Minute)
					b.ReportMetric(float64(p.reported("peak_rss_kb"))/1024, "peak-RSS-MiB")
					b.ReportMetric(float64(p.reported("heap_inuse"))/(1<<20), "heap-MiB")
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "held/s")
			})
		}
	}
}

// BenchmarkIsolation times 2,000 deliveries to a receiver that answers in
// 50 ms, from the start of one worker (concurrency 300, the default 4 s
// timeout) until the log holds all 2,000 delivered: alone, and queued
// behind 600 deliveries to a receiver that never answers. One op is one
// such run; compare the two with benchstat -col /behind.
func BenchmarkIsolation(b *testing.B) {
	for _, be := range backends {
		for _, behind := range []int{0, 600} {
			b.Run("db="+be.name+"/behind="+itoa(behind), func(b *testing.B) {
				healthy := newReceiver(b, func(w http.ResponseWriter, r *http.Request, n int) {
					time.Sleep(50 * time.Millisecond)
					io.WriteString(w, `{"id": "lead"}`)
				})
				// stalled answers only once the run has been timed, so that
				// the worker stops without waiting out its timeouts.
				var release chan struct{}
				stalled := newReceiver(b, func(w http.ResponseWriter, r *http.Request, n int) {
					select {
					case <-release:
					case <-r.Context().Done():
					}
					w.WriteHeader(http.StatusServiceUnavailable)
				})
				for range b.N {
					b.StopTimer()
					q, _ := be.open(b)
					release = make(chan struct{})
					enqueueMany(b, q, testAction(b, stalled.URL, webhook.SendingAutomatic), behind, nil)
					enqueueMany(b, q, testAction(b, healthy.URL, webhook.SendingAutomatic), 2000, nil)
					b.StartTimer()
					timeDelivered(b, q, 2000, func() { close(release) })
				}
				b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "deliveries/s")
			})
		}
	}
}

// BenchmarkLatency times 6,000 deliveries to one receiver that answers in
// 50 ms, sent by one worker at concurrency 300, from its start until the
// log holds all of them delivered. 300 slots at 50 ms allow 6,000/s
// (Little's law); fill-% is the rate reached as a share of that.
func BenchmarkLatency(b *testing.B) {
	for _, be := range backends {
		b.Run("db="+be.name, func(b *testing.B) {
			rc := newReceiver(b, func(w http.ResponseWriter, r *http.Request, n int) {
				time.Sleep(50 * time.Millisecond)
				io.WriteString(w, `{"id": "lead"}`)
			})
			for range b.N {
				b.StopTimer()
				q, _ := be.open(b)
				enqueueMany(b, q, testAction(b, rc.URL, webhook.SendingAutomatic), 6000, nil)
				b.StartTimer()
				timeDelivered(b, q, 6000, func() {})
			}
			rate := float64(6000*b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "deliveries/s")
			b.ReportMetric(100*rate/6000, "fill-%")
		})
	}
}

// timeDelivered runs one worker with the default concurrency and timeout
// until the log holds n deliveries delivered, then stops the timer, calls
// stopped and stops the worker.
func timeDelivered(b *testing.B, q *Queue, n int64, stopped func()) {
	var delivered atomic.Int64
	done := make(chan struct{})
	w := &Worker{
		Sender:   &webhook.Sender{AllowPrivate: true},
		testOnly: true,
		OnAttempt: func(d *Delivery, _ Attempt) {
			if d.State == StateDelivered && delivered.Add(1) == n {
				close(done)
			}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	worked := make(chan error, 1)
	go func() { worked <- q.Work(ctx, w) }()
	select {
	case <-done:
	case err := <-worked:
		b.Fatalf("the worker stopped early: %v", err)
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d delivered after 5 minutes", delivered.Load(), n)
	}
	b.StopTimer()
	stopped()
	cancel()
	require.NoError(b, <-worked)
}
