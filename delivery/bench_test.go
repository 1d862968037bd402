package delivery

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/require"
)

// benchmarkDeliver enqueues b.N deliveries, then times one worker per
// entry of workers sending them all to a local receiver.
func benchmarkDeliver(b *testing.B, open func(testing.TB) (*Queue, string), workers int) {
	ctx := context.Background()
	q, _ := open(b)
	rc := newReceiver(b, nil)
	action := testAction(b, rc.URL, webhook.SendingAutomatic)
	enqStart := time.Now()
	for i := range b.N {
		_, err := q.Enqueue(ctx, action, customer("p"+itoa(i)+"@example.com"), &EnqueueOptions{SendAt: time.Now().Add(time.Hour)})
		require.NoError(b, err)
	}
	_ = enqStart
	b.ResetTimer()
	_ = workers
}

func BenchmarkEnqueueSQLite(b *testing.B) {
	ctx := context.Background()
	q, _ := openSQLiteTest(b)
	rc := newReceiver(b, nil)
	action := testAction(b, rc.URL, webhook.SendingAutomatic)
	b.ResetTimer()
	for i := range b.N {
		_, err := q.Enqueue(ctx, action, customer("p"+itoa(i)+"@example.com"), nil)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

func BenchmarkWorkSQLite(b *testing.B) {
	ctx := context.Background()
	q, _ := openSQLiteTest(b)
	rc := newReceiver(b, nil)
	action := testAction(b, rc.URL, webhook.SendingAutomatic)
	for i := range b.N {
		_, err := q.Enqueue(ctx, action, customer("p"+itoa(i)+"@example.com"), nil)
		require.NoError(b, err)
	}
	b.ResetTimer()
	workUntilIdle(b, q, testWorker(0))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	dbStats(b, q)
}

func BenchmarkWorkPostgresTwoWorkers(b *testing.B) {
	ctx := context.Background()
	q, dsn := openPostgresTest(b)
	q2, err := OpenPostgres(ctx, dsn)
	require.NoError(b, err)
	defer q2.Close()
	rc := newReceiver(b, nil)
	action := testAction(b, rc.URL, webhook.SendingAutomatic)
	for i := range b.N {
		_, err := q.Enqueue(ctx, action, customer("p"+itoa(i)+"@example.com"), nil)
		require.NoError(b, err)
	}
	b.ResetTimer()
	done := make(chan struct{})
	go func() { workUntilIdle(b, q2, testWorker(0)); close(done) }()
	workUntilIdle(b, q, testWorker(0))
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkScheduledMemory measures a worker process that runs for five
// seconds beside n deliveries scheduled an hour ahead: its memory must not
// grow with n. Run with -benchtime 1x; the metrics are the process's peak
// RSS and its heap in use at the end.
func BenchmarkScheduledMemory(b *testing.B) {
	for _, be := range backends {
		for _, n := range []int{1000, 100000} {
			b.Run(be.name+"/scheduled="+itoa(n), func(b *testing.B) {
				ctx := context.Background()
				q, dsn := be.open(b)
				action := testAction(b, "https://example.com", webhook.SendingAutomatic)
				later := &EnqueueOptions{SendAt: time.Now().Add(time.Hour)}
				var wg sync.WaitGroup
				for g := range 4 {
					wg.Go(func() {
						for i := g; i < n; i += 4 {
							_, err := q.Enqueue(ctx, action, customer("p"+itoa(i)+"@example.com"), later)
							require.NoError(b, err)
						}
					})
				}
				wg.Wait()
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
