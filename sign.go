package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
)

// Header names of Customer.io's signature scheme.
const (
	HeaderSignature = "X-CIO-Signature"
	HeaderTimestamp = "X-CIO-Timestamp"
)

// Sign returns the lowercase hex HMAC-SHA256, keyed with key, of
// "v0:" + timestamp + ":" + body: the X-CIO-Signature of a request whose
// X-CIO-Timestamp is timestamp (Unix seconds) and whose raw body is body.
func Sign(key []byte, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	var prefix [32]byte
	b := append(prefix[:0], "v0:"...)
	b = strconv.AppendInt(b, timestamp, 10)
	b = append(b, ':')
	mac.Write(b)
	mac.Write(body)
	var sum [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(sum[:0]))
}

// Signer adds signature headers to one attempt of a request. A Sender calls
// it once per attempt with a fresh timestamp; id is the request's
// idempotency key and body its raw bytes.
type Signer interface {
	SignHeader(h http.Header, id string, timestamp int64, body []byte) error
}

// CIOSigner signs the way Customer.io does: X-CIO-Timestamp and
// X-CIO-Signature. It is the Sender's default scheme.
type CIOSigner struct {
	// Key is the webhook signing key.
	Key []byte
}

// SignHeader sets X-CIO-Timestamp and X-CIO-Signature.
func (s CIOSigner) SignHeader(h http.Header, _ string, timestamp int64, body []byte) error {
	h.Set(HeaderTimestamp, strconv.FormatInt(timestamp, 10))
	h.Set(HeaderSignature, Sign(s.Key, timestamp, body))
	return nil
}

var _ Signer = CIOSigner{}
