package delivery

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liquidhook/webhook"
)

// Queue is a durable delivery queue and its delivery log, on SQLite or
// PostgreSQL. Enqueue and the other operations may be called from any
// number of goroutines and processes; Work sends what is due. A Queue is
// safe for concurrent use.
type Queue struct {
	// Compiler compiles the stored actions, for each attempt and for
	// Resend's check. Give it the limits the actions were compiled with;
	// set it before using the Queue. A delivery of an action compiled with
	// Lax renders in lax mode whatever Compiler says (see Delivery.Lax);
	// with Lax here, every delivery does. Defaults to the settings of
	// webhook.Compile.
	Compiler *webhook.Compiler

	// Keys seal what the delivery log keeps that is secret or personal:
	// each delivery's spec, data, attributes and last error, and each
	// attempt's error and response excerpt, with AES-256-GCM. Each key is
	// 32 bytes (ParseKeys reads them from text). The first seals what is
	// written; every one opens what was sealed with it, so a key is
	// rotated by putting the new one first and running Rekey. Ids, states,
	// times, statuses, error classes, idempotency keys, destinations
	// (scheme://host:port) and metadata are not sealed: keep secrets out
	// of metadata. Without keys nothing is
	// sealed, and a sealed value does not open (a *SealError, matching
	// ErrSealed, that names the delivery and changes nothing). Set it
	// before using the Queue: it is read once, on first use.
	Keys [][]byte

	s       store
	kr      atomic.Pointer[keyring]
	actions actionCache
	closed  atomic.Bool
	now     func() time.Time
}

func newQueue(s store) *Queue {
	return &Queue{s: s, now: time.Now}
}

// ErrClosed is returned by the operations of a closed Queue.
var ErrClosed = errors.New("delivery: queue is closed")

// ErrInvalidDatabase is returned by the Open functions for a SQLite path or
// PostgreSQL URL that cannot name a database. Errors never repeat a URL's
// password.
var ErrInvalidDatabase = errors.New("delivery: invalid database")

// Open opens the database that dsn names: a postgres:// or postgresql://
// URL (OpenPostgres), or else a SQLite file path (OpenSQLite).
func Open(ctx context.Context, dsn string) (*Queue, error) {
	if IsPostgresURL(dsn) {
		return OpenPostgres(ctx, dsn)
	}
	return OpenSQLite(ctx, dsn)
}

// IsPostgresURL reports whether dsn is a PostgreSQL URL rather than a
// SQLite path.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Close closes the database. Call it after every Work call on q has
// returned; further operations return ErrClosed. Closing again does
// nothing; closing a nil Queue returns ErrClosed, as its other methods do.
func (q *Queue) Close() error {
	if q == nil {
		return ErrClosed
	}
	if q.closed.Swap(true) {
		return nil
	}
	q.s.close()
	return nil
}

func (q *Queue) check() error {
	if q == nil || q.closed.Load() {
		return ErrClosed
	}
	return nil
}

// keys returns the Queue's keyring, made from Keys on first use.
func (q *Queue) keys() *keyring {
	if kr := q.kr.Load(); kr != nil {
		return kr
	}
	q.kr.CompareAndSwap(nil, newKeyring(q.Keys))
	return q.kr.Load()
}

// actionCache keeps compiled actions by their stored spec and mode, so a
// worker compiles each distinct action once rather than once per attempt.
// A Queue has one Compiler, so the spec and the delivery's lax mode are
// the key.
type actionCache struct {
	mu sync.Mutex
	m  map[actionKey]*webhook.Action
}

type actionKey struct {
	lax  bool
	spec string
}

// actionCacheSize bounds the cache; when it fills, it starts over.
const actionCacheSize = 256

// get returns the action of specJSON compiled with comp (the defaults
// when nil), in lax mode when lax is set.
func (c *actionCache) get(comp *webhook.Compiler, lax bool, specJSON string) (*webhook.Action, error) {
	key := actionKey{lax: lax, spec: specJSON}
	c.mu.Lock()
	a, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return a, nil
	}
	spec, err := decodeSpec(specJSON)
	if err != nil {
		return nil, err
	}
	var with webhook.Compiler
	if comp != nil {
		with = *comp
	}
	with.Lax = with.Lax || lax
	a, err = with.Compile(spec)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= actionCacheSize {
		c.m = make(map[actionKey]*webhook.Action)
	}
	c.m[key] = a
	c.mu.Unlock()
	return a, nil
}
