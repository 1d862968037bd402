package delivery

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWorkerProcessesShareTheWork runs two worker processes on one
// PostgreSQL database: they share 1,000 deliveries and none is delivered
// twice. The receiver answers once both have started, so that the first
// cannot have sent everything before the second was there.
func TestWorkerProcessesShareTheWork(t *testing.T) {
	t.Parallel()
	q, dsn := openPostgresTest(t)
	ctx := context.Background()
	delivered := map[string]int{}
	started := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		<-started
		io.WriteString(w, `{"id": "lead-`+itoa(n)+`"}`)
	})
	action := testAction(t, rc.URL, webhook.SendingAutomatic)
	const n = 1000
	for i := range n {
		mustEnqueue(t, q, action, customer("p"+itoa(i)+"@example.com"), nil)
	}

	cfg := helperConfig{DSN: dsn, UntilIdle: true, Retries: 3, Timeout: 0, Rescue: 0}
	a, b := startWorker(t, cfg), startWorker(t, cfg)
	close(started)
	byA, byB := a.wait(t, time.Minute), b.wait(t, time.Minute)
	assert.Equal(t, n, byA+byB, "attempts made by the two processes")
	assert.Positive(t, byA, "the first process made no attempt")
	assert.Positive(t, byB, "the second process made no attempt")

	for _, r := range rc.seen() {
		delivered[r.Key]++
	}
	assert.Len(t, delivered, n)
	for k, c := range delivered {
		assert.Equal(t, 1, c, "delivery with key %s succeeded %d times", k, c)
	}
	var left int
	require.NoError(t, q.s.db().queryRow(ctx, `SELECT count(*) FROM liquidhook_delivery WHERE state <> 'delivered'`).Scan(&left))
	assert.Zero(t, left)
}
