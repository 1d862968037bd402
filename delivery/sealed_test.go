package delivery

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The secrets of the sealed-log tests: a password in the action's URL, an
// Authorization header, a person's data, and what the receiver answers.
const (
	secretPassword = "pw-S3CRET-9f2"
	secretAuth     = "tok-AUTH-7c1d"
	secretPerson   = "ada.personal-41@example.com"
	secretError    = "resp-ERR-77b3"
	secretResponse = "resp-VALUE-5e8a"
)

// secretAction compiles an action to url that carries every kind of secret.
func secretAction(t testing.TB, url string) *webhook.Action {
	t.Helper()
	a, err := webhook.Compile(webhook.Spec{
		URL:      strings.Replace(url, "://", "://user:"+secretPassword+"@", 1) + "/hook",
		Headers:  map[string]string{"Content-Type": "application/json", "X-Api-Key": secretAuth},
		Body:     `{"email": "{{ customer.email }}"}`,
		Response: map[string]string{"lead_id": "{{ response.id }}"},
		Sending:  webhook.SendingAutomatic,
	})
	require.NoError(t, err)
	return a
}

// secretReceiver answers the first request with 503 and a body that holds
// secretError, and the next ones with 200 and an id that holds
// secretResponse.
func secretReceiver(t testing.TB) *receiver {
	return newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "busy: "+secretError)
			return
		}
		io.WriteString(w, `{"id": "`+secretResponse+`"}`)
	})
}

// rawLog returns every byte the database holds for the log: the SQLite
// file with its -wal and -shm files, or, on PostgreSQL, every row of the
// log's and River's tables as text (bytea as hex, so a secret there would
// show as hex).
func rawLog(t *testing.T, backend, dsn string) []byte {
	t.Helper()
	if backend == "sqlite" {
		var all []byte
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(dsn + suffix)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			require.NoError(t, err)
			all = append(all, b...)
		}
		return all
	}
	ctx := context.Background()
	conn, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close()
	var all []byte
	for _, table := range []string{"liquidhook_delivery", "liquidhook_attempt", "river_job"} {
		rows, err := conn.Query(ctx, "SELECT t::text FROM "+table+" AS t")
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			all = append(all, s...)
		}
		require.NoError(t, rows.Err())
	}
	return all
}

// assertNoSecret checks raw for each secret, as text, hex and base64.
func assertNoSecret(t *testing.T, raw []byte, secrets ...string) {
	t.Helper()
	require.NotEmpty(t, raw)
	for _, s := range secrets {
		for _, form := range []string{s, hex.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte(s))[:len(s)]} {
			assert.False(t, bytes.Contains(raw, []byte(form)), "%q found in the database", form)
		}
	}
}

// TestSealedLogHoldsNoSecret runs a delivery with every kind of secret
// through a sealed log, reads it back whole, and searches the database's
// bytes for each secret.
func TestSealedLogHoldsNoSecret(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			q, dsn := b.open(t)
			q.Keys = [][]byte{keyA}
			rc := secretReceiver(t)
			d := mustEnqueue(t, q, secretAction(t, rc.URL), customer(secretPerson),
				&EnqueueOptions{Metadata: map[string]string{"person": "meta-readable-1"}})
			workUntilIdle(t, q, testWorker(3))

			got := mustGet(t, q, d.ID)
			require.Equal(t, StateDelivered, got.State)
			assert.Contains(t, got.Spec.URL, secretPassword)
			assert.Equal(t, secretAuth, got.Spec.Headers["X-Api-Key"])
			assert.Equal(t, secretPerson, got.Data["customer"].(map[string]any)["email"])
			assert.Equal(t, secretResponse, got.Attributes["lead_id"])
			require.Len(t, got.Attempts, 2)
			assert.Contains(t, string(got.Attempts[0].Response), secretError)
			assert.Contains(t, string(got.Attempts[1].Response), secretResponse)
			list, err := q.List(context.Background(), nil)
			require.NoError(t, err)
			require.Len(t, list, 1)
			assert.Equal(t, got.Attributes, list[0].Attributes)

			raw := rawLog(t, b.name, dsn)
			assertNoSecret(t, raw, secretPassword, secretAuth, secretPerson, secretError, secretResponse)
			// What is documented as readable is.
			assert.True(t, bytes.Contains(raw, []byte("meta-readable-1")), "metadata is not sealed")
			assert.True(t, bytes.Contains(raw, []byte(d.IdempotencyKey)), "the idempotency key is not sealed")

			// Re-sent with new data, still sealed.
			_, err = q.Resend(context.Background(), d.ID, customer("resent-"+secretPerson))
			require.NoError(t, err)
			workUntilIdle(t, q, testWorker(3))
			require.NoError(t, q.Close())
			assertNoSecret(t, rawLog(t, b.name, dsn), secretPassword, secretAuth, "resent-"+secretPerson, secretResponse)
		})
	}
}

