package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
)

// TestVerifierRefusesReplays sends each scheme's signed request twice, and
// altered copies of it, through Verify and through Middleware.
func TestVerifierRefusesReplays(t *testing.T) {
	key, body := []byte(kaKey), []byte(kaBody)
	ts := int64(kaTimestamp)
	for _, tc := range []struct {
		name   string
		scheme webhook.Scheme
		signed func(ts int64) http.Header
		// replays returns copies of h that a replay could send: each must
		// be refused once h has been accepted.
		replays func(h http.Header) []http.Header
	}{
		{"CIO", webhook.SchemeCIO, func(ts int64) http.Header { return cioHeader(key, ts, body, "key-1") },
			func(h http.Header) []http.Header {
				newKey := h.Clone()
				newKey.Set(webhook.HeaderIdempotencyKey, "key-2") // not signed: a replay may change it
				upper := h.Clone()
				upper.Set(webhook.HeaderSignature, strings.ToUpper(h.Get(webhook.HeaderSignature)))
				return []http.Header{h.Clone(), newKey, upper}
			}},
		{"Standard", webhook.SchemeStandard, func(ts int64) http.Header { return standardHeader(t, key, "msg_1", ts, body) },
			func(h http.Header) []http.Header {
				twice := h.Clone()
				twice.Set(webhook.HeaderWebhookSignature, "v1,"+strings.Repeat("A", 43)+"= "+h.Get(webhook.HeaderWebhookSignature))
				return []http.Header{h.Clone(), twice}
			}},
	} {
		t.Run(tc.name+"/Verify", func(t *testing.T) {
			v := &webhook.Verifier{Keys: [][]byte{key}, Scheme: tc.scheme, Now: fixedNow, RefuseReplays: true}
			h := tc.signed(ts)
			_, err := v.Verify(h, body)
			require.NoError(t, err)
			for i, r := range tc.replays(h) {
				vd, err := v.Verify(r, body)
				require.ErrorIs(t, err, webhook.ErrReplayed, "replay %d", i)
				assert.Equal(t, webhook.Verified{}, vd)
			}
			// The sender's next attempt is signed afresh, a second later.
			_, err = v.Verify(tc.signed(ts+1), body)
			assert.NoError(t, err)
		})
		t.Run(tc.name+"/Middleware", func(t *testing.T) {
			var rejected []error
			v := &webhook.Verifier{Keys: [][]byte{key}, Scheme: tc.scheme, Now: fixedNow, RefuseReplays: true,
				OnReject: func(_ *http.Request, err error) { rejected = append(rejected, err) }}
			var handled atomic.Int32
			srv := v.Middleware(countingHandler(&handled))
			send := func(h http.Header) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(string(body)))
				r.Header = h
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, r)
				return w
			}
			h := tc.signed(ts)
			require.Equal(t, http.StatusNoContent, send(h).Code)
			for i, r := range tc.replays(h) {
				w := send(r)
				assert.Equal(t, http.StatusUnauthorized, w.Code, "replay %d", i)
				assert.Equal(t, "Unauthorized\n", w.Body.String(), "no detail")
			}
			assert.Equal(t, int32(1), handled.Load(), "only the first reached the handler")
			require.NotEmpty(t, rejected)
			for _, err := range rejected {
				assert.ErrorIs(t, err, webhook.ErrReplayed)
			}
		})
	}
}

// TestVerifierReplaysOffByDefault: without RefuseReplays a copy passes, as
// a Verifier always did; the tolerance is then the only bound.
func TestVerifierReplaysOffByDefault(t *testing.T) {
	key, body := []byte(kaKey), []byte(kaBody)
	v := &webhook.Verifier{Keys: [][]byte{key}, Now: fixedNow}
	h := cioHeader(key, kaTimestamp, body, "k")
	for range 2 {
		_, err := v.Verify(h, body)
		require.NoError(t, err)
	}
}

// recordingStore records what a Verifier asks of its store, and answers
// with err when set.
type recordingStore struct {
	mu   sync.Mutex
	keys []string
	ttls []time.Duration
	err  error
}

func (s *recordingStore) Add(_ context.Context, key string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys, s.ttls = append(s.keys, key), append(s.ttls, ttl)
	return true, s.err
}

