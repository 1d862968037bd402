package delivery

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/require"
)

// envPostgres names the variable that switches the PostgreSQL tests on.
const envPostgres = "LIQUIDHOOK_TEST_POSTGRES"

// backend opens a fresh, empty Queue for one test.
type backend struct {
	name string
	open func(t testing.TB) (q *Queue, dsn string)
}

var backends = []backend{
	{"sqlite", openSQLiteTest},
	{"postgres", openPostgresTest},
}

// forEachBackend runs fn as a parallel subtest on each database.
func forEachBackend(t *testing.T, fn func(t *testing.T, q *Queue)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			q, _ := b.open(t)
			fn(t, q)
		})
	}
}

func openSQLiteTest(t testing.TB) (*Queue, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "deliveries.db")
	q, err := OpenSQLite(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })
	return q, path
}

// postgresTestURL returns a URL whose search_path is a new schema, dropped
// when the test ends, so tests and other packages sharing the server never
// see each other's rows. Without LIQUIDHOOK_TEST_POSTGRES the test skips;
// with it set and the server unreachable, it fails.
func postgresTestURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(envPostgres)
	if base == "" {
		t.Skip(envPostgres + " is unset: skipping the PostgreSQL test (set it to a postgres:// URL to run it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err, "%s is set but the server is unreachable", envPostgres)
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "liquidhook_test_" + hex.EncodeToString(b[:])
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	qs := u.Query()
	qs.Set("search_path", schema)
	if !qs.Has("pool_max_conns") {
		qs.Set("pool_max_conns", "8")
	}
	u.RawQuery = qs.Encode()
	return u.String()
}

func openPostgresTest(t testing.TB) (*Queue, string) {
	t.Helper()
	dsn := postgresTestURL(t)
	q, err := OpenPostgres(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })
	return q, dsn
}

// request is one request a receiver saw.
type request struct {
	Key  string
	Body string
	At   time.Time
}

// receiver is a local webhook receiver that records every request and
// answers with respond (200 {"id": "lead-<n>"} by default).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	respond  func(w http.ResponseWriter, r *http.Request, n int)
	// conns counts the connections accepted.
	conns atomic.Int64
}

func newReceiver(t testing.TB, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body)) // for respond
		rc.mu.Lock()
		rc.requests = append(rc.requests, request{Key: r.Header.Get(webhook.HeaderIdempotencyKey), Body: string(body), At: time.Now()})
		n := len(rc.requests)
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(w, r, n)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id": "lead-`+strconv.Itoa(n)+`"}`)
	}))
	rc.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			rc.conns.Add(1)
		}
	}
	rc.Start()
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) seen() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.requests...)
}

// testAction compiles a JSON webhook to url that sends the customer's email
// and maps the response's id.
func testAction(t testing.TB, url string, sending webhook.Sending) *webhook.Action {
	t.Helper()
	a, err := webhook.Compile(webhook.Spec{
		URL:      url + "/hook",
		Body:     `{"email": "{{ customer.email }}"}`,
		Response: map[string]string{"lead_id": "{{ response.id }}"},
		Sending:  sending,
	})
	require.NoError(t, err)
	return a
}

// mustEnqueue queues a delivery, failing the test if Enqueue fails.
func mustEnqueue(t testing.TB, q *Queue, action *webhook.Action, data map[string]any, opts *EnqueueOptions) *Delivery {
	t.Helper()
	d, err := q.Enqueue(context.Background(), action, data, opts)
	require.NoError(t, err)
	return d
}

// enqueueOne queues the tests' usual delivery: testAction to url, sent
// automatically, for a@example.com.
func enqueueOne(t testing.TB, q *Queue, url string) *Delivery {
	t.Helper()
	return mustEnqueue(t, q, testAction(t, url, webhook.SendingAutomatic), customer("a@example.com"), nil)
}

// mustGet returns the delivery with id, failing the test if Get fails.
func mustGet(t testing.TB, q *Queue, id int64) *Delivery {
	t.Helper()
	d, err := q.Get(context.Background(), id)
	require.NoError(t, err)
	return d
}

func customer(email string) map[string]any {
	return map[string]any{"customer": map[string]any{"email": email}}
}