// TestUnsealedLogHoldsSecrets is the control: without keys the same
// delivery leaves its secrets in the database, so the search above can
// find them.
func TestUnsealedLogHoldsSecrets(t *testing.T) {
	q, path := openSQLiteTest(t)
	rc := secretReceiver(t)
	mustEnqueue(t, q, secretAction(t, rc.URL), customer(secretPerson), nil)
	workUntilIdle(t, q, testWorker(3))
	raw := rawLog(t, "sqlite", path)
	for _, s := range []string{secretPassword, secretAuth, secretPerson, secretError, secretResponse} {
		assert.True(t, bytes.Contains(raw, []byte(s)), s)
	}
}

// TestSealWrongKey opens a sealed log with a wrong key and with none:
// reads fail naming the delivery, and nothing changes, a worker's attempt
// included.
func TestSealWrongKey(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sealed, dsn := b.open(t)
			sealed.Keys = [][]byte{keyA}
			rc := newReceiver(t, nil)
			draft := mustEnqueue(t, sealed, secretAction(t, rc.URL), customer(secretPerson), &EnqueueOptions{Draft: true})
			due := mustEnqueue(t, sealed, secretAction(t, rc.URL), customer(secretPerson), nil)
			before := mustGet(t, sealed, due.ID)

			for _, tc := range []struct {
				name   string
				keys   [][]byte
				errHas string
			}{
				{"wrong key", [][]byte{keyB}, "which is not among the queue's keys"},
				{"no key", nil, "and the queue has no key"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					q := reopen(t, b.name, dsn)
					q.Keys = tc.keys
					_, err := q.Get(ctx, draft.ID)
					assertSealError(t, err, draft.ID, tc.errHas)
					_, err = q.List(ctx, nil)
					assertSealError(t, err, draft.ID, tc.errHas)
					_, err = q.Resend(ctx, due.ID, nil)
					assertSealError(t, err, due.ID, tc.errHas)
					_, err = q.Resend(ctx, due.ID, customer("new@example.com"))
					assertSealError(t, err, due.ID, tc.errHas)

					// A worker with the wrong key leaves the due delivery as it
					// is, and says why in its log.
					logs := newWaitLog()
					w := testWorker(0)
					w.Logger = slog.New(logs)
					wctx, cancel := context.WithCancel(ctx)
					done := make(chan error, 1)
					go func() { done <- q.Work(wctx, w) }()
					logs.waitFor(t, tc.errHas)
					cancel()
					require.NoError(t, <-done)
					assert.Empty(t, rc.seen(), "nothing was sent")

					after := mustGet(t, sealed, due.ID)
					assert.Equal(t, before.State, after.State)
					assert.Equal(t, before.UpdatedAt, after.UpdatedAt)
					assert.Empty(t, after.Attempts)
				})
			}
		})
	}
}

func assertSealError(t *testing.T, err error, id int64, errHas string) {
	t.Helper()
	require.ErrorIs(t, err, ErrSealed)
	var se *SealError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, id, se.ID)
	assert.Contains(t, err.Error(), errHas)
	assert.Contains(t, err.Error(), "delivery "+itoa(int(id)))
	for _, s := range []string{secretPassword, secretPerson, b64(keyA), b64(keyB)} {
		assert.NotContains(t, err.Error(), s)
	}
}

// reopen opens another Queue on the database of a test's backend.
func reopen(t *testing.T, backend, dsn string) *Queue {
	t.Helper()
	var (
		q   *Queue
		err error
	)
	if backend == "sqlite" {
		q, err = OpenSQLite(context.Background(), dsn)
	} else {
		q, err = OpenPostgres(context.Background(), dsn)
	}
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })
	return q
}

// waitLog is a slog.Handler that keeps every record's text and lets a test
// wait for one that holds a given text.
type waitLog struct {
	mu   *sync.Mutex
	buf  *bytes.Buffer
	text slog.Handler
	more chan struct{}
}

func newWaitLog() *waitLog {
	l := &waitLog{mu: &sync.Mutex{}, buf: &bytes.Buffer{}, more: make(chan struct{}, 1)}
	l.text = slog.NewTextHandler(l.buf, nil)
	return l
}

func (l *waitLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *waitLog) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	err := l.text.Handle(ctx, r)
	l.mu.Unlock()
	select {
	case l.more <- struct{}{}:
	default:
	}
	return err
}
func (l *waitLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &waitLog{mu: l.mu, buf: l.buf, text: l.text.WithAttrs(as), more: l.more}
}
func (l *waitLog) WithGroup(name string) slog.Handler {
	return &waitLog{mu: l.mu, buf: l.buf, text: l.text.WithGroup(name), more: l.more}
}

// waitFor waits until a record holds s, failing the test after a minute.
func (l *waitLog) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		l.mu.Lock()
		found := strings.Contains(l.buf.String(), s)
		l.mu.Unlock()
		if found {
			return
		}
		select {
		case <-l.more:
		case <-deadline:
			t.Fatalf("no log record holds %q", s)
		}
	}
}

