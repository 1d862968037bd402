package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Header names of Customer.io's signature scheme.
const (
	HeaderSignature = "X-CIO-Signature"
	HeaderTimestamp = "X-CIO-Timestamp"
)

// Header names of the Standard Webhooks scheme, spelled as its
// specification spells them. HTTP header names are case-insensitive;
// http.Header stores them as Webhook-Id and so on.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// Scheme names a way of signing requests: the headers that carry the
// signature and what it covers.
type Scheme int

const (
	// SchemeCIO is Customer.io's scheme: X-CIO-Timestamp, and
	// X-CIO-Signature = hex HMAC-SHA256(key, "v0:" + timestamp + ":" + body).
	// The idempotency key is not signed. It is the zero Scheme.
	SchemeCIO Scheme = iota

	// SchemeStandard is Standard Webhooks (standardwebhooks.com):
	// webhook-id, webhook-timestamp, and webhook-signature = "v1," + base64
	// HMAC-SHA256(key, id + "." + timestamp + "." + body), one per key,
	// space-separated. The id, which is the idempotency key, is signed.
	SchemeStandard
)

// String returns "cio" or "standard", the names the CLI accepts.
func (s Scheme) String() string {
	switch s {
	case SchemeCIO:
		return "cio"
	case SchemeStandard:
		return "standard"
	}
	return "Scheme(" + strconv.Itoa(int(s)) + ")"
}

// Sign returns the lowercase hex HMAC-SHA256, keyed with key, of
// "v0:" + timestamp + ":" + body: the X-CIO-Signature of a request whose
// X-CIO-Timestamp is timestamp (Unix seconds) and whose raw body is body.
// Customer.io's published CheckSignature accepts it. Sign computes what it
// is given, even for an empty key; the Signers refuse one.
func Sign(key []byte, timestamp int64, body []byte) string {
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], newMACState(key).cio(timestamp, body))
	return string(out[:])
}

// macState is a keyed HMAC-SHA256 with scratch space for the message
// prefix and the sum, so that once it exists, hashing a request allocates
// nothing: the hash is an interface, and anything passed to it would
// otherwise escape to the heap on every call.
type macState struct {
	mac hash.Hash
	buf [64]byte
	sum [sha256.Size]byte
}

func newMACState(key []byte) *macState {
	return &macState{mac: hmac.New(sha256.New, key)}
}

// cio returns the MAC of Customer.io's signed message,
// "v0:" + timestamp + ":" + body. The state must be fresh or reset.
func (s *macState) cio(timestamp int64, body []byte) []byte {
	b := append(s.buf[:0], "v0:"...)
	b = strconv.AppendInt(b, timestamp, 10)
	b = append(b, ':')
	s.mac.Write(b)
	s.mac.Write(body)
	return s.mac.Sum(s.sum[:0])
}

// standard returns the MAC of the Standard Webhooks signed message,
// id + "." + timestamp + "." + body. The state must be fresh or reset.
func (s *macState) standard(id string, timestamp int64, body []byte) []byte {
	for rest := id; len(rest) > 0; {
		n := copy(s.buf[:], rest)
		s.mac.Write(s.buf[:n])
		rest = rest[n:]
	}
	b := append(s.buf[:0], '.')
	b = strconv.AppendInt(b, timestamp, 10)
	b = append(b, '.')
	s.mac.Write(b)
	s.mac.Write(body)
	return s.mac.Sum(s.sum[:0])
}

// Signer adds signature headers to one attempt of a request. A Sender calls
// it once per attempt with a fresh timestamp (Unix seconds); id is the
// request's idempotency key, the same on every attempt, and body its raw
// bytes. SignHeader must not keep h or body, and must be safe for
// concurrent use.
type Signer interface {
	SignHeader(h http.Header, id string, timestamp int64, body []byte) error
}

// CIOSigner signs the way Customer.io does: X-CIO-Timestamp and
// X-CIO-Signature (see Sign). It is the Sender's default scheme. The
// idempotency key travels in its own header, unsigned, as Customer.io
// sends it.
type CIOSigner struct {
	// Key is the webhook signing key, used as raw bytes (Customer.io's keys
	// are hex-looking strings; use them as they are, without decoding).
	Key []byte
}

// SignHeader sets X-CIO-Timestamp and X-CIO-Signature. It refuses an empty
// key with ErrNoKey: anyone can forge a signature made with one.
func (s CIOSigner) SignHeader(h http.Header, _ string, timestamp int64, body []byte) error {
	if len(s.Key) == 0 {
		return ErrNoKey
	}
	k := signingMACs.get(s.Key)
	m := k.get()
	sum := m.cio(timestamp, body)

	// Both values share one string and one slice array: an attempt's
	// signature costs two small allocations. The three-index slices keep
	// an append to one value from overwriting the other.
	var buf [20 + 2*sha256.Size]byte
	b := strconv.AppendInt(buf[:0], timestamp, 10)
	n := len(b)
	b = b[:n+2*sha256.Size]
	hex.Encode(b[n:], sum)
	k.put(m)
	v := string(b)
	vals := []string{v[:n], v[n:]}
	h[canonicalTimestamp] = vals[0:1:1]
	h[canonicalSignature] = vals[1:2:2]
	return nil
}