// TestVerifierReplayWindow: a request is remembered until its timestamp
// leaves the tolerance, and no longer.
func TestVerifierReplayWindow(t *testing.T) {
	key, body := []byte(kaKey), []byte(kaBody)
	for _, tc := range []struct {
		name    string
		signed  int64 // seconds from now
		wantTTL time.Duration
	}{
		{"signed now", 0, 5*time.Minute + time.Second},
		{"signed four minutes ago", -240, time.Minute + time.Second},
		{"signed a minute ahead", 60, 6*time.Minute + time.Second},
		{"signed at the edge of the window", -300, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &recordingStore{}
			v := &webhook.Verifier{Keys: [][]byte{key}, Now: fixedNow, ReplayStore: store}
			h := cioHeader(key, kaTimestamp+tc.signed, body, "")
			_, err := v.Verify(h, body)
			require.NoError(t, err)
			require.Len(t, store.ttls, 1, "setting ReplayStore refuses replays")
			assert.Equal(t, tc.wantTTL, store.ttls[0])
			assert.Equal(t, "v0:"+h.Get(webhook.HeaderSignature), store.keys[0])
		})
	}

	// Once the window has passed, the timestamp refuses the copy before the
	// store is asked, and the store has forgotten it.
	now := time.Unix(kaTimestamp, 0)
	clock := func() time.Time { return now }
	mem := &webhook.MemoryReplayStore{Now: clock}
	v := &webhook.Verifier{Keys: [][]byte{key}, Now: clock, ReplayStore: mem}
	h := cioHeader(key, kaTimestamp, body, "")
	_, err := v.Verify(h, body)
	require.NoError(t, err)
	now = now.Add(5*time.Minute + time.Second)
	_, err = v.Verify(h, body)
	require.ErrorIs(t, err, webhook.ErrTimestampTooOld)
	added, err := mem.Add(context.Background(), "other", time.Second)
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, 1, mem.Len(), "the expired key was dropped")
}

// TestVerifierReplayStoreFails: a store that fails refuses the request
// with ErrReplayStore, and Middleware answers 503 so that the sender
// tries again.
func TestVerifierReplayStoreFails(t *testing.T) {
	key, body := []byte(kaKey), []byte(kaBody)
	down := errors.New("connection refused")
	v := &webhook.Verifier{Keys: [][]byte{key}, Now: fixedNow, ReplayStore: &recordingStore{err: down}}
	h := cioHeader(key, kaTimestamp, body, "")
	_, err := v.Verify(h, body)
	require.ErrorIs(t, err, webhook.ErrReplayStore)
	require.ErrorIs(t, err, down)

	var handled atomic.Int32
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(string(body)))
	r.Header = h
	w := httptest.NewRecorder()
	v.Middleware(countingHandler(&handled)).ServeHTTP(w, r)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Zero(t, handled.Load())
}

func TestMemoryReplayStore(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	s := &webhook.MemoryReplayStore{MaxEntries: 3, Now: func() time.Time { return now }}
	add := func(key string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.Add(ctx, key, ttl)
		require.NoError(t, err)
		return ok
	}

	assert.True(t, add("a", 10*time.Second))
	assert.False(t, add("a", 10*time.Second), "seen")
	assert.True(t, add("b", 20*time.Second))
	assert.True(t, add("c", 30*time.Second))
	assert.True(t, add("d", 40*time.Second), "full: the key closest to running out goes")
	assert.Equal(t, 3, s.Len())
	assert.True(t, add("a", 10*time.Second), "a was forgotten to make room")
	assert.False(t, add("d", 40*time.Second))

	now = now.Add(35 * time.Second) // b, c and a have run out
	assert.True(t, add("b", time.Second))
	assert.Equal(t, 2, s.Len(), "d and the new b")
	assert.False(t, add("d", time.Second))
	now = now.Add(5 * time.Second)
	assert.True(t, add("d", time.Second), "its ttl ends exactly now")
}

// TestMemoryReplayStoreConcurrent: of many requests adding one key at
// once, exactly one is told it is new.
func TestMemoryReplayStoreConcurrent(t *testing.T) {
	var s webhook.MemoryReplayStore // the zero value works
	const n = 64
	var added atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for j := range 10 {
				key := "k" + strconv.Itoa(j)
				if ok, err := s.Add(context.Background(), key, time.Minute); err == nil && ok {
					added.Add(1)
				}
				_, _ = s.Add(context.Background(), "own-"+strconv.Itoa(i)+"-"+strconv.Itoa(j), time.Minute)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(10), added.Load())
	assert.Equal(t, 10+n*10, s.Len())
}

// ExampleVerifier_refuseReplays refuses a copy of a request that was
// accepted.
func ExampleVerifier_refuseReplays() {
	key := []byte("signing-secret")
	body := []byte(`{"event_id":"abc"}`)
	v := &webhook.Verifier{Keys: [][]byte{key}, RefuseReplays: true}

	h := http.Header{}
	_ = webhook.CIOSigner{Key: key}.SignHeader(h, "", time.Now().Unix(), body)
	_, err := v.Verify(h, body)
	fmt.Println(err)
	_, err = v.Verify(h, body) // the same request again
	fmt.Println(err, errors.Is(err, webhook.ErrReplayed))
	// Output:
	// <nil>
	// webhook: replayed request true
}
