package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/delivery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pauseDestination queues three deliveries to the fixture's receiver,
// failing, and runs a worker (through the library, to pause after two
// failures for an hour) until all three wait for their paused
// destination, which it returns.
func pauseDestination(t *testing.T, f *queueFixture) string {
	t.Helper()
	f.mu.Lock()
	f.fail = true
	f.mu.Unlock()
	for range 3 {
		f.add(t, f.action)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q, err := delivery.Open(ctx, f.db)
	require.NoError(t, err)
	defer q.Close()
	paused := make(chan string, 1)
	w := &delivery.Worker{
		Sender: &webhook.Sender{AllowPrivate: true, RetryPolicy: webhook.RetryFunc(func(webhook.Attempt) (time.Duration, bool) {
			return time.Millisecond, true
		})},
		Concurrency:  1,
		PollInterval: 20 * time.Millisecond,
		Circuit:      delivery.Circuit{Failures: 2, Cooldown: time.Hour},
		OnDestination: func(d delivery.Destination) {
			if d.State == delivery.DestinationPaused {
				select {
				case paused <- d.Destination:
				default:
				}
			}
		},
	}
	worked := make(chan error, 1)
	go func() { worked <- q.Work(ctx, w) }()
	dest := <-paused
	for {
		ds, err := q.Destinations(ctx)
		require.NoError(t, err)
		if len(ds) == 1 && ds[0].Waiting == 3 {
			break
		}
		require.NoError(t, ctx.Err(), "the deliveries were not all held")
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	require.NoError(t, <-worked)
	return dest
}

func TestQueueDestinationsAndResume(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)

	code, stdout, stderr := runCLI(t, "queue", "destinations", "--json", "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "[]\n", stdout)

	dest := pauseDestination(t, f)
	assert.True(t, strings.HasPrefix(dest, "http://127.0.0.1:"), dest)

	code, stdout, stderr = runCLI(t, "queue", "destinations", "--json", "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	var ds []struct {
		Destination string  `json:"destination"`
		State       string  `json:"state"`
		Attempts    int     `json:"attempts"`
		SuccessRate float64 `json:"success_rate"`
		Latency     int64   `json:"latency"`
		Failures    int     `json:"failures"`
		LastStatus  int     `json:"last_status"`
		PausedUntil string  `json:"paused_until"`
		Waiting     int     `json:"waiting"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &ds), stdout)
	require.Len(t, ds, 1)
	assert.Equal(t, dest, ds[0].Destination)
	assert.Equal(t, "paused", ds[0].State)
	assert.Equal(t, 2, ds[0].Attempts)
	assert.Zero(t, ds[0].SuccessRate)
	assert.Positive(t, ds[0].Latency)
	assert.Equal(t, 2, ds[0].Failures)
	assert.Equal(t, 500, ds[0].LastStatus)
	assert.NotEmpty(t, ds[0].PausedUntil)
	assert.Equal(t, 3, ds[0].Waiting)

	code, stdout, stderr = runCLI(t, "queue", "destinations", "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "DESTINATION")
	assert.Regexp(t, `(?m)^`+dest+` +paused +0% +\S+ +2 +3 +probe at \S+; 2 failures in a row \(500\)$`, stdout)

	code, stdout, stderr = runCLI(t, "queue", "show", "3", "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "destination:      "+dest)
	assert.Regexp(t, `waiting: +its destination is paused until \S+, when a probe is sent`, stdout)
	shown := struct {
		Waiting struct {
			Reason string `json:"reason"`
			Until  string `json:"until"`
		} `json:"waiting"`
	}{}
	code, stdout, stderr = runCLI(t, "queue", "show", "3", "--json", "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	require.NoError(t, json.Unmarshal([]byte(stdout), &shown))
	assert.Equal(t, "paused", shown.Waiting.Reason)
	assert.NotEmpty(t, shown.Waiting.Until)

	for _, unknown := range []string{"https://nowhere.example.com:443", "not-a-destination"} {
		code, stdout, stderr = runCLI(t, "queue", "resume", unknown, "--db", f.db)
		assert.Equal(t, exitBadInput, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "unknown destination")
	}
	code, _, stderr = runCLI(t, "queue", "resume", "--db", f.db)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "resume needs a destination")

	code, stdout, stderr = runCLI(t, "queue", "resume", dest, "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, dest+" healthy\n", stdout)

	f.mu.Lock()
	f.fail = false
	f.mu.Unlock()
	f.work(t)
	for _, d := range listed(t, f.db) {
		assert.Equal(t, "delivered", d.State)
	}
}

// watchWriter is a writer for a command's standard error, safe for
// concurrent writes, that closes seen once what it holds contains want.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) && w.seen != nil {
		close(w.seen)
		w.seen = nil
	}
	return n, err
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestQueueWorkSaysWhenADestinationIsPaused(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	f.fail = true
	var emails []string
	for i := range 10 {
		emails = append(emails, "p"+strconv.Itoa(i)+"@example.com")
	}
	code, _, stderr := runCLI(t, "queue", "add", "--action", f.action, "--data",
		writeFile(t, t.TempDir(), "people.jsonl", lines(emails...)), "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	seen := make(chan struct{})
	out := &watchWriter{want: "paused until", seen: seen}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: out,
		getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, e, []string{"queue", "work", "--allow-private", "--retries", "50", "--backoff", "1ms", "--db", f.db})
	}()
	select {
	case <-seen:
	case <-ctx.Done():
		t.Fatalf("no pause was reported: %s", out)
	}
	cancel()
	assert.Equal(t, exitOK, <-done)
	assert.Regexp(t, `destination http://127\.0\.0\.1:\d+ paused until \S+ after 10 failures in a row \(500\)`, out.String())
	assert.Len(t, f.seen(), 10, "ten failures in a row, then nothing")
}
