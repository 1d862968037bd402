package delivery

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBatcherGathersAndIsolates sends many operations at once through one
// runner: they share batches, and a bad one fails alone.
func TestBatcherGathersAndIsolates(t *testing.T) {
	t.Parallel()
	errBad := errors.New("bad operation")
	var (
		mu      sync.Mutex
		batches [][]int
	)
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	b := newBatcher(1, 8, func(_ context.Context, items []int) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release // hold the first batch so that the others queue up
		mu.Lock()
		batches = append(batches, append([]int(nil), items...))
		mu.Unlock()
		for _, it := range items {
			if it == 13 {
				return errBad
			}
		}
		return nil
	})
	errs := make([]error, 40)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = b.do(0) })
	<-entered
	for i := 1; i < len(errs); i++ {
		wg.Go(func() { errs[i] = b.do(i) })
	}
	time.Sleep(50 * time.Millisecond) // for the 39 to wait on the runner
	close(release)
	wg.Wait()
	b.close()

	for i, err := range errs {
		if i == 13 {
			require.ErrorIs(t, err, errBad)
			continue
		}
		require.NoError(t, err, "operation %d failed with a batch it shared", i)
	}
	done := map[int]int{}
	largest := 0
	for _, batch := range batches {
		assert.LessOrEqual(t, len(batch), 8)
		largest = max(largest, len(batch))
		for _, it := range batch {
			done[it]++
		}
	}
	assert.Len(t, done, 40)
	assert.Equal(t, 8, largest, "waiting operations share a batch")
	assert.Equal(t, 1+5+8, len(batches), "the first alone, 39 in five batches, and the bad one's batch again one by one")
	require.ErrorIs(t, b.do(1), errStopped, "a closed batcher refuses work")
}