// TestSealRotation seals with A, opens with B then A, re-keys to B, and
// opens with B alone.
func TestSealRotation(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			qa, dsn := b.open(t)
			qa.Keys = [][]byte{keyA}
			rc := secretReceiver(t)
			delivered := mustEnqueue(t, qa, secretAction(t, rc.URL), customer(secretPerson), nil)
			workUntilIdle(t, qa, testWorker(3))
			draft := mustEnqueue(t, qa, secretAction(t, rc.URL), customer(secretPerson), &EnqueueOptions{Draft: true})
			want := []*Delivery{mustGet(t, qa, delivered.ID), mustGet(t, qa, draft.ID)}
			require.NoError(t, qa.Close())

			qba := reopen(t, b.name, dsn)
			qba.Keys = [][]byte{keyB, keyA}
			for _, d := range want {
				assert.Equal(t, d, mustGet(t, qba, d.ID), "B,A opens what A sealed")
			}
			n, err := qba.Rekey(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(2), n)
			n, err = qba.Rekey(ctx)
			require.NoError(t, err)
			assert.Zero(t, n, "already sealed with B")

			qb := reopen(t, b.name, dsn)
			qb.Keys = [][]byte{keyB}
			for _, d := range want {
				assert.Equal(t, d, mustGet(t, qb, d.ID), "B alone opens it all")
			}
			qa2 := reopen(t, b.name, dsn)
			qa2.Keys = [][]byte{keyA}
			_, err = qa2.Get(ctx, draft.ID)
			assertSealError(t, err, draft.ID, "key "+keyID(keyB))

			// Rekey with keys that do not open the log changes nothing.
			qc := reopen(t, b.name, dsn)
			qc.Keys = [][]byte{keyC, keyA}
			_, err = qc.Rekey(ctx)
			require.ErrorIs(t, err, ErrSealed)
			assert.Equal(t, want[0], mustGet(t, qb, delivered.ID))
		})
	}
}

// TestSealPlainThenRekey: a log written without keys reads the same with
// them, and Rekey seals it.
func TestSealPlainThenRekey(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			q, dsn := b.open(t)
			rc := secretReceiver(t)
			d := mustEnqueue(t, q, secretAction(t, rc.URL), customer(secretPerson), nil)
			workUntilIdle(t, q, testWorker(3))
			want := mustGet(t, q, d.ID)

			qa := reopen(t, b.name, dsn)
			qa.Keys = [][]byte{keyA}
			assert.Equal(t, want, mustGet(t, qa, d.ID))
			n, err := qa.Rekey(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(1), n)
			assert.Equal(t, want, mustGet(t, qa, d.ID))
			_, err = q.Get(ctx, d.ID)
			assertSealError(t, err, d.ID, "and the queue has no key")

			_, err = q.Rekey(ctx)
			require.ErrorIs(t, err, ErrSealKey, "no key to seal with")
		})
	}
}

// TestSealBoundToItsPlace moves sealed values between deliveries and
// fields, in the database: none opens where it was moved.
func TestSealBoundToItsPlace(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			q, _ := b.open(t)
			q.Keys = [][]byte{keyA}
			a := mustEnqueue(t, q, testAction(t, "https://example.com", webhook.SendingDraft), customer("a@example.com"), nil)
			other := mustEnqueue(t, q, testAction(t, "https://example.com", webhook.SendingDraft), customer("b@example.com"), nil)
			for _, move := range []struct {
				name   string
				sql    string
				args   []any
				victim int64
				errHas string
			}{
				{"data from another delivery", `UPDATE liquidhook_delivery SET data = (SELECT data FROM liquidhook_delivery WHERE id = ?) WHERE id = ?`,
					[]any{other.ID, a.ID}, a.ID, "data does not open"},
				{"data into spec", `UPDATE liquidhook_delivery SET spec = data WHERE id = ?`, []any{other.ID}, other.ID, "spec does not open"},
			} {
				t.Run(move.name, func(t *testing.T) {
					_, err := q.s.db().exec(ctx, move.sql, move.args...)
					require.NoError(t, err)
					_, err = q.Get(ctx, move.victim)
					assertSealError(t, err, move.victim, move.errHas)
				})
			}
		})
	}
}

// TestSQLiteFilesArePrivate: a new database and its -wal and -shm files
// are readable by their owner only; an existing file keeps its mode.
func TestSQLiteFilesArePrivate(t *testing.T) {
	q, path := openSQLiteTest(t)
	enqueueOne(t, q, "https://example.com")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		st, err := os.Stat(path + suffix)
		require.NoError(t, err, suffix)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "deliveries.db%s", suffix)
	}

	existing := filepath.Join(t.TempDir(), "shared.db")
	require.NoError(t, os.WriteFile(existing, nil, 0o640))
	require.NoError(t, os.Chmod(existing, 0o640)) // whatever the umask
	q2, err := OpenSQLite(context.Background(), existing)
	require.NoError(t, err)
	defer q2.Close()
	st, err := os.Stat(existing)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())
}