// signingMACs pools keyed HMAC states for the keys that signers use, so
// that signing an attempt hashes its own message and nothing more: the
// key's padded blocks are hashed once per key rather than once per
// request, and no hash state is allocated. Signers are values with an
// exported key, so the pools are found by the key's bytes, which are
// copied: a key changed in place is a new key.
var signingMACs macCache

// maxSigningKeys bounds the keys signingMACs holds. A process that signs
// with more keys than that (one per tenant, say) drops them all and starts
// again, which costs what building each MAC afresh would.
const maxSigningKeys = 16

// macCache maps keys to their pools. Lookups, on every attempt, read an
// immutable map without locking; adding a key copies it.
type macCache struct {
	m  atomic.Pointer[map[string]*keyedMAC]
	mu sync.Mutex
}

func (c *macCache) get(key []byte) *keyedMAC {
	if m := c.m.Load(); m != nil {
		if k := (*m)[string(key)]; k != nil {
			return k
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if k := (*old)[string(key)]; k != nil {
			return k
		}
	}
	next := make(map[string]*keyedMAC, maxSigningKeys)
	if old != nil && len(*old) < maxSigningKeys {
		maps.Copy(next, *old)
	}
	k := &keyedMAC{key: bytes.Clone(key)}
	next[string(k.key)] = k
	c.m.Store(&next)
	return k
}

// String hides the key, so a signer can be logged.
func (s CIOSigner) String() string { return "webhook.CIOSigner{Key: REDACTED}" }

// GoString hides the key from %#v too.
func (s CIOSigner) GoString() string { return s.String() }

// StandardSigner signs the Standard Webhooks way: webhook-id (the
// idempotency key), webhook-timestamp and webhook-signature. The zero value
// has no key and refuses to sign.
type StandardSigner struct {
	// Keys are the signing keys: the decoded bytes of "whsec_" secrets (see
	// ParseStandardSecret). Each adds one "v1,<base64>" signature to
	// webhook-signature, in order, so that during a rotation receivers that
	// know either the old key or the new one accept the request.
	Keys [][]byte
}

// Errors from signing with the Standard Webhooks scheme.
var (
	// ErrInvalidID reports a message id that Standard Webhooks cannot carry:
	// empty, or holding a '.', which would let the id and timestamp
	// boundaries shift within the signed message, or a character a header
	// value may not hold.
	ErrInvalidID = errors.New("webhook: invalid webhook id")

	// ErrInvalidSecret reports a secret that is not base64, with or without
	// the "whsec_" prefix.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
)

// SignHeader sets webhook-id to id, webhook-timestamp, and
// webhook-signature with one v1 signature per key. It refuses an empty key
// list or an empty key with ErrNoKey and an unusable id with ErrInvalidID.
func (s StandardSigner) SignHeader(h http.Header, id string, timestamp int64, body []byte) error {
	if len(s.Keys) == 0 {
		return ErrNoKey
	}
	if err := checkStandardID(id); err != nil {
		return err
	}
	var sig strings.Builder
	sig.Grow(len(s.Keys) * (len("v1,") + base64.StdEncoding.EncodedLen(sha256.Size) + 1))
	var enc [44]byte // base64 of 32 bytes
	for i, key := range s.Keys {
		if len(key) == 0 {
			return fmt.Errorf("%w: Keys[%d] is empty", ErrNoKey, i)
		}
		if i > 0 {
			sig.WriteByte(' ')
		}
		k := signingMACs.get(key)
		m := k.get()
		base64.StdEncoding.Encode(enc[:], m.standard(id, timestamp, body))
		k.put(m)
		sig.WriteString("v1,")
		sig.Write(enc[:])
	}
	h[canonicalWebhookID] = []string{id}
	h[canonicalWebhookTimestamp] = []string{strconv.FormatInt(timestamp, 10)}
	h[canonicalWebhookSignature] = []string{sig.String()}
	return nil
}

// String hides the keys, so a signer can be logged.
func (s StandardSigner) String() string {
	return "webhook.StandardSigner{Keys: " + strconv.Itoa(len(s.Keys)) + " REDACTED}"
}

// GoString hides the keys from %#v too.
func (s StandardSigner) GoString() string { return s.String() }

func checkStandardID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c == '.' {
			return fmt.Errorf("%w: '.' at byte %d", ErrInvalidID, i)
		}
		if c < ' ' || c == 0x7f {
			return fmt.Errorf("%w: control character at byte %d", ErrInvalidID, i)
		}
	}
	return nil
}

// standardSecretPrefix marks a serialized Standard Webhooks secret.
const standardSecretPrefix = "whsec_"

// ParseStandardSecret decodes a Standard Webhooks secret, "whsec_" followed
// by standard base64 (the prefix may be left out), into the key bytes that
// StandardSigner and Verifier use. The error never repeats the secret.
func ParseStandardSecret(secret string) ([]byte, error) {
	t := strings.TrimSpace(secret)
	s := strings.TrimPrefix(t, standardSecretPrefix)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%w: not base64 at byte %d", ErrInvalidSecret, int64(ce)+int64(len(t)-len(s)))
		}
		return nil, fmt.Errorf("%w: not base64", ErrInvalidSecret)
	}
	return key, nil
}

var (
	_ Signer = CIOSigner{}
	_ Signer = StandardSigner{}
)
