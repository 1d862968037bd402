package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"strconv"
)

// The message authentication codes of the two signing schemes: what
// Sign and the Signers compute and what Verify and the Verifier compare,
// from this one place.

// cioMAC returns HMAC-SHA256(key, "v0:" + timestamp + ":" + body),
// Customer.io's signature before its hex encoding.
func cioMAC(key []byte, timestamp int64, body []byte) []byte {
	var buf [32]byte
	prefix := append(buf[:0], "v0:"...)
	prefix = strconv.AppendInt(prefix, timestamp, 10)
	prefix = append(prefix, ':')
	mac := hmac.New(sha256.New, key)
	mac.Write(prefix)
	mac.Write(body)
	return mac.Sum(nil)
}

// standardMAC returns HMAC-SHA256(key, id + "." + timestamp + "." + body),
// a Standard Webhooks signature before its base64 encoding.
func standardMAC(key []byte, id string, timestamp int64, body []byte) []byte {
	var buf [32]byte
	middle := append(buf[:0], '.')
	middle = strconv.AppendInt(middle, timestamp, 10)
	middle = append(middle, '.')
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write(middle)
	mac.Write(body)
	return mac.Sum(nil)
}

// The schemes' header names as http.Header keys them, so that signing
// sets them and verifying reads them without canonicalizing each time.
var (
	canonicalSignature        = http.CanonicalHeaderKey(HeaderSignature)
	canonicalTimestamp        = http.CanonicalHeaderKey(HeaderTimestamp)
	canonicalWebhookID        = http.CanonicalHeaderKey(HeaderWebhookID)
	canonicalWebhookTimestamp = http.CanonicalHeaderKey(HeaderWebhookTimestamp)
	canonicalWebhookSignature = http.CanonicalHeaderKey(HeaderWebhookSignature)
)
