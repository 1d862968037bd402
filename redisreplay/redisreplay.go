// Package redisreplay keeps the requests a webhook.Verifier has accepted
// in Redis, so that every process receiving the webhooks refuses a
// request replayed to any of them:
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	v := &webhook.Verifier{
//		Keys:        [][]byte{signingKey},
//		ReplayStore: &redisreplay.Store{Client: client},
//	}
//
// Each request is one SET with NX and an expiry: the key is created only
// if it is absent, and Redis drops it once the request's timestamp has
// left the Verifier's tolerance.
package redisreplay

import (
	"context"
	"fmt"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/redis/go-redis/v9"
)

// Store is a webhook.ReplayStore in Redis. It is safe for concurrent use,
// across processes too: Redis answers one SET NX for a key with success.
type Store struct {
	// Client is the Redis client: a *redis.Client, a cluster or a ring.
	Client redis.Cmdable

	// Prefix starts every key, to keep them apart from the application's.
	// Defaults to "liquidhook:replay:".
	Prefix string
}

// DefaultPrefix is Store's default Prefix.
const DefaultPrefix = "liquidhook:replay:"

var _ webhook.ReplayStore = (*Store)(nil)

// Add sets the key, with ttl as its expiry, if it is absent, and reports
// whether it was.
func (s *Store) Add(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	prefix := s.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	added, err := s.Client.SetNX(ctx, prefix+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redisreplay: %w", err)
	}
	return added, nil
}
