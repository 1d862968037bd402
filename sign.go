package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
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
	var buf [2 * sha256.Size]byte
	hex.Encode(buf[:], cioMAC(key, timestamp, body))
	return string(buf[:])
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
	values := []string{strconv.FormatInt(timestamp, 10), Sign(s.Key, timestamp, body)}
	h[canonicalTimestamp] = values[0:1:1]
	h[canonicalSignature] = values[1:2:2]
	return nil
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
		base64.StdEncoding.Encode(enc[:], standardMAC(key, id, timestamp, body))
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
