package delivery

import (
	"context"
	"errors"
	"sync"
	"time"
)

// batcher does, for many goroutines, what they wait on together: each
// runner takes whatever operations are waiting and does them in one
// statement or transaction, with one commit. Nothing waits to fill a
// batch: under light load a batch holds one operation; under heavy load,
// those that arrived while the previous batch ran. This group commit is
// what lets one SQLite connection, or a PostgreSQL server's commit rate,
// keep up with many attempts in flight.
type batcher[T any] struct {
	in   chan batchItem[T]
	run  func(ctx context.Context, items []T) error
	max  int
	wg   sync.WaitGroup
	stop chan struct{}
}

type batchItem[T any] struct {
	v    T
	done chan error
}

// newBatcher starts runners goroutines that run batches of at most max
// items until close.
func newBatcher[T any](runners, max int, run func(ctx context.Context, items []T) error) *batcher[T] {
	b := &batcher[T]{in: make(chan batchItem[T]), run: run, max: max, stop: make(chan struct{})}
	for range runners {
		b.wg.Go(b.loop)
	}
	return b
}

// do runs v in the next batch and returns its error, or the batch's.
func (b *batcher[T]) do(v T) error {
	done := make(chan error, 1)
	select {
	case b.in <- batchItem[T]{v: v, done: done}:
	case <-b.stop:
		return errStopped
	}
	return <-done
}

// errStopped is returned to a job still running after its worker stopped
// (after a hard stop): River runs the job again later.
var errStopped = errors.New("delivery: the worker has stopped")

// close stops the runners once no do call is waiting.
func (b *batcher[T]) close() {
	close(b.stop)
	b.wg.Wait()
}

func (b *batcher[T]) loop() {
	items := make([]batchItem[T], 0, b.max)
	vs := make([]T, 0, b.max)
	for {
		items, vs = items[:0], vs[:0]
		select {
		case it := <-b.in:
			items = append(items, it)
		case <-b.stop:
			return
		}
	gather:
		for len(items) < b.max {
			select {
			case it := <-b.in:
				items = append(items, it)
			default:
				break gather
			}
		}
		for _, it := range items {
			vs = append(vs, it.v)
		}
		err := b.runOne(vs)
		if err != nil && len(items) > 1 {
			// One bad operation must not fail the others: do each alone.
			for _, it := range items {
				it.done <- b.runOne([]T{it.v})
			}
			continue
		}
		for _, it := range items {
			it.done <- err
		}
	}
}

// batchTimeout bounds one batch. A batch's context is no caller's: an
// operation that has started is finished even if its caller gives up.
const batchTimeout = 30 * time.Second

func (b *batcher[T]) runOne(vs []T) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	return b.run(ctx, vs)
}