// fastPolicy retries what the core's Retryable retries, up to retries
// times, after a few milliseconds.
func fastPolicy(retries int) webhook.RetryPolicy {
	return webhook.RetryFunc(func(a webhook.Attempt) (time.Duration, bool) {
		if !webhook.Retryable(a) || a.Number > retries {
			return 0, false
		}
		return 5 * time.Millisecond, true
	})
}

// testWorker returns a Worker for a local receiver with a fast policy.
func testWorker(retries int) *Worker {
	return &Worker{
		Sender:   &webhook.Sender{AllowPrivate: true, RetryPolicy: fastPolicy(retries), Timeout: 2 * time.Second},
		testOnly: true,
	}
}

// workUntilIdle runs w until idle, failing the test after a minute.
func workUntilIdle(t testing.TB, q *Queue, w *Worker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, q.WorkUntilIdle(ctx, w))
	require.NoError(t, ctx.Err(), "the queue did not become idle")
}

func itoa(n int) string { return strconv.Itoa(n) }

// heardAttempts records what a Worker's OnAttempt is told.
type heardAttempts struct {
	mu         sync.Mutex
	deliveries []*Delivery
	attempts   []Attempt
}

func (h *heardAttempts) onAttempt(d *Delivery, a Attempt) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliveries, h.attempts = append(h.deliveries, d), append(h.attempts, a)
}

// get returns what OnAttempt was told so far.
func (h *heardAttempts) get() ([]*Delivery, []Attempt) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.deliveries), slices.Clone(h.attempts)
}

// testClock is a Queue's clock that a test moves forward.
type testClock struct {
	offset atomic.Int64
}

// use makes q read the time from c.
func (c *testClock) use(q *Queue) { q.now = c.now }

func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// advance moves the clock forward by d.
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// blockingReceiver is a receiver whose handler blocks until released (or
// the request ends), counting the requests in flight at once.
type blockingReceiver struct {
	*receiver
	release     chan struct{}
	inflight    atomic.Int32
	maxInflight atomic.Int32
}

func newBlockingReceiver(t testing.TB) *blockingReceiver {
	t.Helper()
	br := &blockingReceiver{release: make(chan struct{})}
	br.receiver = newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		cur := br.inflight.Add(1)
		defer br.inflight.Add(-1)
		for {
			m := br.maxInflight.Load()
			if cur <= m || br.maxInflight.CompareAndSwap(m, cur) {
				break
			}
		}
		select {
		case <-br.release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, `{"id": "lead-`+strconv.Itoa(n)+`"}`)
	})
	t.Cleanup(br.open)
	return br
}

// open lets every request through, those waiting and those to come.
func (br *blockingReceiver) open() {
	select {
	case <-br.release:
	default:
		close(br.release)
	}
}

// statusReceiver answers 503 while failing is set, and 200 otherwise.
func statusReceiver(t testing.TB, failing *atomic.Bool) *receiver {
	t.Helper()
	return newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"id": "lead-`+strconv.Itoa(n)+`"}`)
	})
}

// heldFor counts the deliveries held for dest.
func heldFor(t testing.TB, q *Queue, dest string) int {
	t.Helper()
	n, err := q.waitingByDestination(context.Background())
	require.NoError(t, err)
	return n[dest]
}

// destination returns dest as Destinations lists it.
func destination(t testing.TB, q *Queue, dest string) Destination {
	t.Helper()
	ds, err := q.Destinations(context.Background())
	require.NoError(t, err)
	for _, d := range ds {
		if d.Destination == dest {
			return d
		}
	}
	t.Fatalf("destination %s is not listed: %v", dest, ds)
	return Destination{}
}

// background is a Work or WorkUntilIdle call running in the background.
type background struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// backgroundWork runs w in the background, WorkUntilIdle with untilIdle,
// for a minute at most; it is stopped when the test ends.
func backgroundWork(t testing.TB, q *Queue, w *Worker, untilIdle bool) *background {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	b := &background{cancel: cancel, done: make(chan error, 1)}
	go func() {
		if untilIdle {
			b.done <- q.WorkUntilIdle(ctx, w)
		} else {
			b.done <- q.Work(ctx, w)
		}
	}()
	t.Cleanup(func() { _ = b.stop() })
	return b
}

// wait waits for the call to return by itself (idle, or after a minute).
func (b *background) wait() error {
	b.once.Do(func() {
		b.err = <-b.done
		b.cancel()
	})
	return b.err
}

// stop stops the call and waits for it to return.
func (b *background) stop() error {
	b.cancel()
	return b.wait()
}
