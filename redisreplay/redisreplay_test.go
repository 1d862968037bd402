package redisreplay_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/redisreplay"
)

// envRedis names the variable that switches the Redis tests on.
const envRedis = "LIQUIDHOOK_TEST_REDIS"

// testStore returns a Store on the Redis server LIQUIDHOOK_TEST_REDIS
// names, with a prefix of its own whose keys are deleted when the test
// ends. Without the variable the test skips; with it set and the server
// unreachable, it fails.
func testStore(t *testing.T) (*redisreplay.Store, *redis.Client) {
	t.Helper()
	url := os.Getenv(envRedis)
	if url == "" {
		t.Skip(envRedis + " is unset: skipping the Redis test (set it to a redis:// URL to run it)")
	}
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.Ping(ctx).Err(), "%s is set but the server is unreachable", envRedis)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "liquidhook:test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := client.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			client.Del(ctx, keys...)
		}
		client.Close()
	})
	return &redisreplay.Store{Client: client, Prefix: prefix}, client
}

// TestStoreRefusesReplays sends a signed request to two receivers that
// share one Redis, as two processes behind a load balancer would: a copy
// sent to either one after the first is refused with 401.
func TestStoreRefusesReplays(t *testing.T) {
	store, client := testStore(t)
	key, body := []byte("signing-secret"), []byte(`{"event_id":"abc"}`)
	var handled atomic.Int32
	var rejected sync.Map
	receiver := func(name string) http.Handler {
		v := &webhook.Verifier{Keys: [][]byte{key}, ReplayStore: store,
			OnReject: func(_ *http.Request, err error) { rejected.Store(name, err) }}
		return v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handled.Add(1) }))
	}
	a, b := receiver("a"), receiver("b")

	ts := time.Now().Unix()
	h := http.Header{}
	require.NoError(t, webhook.CIOSigner{Key: key}.SignHeader(h, "", ts, body))
	send := func(to http.Handler, h http.Header) int {
		r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(string(body)))
		r.Header = h.Clone()
		w := httptest.NewRecorder()
		to.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusOK, send(a, h))
	assert.Equal(t, http.StatusUnauthorized, send(a, h), "replayed to the same receiver")
	assert.Equal(t, http.StatusUnauthorized, send(b, h), "replayed to the other one")
	assert.Equal(t, int32(1), handled.Load())
	for _, name := range []string{"a", "b"} {
		err, ok := rejected.Load(name)
		require.True(t, ok, name)
		assert.ErrorIs(t, err.(error), webhook.ErrReplayed, name)
	}

	// The key expires when the timestamp leaves the 5-minute tolerance.
	ttl, err := client.PTTL(context.Background(), store.Prefix+"v0:"+h.Get(webhook.HeaderSignature)).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 4*time.Minute)
	assert.LessOrEqual(t, ttl, 5*time.Minute+time.Second)

	// The sender's next attempt, signed afresh, goes through.
	h2 := http.Header{}
	require.NoError(t, webhook.CIOSigner{Key: key}.SignHeader(h2, "", ts+1, body))
	assert.Equal(t, http.StatusOK, send(b, h2))
}

// TestStoreConcurrent: of many receivers adding one key at once, exactly
// one is told it is new.
func TestStoreConcurrent(t *testing.T) {
	store, _ := testStore(t)
	var added atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			ok, err := store.Add(context.Background(), "same", time.Minute)
			if assert.NoError(t, err) && ok {
				added.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), added.Load())
}

// TestStoreDown: a server that cannot be reached refuses the request with
// 503 rather than letting a possible replay through.
func TestStoreDown(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	key, body := []byte("signing-secret"), []byte(`{}`)
	v := &webhook.Verifier{Keys: [][]byte{key}, ReplayStore: &redisreplay.Store{Client: client}}
	h := http.Header{}
	require.NoError(t, webhook.CIOSigner{Key: key}.SignHeader(h, "", time.Now().Unix(), body))
	_, err := v.Verify(h, body)
	require.ErrorIs(t, err, webhook.ErrReplayStore)
	assert.False(t, errors.Is(err, webhook.ErrReplayed))
}
