package webhook

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Replay protection: a Verifier with RefuseReplays remembers what it has
// accepted until the timestamp it was signed with leaves the tolerance
// window, and refuses it if it comes again. Under Customer.io's scheme
// this is what stops a captured request from being sent again within the
// window: its signature covers neither X-CIO-Idempotency-Key nor anything
// else that a replay would have to change.

// ErrReplayed reports a request that the Verifier accepted before, within
// the tolerance window: a captured request sent again. Middleware answers
// it with 401, without detail.
var ErrReplayed = errors.New("webhook: replayed request")

// ErrReplayStore reports that the ReplayStore failed, so the Verifier
// cannot tell a replay from a first delivery. Middleware answers 503, so
// that the sender tries again later.
var ErrReplayStore = errors.New("webhook: replay store failed")

// ReplayStore remembers the requests a Verifier has accepted. A store
// shared by every process that receives the webhooks (see the redisreplay
// package) refuses a request replayed to any of them; the default,
// MemoryReplayStore, refuses those replayed to the same process.
type ReplayStore interface {
	// Add records key for ttl and reports whether it was new: false
	// means that key was added before and its ttl has not run out, so the
	// request is a replay. Concurrent calls with one key must report true
	// to one caller at most.
	Add(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// replayKey names what a replay of a verified request repeats, for the
// ReplayStore: the signature under Customer.io's scheme (decoded, so that
// a replay in upper-case hex is the same), and the message id and
// timestamp under Standard Webhooks, which its signature covers (a
// replay could reorder or trim the list of signatures, but not change
// those).
func replayKey(scheme Scheme, h http.Header) string {
	if scheme == SchemeStandard {
		return "v1:" + header(h, canonicalWebhookTimestamp) + ":" + header(h, canonicalWebhookID)
	}
	var sig [sha256.Size]byte
	decodeHexSignature(&sig, header(h, canonicalSignature))
	return "v0:" + hex.EncodeToString(sig[:])
}

// checkReplay refuses a verified request that the store has seen, and
// records it otherwise until its timestamp leaves the tolerance window.
func (c *verifierConfig) checkReplay(ctx context.Context, h http.Header, vd Verified) error {
	if c.replay == nil {
		return nil
	}
	ttl := vd.Timestamp.Add(time.Duration(c.tolerance+1) * time.Second).Sub(c.now())
	added, err := c.replay.Add(ctx, replayKey(c.scheme, h), max(ttl, time.Second))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReplayStore, err)
	}
	if !added {
		return ErrReplayed
	}
	return nil
}

// MemoryReplayStore is a ReplayStore in memory, bounded in size, for a
// receiver that runs as one process. The zero value is ready to use. It
// is safe for concurrent use.
type MemoryReplayStore struct {
	// MaxEntries bounds the keys kept. When it is reached, the key closest
	// to running out is forgotten first, so keep it above the requests
	// received in twice the tolerance (100,000 is 166 a second for ten
	// minutes). Defaults to DefaultReplayEntries.
	MaxEntries int

	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]*replayEntry
	byEnd   replayHeap
}

// DefaultReplayEntries is MemoryReplayStore's default MaxEntries.
const DefaultReplayEntries = 100_000

var _ ReplayStore = (*MemoryReplayStore)(nil)

type replayEntry struct {
	key string
	end time.Time
}

// Add records key for ttl and reports whether it was new. Keys whose ttl
// has run out are dropped as new ones come.
func (s *MemoryReplayStore) Add(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = make(map[string]*replayEntry)
	}
	for len(s.byEnd) > 0 && !s.byEnd[0].end.After(now) {
		delete(s.entries, heap.Pop(&s.byEnd).(*replayEntry).key)
	}
	if _, ok := s.entries[key]; ok {
		return false, nil
	}
	limit := s.MaxEntries
	if limit <= 0 {
		limit = DefaultReplayEntries
	}
	for len(s.byEnd) >= limit {
		delete(s.entries, heap.Pop(&s.byEnd).(*replayEntry).key)
	}
	e := &replayEntry{key: key, end: now.Add(ttl)}
	s.entries[key] = e
	heap.Push(&s.byEnd, e)
	return true, nil
}

// Len returns how many keys the store holds, those whose ttl has run out
// but that no Add has dropped yet included.
func (s *MemoryReplayStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// replayHeap orders entries by the end of their ttl, soonest first.
type replayHeap []*replayEntry

func (h replayHeap) Len() int           { return len(h) }
func (h replayHeap) Less(i, j int) bool { return h[i].end.Before(h[j].end) }
func (h replayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *replayHeap) Push(x any)        { *h = append(*h, x.(*replayEntry)) }
func (h *replayHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
