package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors from verifying a signed request. Each is returned wrapped with
// detail (which header, how far off the clock); test for them with
// errors.Is. None ever holds a key.
var (
	// ErrInvalidSignature reports a signature that does not match the body
	// and timestamp under any key. Every malformed signature matches it too.
	ErrInvalidSignature = errors.New("webhook: invalid signature")

	// ErrMalformedSignature reports a signature that is not a signature at
	// all: not 64 hex digits (Customer.io), or no "v1," entry holding 32
	// bytes of base64 (Standard Webhooks). It matches ErrInvalidSignature.
	ErrMalformedSignature = fmt.Errorf("%w: malformed", ErrInvalidSignature)

	// ErrMissingHeader reports that a header the scheme needs is absent or
	// empty.
	ErrMissingHeader = errors.New("webhook: missing header")

	// ErrMalformedTimestamp reports a timestamp header that is not a
	// base-10 count of Unix seconds.
	ErrMalformedTimestamp = errors.New("webhook: malformed timestamp")

	// ErrTimestampOutOfRange reports a timestamp further from now than the
	// tolerance: a replay, or a clock far off. ErrTimestampTooOld and
	// ErrTimestampTooNew both match it.
	ErrTimestampOutOfRange = errors.New("webhook: timestamp out of range")

	// ErrTimestampTooOld reports a timestamp older than the tolerance.
	ErrTimestampTooOld = fmt.Errorf("%w: too old", ErrTimestampOutOfRange)

	// ErrTimestampTooNew reports a timestamp further in the future than the
	// tolerance.
	ErrTimestampTooNew = fmt.Errorf("%w: too new", ErrTimestampOutOfRange)

	// ErrBodyTooLarge reports a body over the Verifier's MaxBodyBytes.
	ErrBodyTooLarge = errors.New("webhook: body too large")

	// ErrNoKey reports that there is no key to sign or verify with, or an
	// empty one: a signature made with an empty key proves nothing.
	ErrNoKey = errors.New("webhook: no signing key")

	// ErrUnknownScheme reports a Verifier whose Scheme is neither SchemeCIO
	// nor SchemeStandard.
	ErrUnknownScheme = errors.New("webhook: unknown scheme")
)

// Verify checks an X-CIO-Signature: it returns nil when signature is the
// hex HMAC-SHA256 of "v0:" + timestamp + ":" + body under key (see Sign),
// in upper or lower case. The comparison takes constant time. Verify does
// not look at the clock: to refuse replays, check the timestamp's age too,
// or use a Verifier, which does both.
//
// It returns ErrNoKey for an empty key, ErrMalformedSignature when
// signature is not 64 hex digits, and ErrInvalidSignature when it does not
// match.
func Verify(key []byte, signature string, timestamp int64, body []byte) error {
	if len(key) == 0 {
		return ErrNoKey
	}
	var want [sha256.Size]byte
	if !decodeHexSignature(&want, signature) {
		return errNotHex
	}
	if !hmac.Equal(cioMAC(key, timestamp, body), want[:]) {
		return ErrInvalidSignature
	}
	return nil
}

// errNotHex is preallocated: a bad signature is input from the network and
// its refusal should cost no more than an acceptance.
var errNotHex = fmt.Errorf("%w: want 64 hex digits", ErrMalformedSignature)

// Verifier checks signed requests on the receiving side: the signature
// under any of several keys, and the timestamp's distance from now in both
// directions, so a captured request cannot be replayed later. Use Verify
// with any framework, VerifyRequest with an *http.Request, or Middleware
// with net/http.
//
// The zero value has no key and refuses every request; set Keys. Other
// fields default as documented. The configuration is read once, on first
// use, and its keys copied then: a Verifier must not be modified or copied
// after first use. It is safe for concurrent use.
type Verifier struct {
	// Keys are the accepted signing keys. A request signed with any of them
	// is valid, so a key can be rotated without downtime: add the new key,
	// switch the sender, then remove the old one. Customer.io keys are used
	// as raw bytes; Standard Webhooks secrets are decoded with
	// ParseStandardSecret. With no key, or with an empty one, every request
	// is refused with ErrNoKey.
	Keys [][]byte

	// Scheme says which headers carry the signature and what it covers.
	// Defaults to SchemeCIO.
	Scheme Scheme

	// Tolerance is how far the signed timestamp may be from Now, into the
	// past or the future, counted in whole seconds (rounded up). Defaults to
	// 5 minutes.
	Tolerance time.Duration

	// MaxBodyBytes caps the body that VerifyRequest and Middleware read; a
	// larger body is refused with ErrBodyTooLarge (413 from Middleware).
	// Defaults to 1 MiB.
	MaxBodyBytes int64

	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time

	// OnReject, if set, is called by Middleware for each request it refuses,
	// before it answers, with the reason (the client is told nothing). Use
	// it to log or count failures; the error never holds a key.
	OnReject func(r *http.Request, err error)

	// RefuseReplays refuses a request that was accepted before, while its
	// timestamp is within the tolerance, with ErrReplayed (401 from
	// Middleware): what it remembers is the signature under SchemeCIO,
	// whose signature covers neither the idempotency key nor anything a
	// replay must change, and the message id and timestamp under
	// SchemeStandard. Every attempt the Sender makes is signed afresh, so
	// only a copy of one attempt is refused; a sender that retried within
	// the second it signed in, with the same body, would be refused too.
	RefuseReplays bool

	// ReplayStore remembers accepted requests for RefuseReplays; setting
	// it refuses replays too. Use a shared store (see the redisreplay
	// package) when several processes receive the webhooks. Defaults to a
	// MemoryReplayStore of this Verifier's own.
	ReplayStore ReplayStore

	once sync.Once
	c    *verifierConfig
}

// Defaults of a Verifier.
const (
	DefaultTolerance    = 5 * time.Minute
	DefaultMaxBodyBytes = 1 << 20
)

// Verified describes a request whose signature held.
type Verified struct {
	// Timestamp is the signed time of the attempt.
	Timestamp time.Time

	// IdempotencyKey is the delivery's idempotency key: webhook-id, which
	// the signature covers, under Standard Webhooks; X-CIO-Idempotency-Key
	// under Customer.io's scheme, where the signature does not cover it and
	// it may be empty.
	IdempotencyKey string

	// KeyIndex is the index in Verifier.Keys of the key that matched, to
	// tell when an old key has stopped being used.
	KeyIndex int
}

// verifierConfig is a Verifier's configuration resolved once: defaults
// applied and keys copied.
type verifierConfig struct {
	keys      [][]byte
	scheme    Scheme
	tolerance int64 // seconds
	maxBody   int64
	now       func() time.Time
	onReject  func(*http.Request, error)
	replay    ReplayStore // nil: replays are not refused
	err       error       // a misconfiguration, returned for every request
}

func (v *Verifier) config() *verifierConfig {
	v.once.Do(func() {
		c := &verifierConfig{
			scheme:    v.Scheme,
			tolerance: int64(DefaultTolerance / time.Second),
			maxBody:   DefaultMaxBodyBytes,
			now:       time.Now,
			onReject:  v.OnReject,
		}
		if v.Tolerance > 0 {
			c.tolerance = int64((v.Tolerance + time.Second - 1) / time.Second)
		}
		if v.MaxBodyBytes > 0 {
			c.maxBody = v.MaxBodyBytes
		}
		if v.Now != nil {
			c.now = v.Now
		}
		switch {
		case v.ReplayStore != nil:
			c.replay = v.ReplayStore
		case v.RefuseReplays:
			c.replay = &MemoryReplayStore{Now: v.Now}
		}
		switch {
		case v.Scheme != SchemeCIO && v.Scheme != SchemeStandard:
			c.err = fmt.Errorf("%w: %v", ErrUnknownScheme, v.Scheme)
		case len(v.Keys) == 0:
			c.err = fmt.Errorf("%w: Verifier.Keys is empty", ErrNoKey)
		}
		for i, key := range v.Keys {
			if len(key) == 0 && c.err == nil {
				c.err = fmt.Errorf("%w: Verifier.Keys[%d] is empty", ErrNoKey, i)
			}
			c.keys = append(c.keys, bytes.Clone(key))
		}
		v.c = c
	})
	return v.c
}

// Verify checks the signature headers in h against body, and the signed
// timestamp against the clock. It works with any framework: pass the
// request's headers and its raw, unparsed body. It reads only h and body.
//
// The error matches ErrMissingHeader, ErrMalformedTimestamp,
// ErrMalformedSignature, ErrTimestampTooOld, ErrTimestampTooNew or
// ErrInvalidSignature, checked in that order, then ErrReplayed or
// ErrReplayStore when replays are refused; or ErrNoKey or ErrUnknownScheme
// when the Verifier is misconfigured. It is VerifyContext with
// context.Background().
func (v *Verifier) Verify(h http.Header, body []byte) (Verified, error) {
	return v.VerifyContext(context.Background(), h, body)
}

// VerifyContext is Verify with a context for the ReplayStore.
func (v *Verifier) VerifyContext(ctx context.Context, h http.Header, body []byte) (Verified, error) {
	c := v.config()
	if c.err != nil {
		return Verified{}, c.err
	}
	var (
		vd  Verified
		err error
	)
	if c.scheme == SchemeStandard {
		vd, err = c.verifyStandard(h, body)
	} else {
		vd, err = c.verifyCIO(h, body)
	}
	if err == nil {
		err = c.checkReplay(ctx, h, vd)
	}
	if err != nil {
		return Verified{}, err
	}
	return vd, nil
}

// Refusals of input from the network, made once: refusing a request costs
// no more than accepting one.
var (
	errMissingSignature        = fmt.Errorf("%w %s", ErrMissingHeader, HeaderSignature)
	errMissingTimestamp        = fmt.Errorf("%w %s", ErrMissingHeader, HeaderTimestamp)
	errMissingWebhookID        = fmt.Errorf("%w %s", ErrMissingHeader, HeaderWebhookID)
	errMissingWebhookTimestamp = fmt.Errorf("%w %s", ErrMissingHeader, HeaderWebhookTimestamp)
	errMissingWebhookSignature = fmt.Errorf("%w %s", ErrMissingHeader, HeaderWebhookSignature)
	errMalformedTimestamp      = fmt.Errorf("%w: want base-10 Unix seconds", ErrMalformedTimestamp)
	errMalformedStandardSigs   = fmt.Errorf("%w: want \"v1,\" and 32 bytes of base64", ErrMalformedSignature)
	errTooManyStandardSigs     = fmt.Errorf("%w: more than %d signatures", ErrMalformedSignature, maxStandardSignatures)
)

// header returns the first value of h under a canonical name.
func header(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c *verifierConfig) verifyCIO(h http.Header, body []byte) (Verified, error) {
	sig := header(h, canonicalSignature)
	if sig == "" {
		return Verified{}, errMissingSignature
	}
	tsText := header(h, canonicalTimestamp)
	if tsText == "" {
		return Verified{}, errMissingTimestamp
	}
	ts, ok := parseTimestamp(tsText)
	if !ok {
		return Verified{}, errMalformedTimestamp
	}
	var want [sha256.Size]byte
	if !decodeHexSignature(&want, sig) {
		return Verified{}, errNotHex
	}
	if err := c.checkTime(ts); err != nil {
		return Verified{}, err
	}
	for i, key := range c.keys {
		if hmac.Equal(cioMAC(key, ts, body), want[:]) {
			return Verified{
				Timestamp:      time.Unix(ts, 0),
				IdempotencyKey: h.Get(HeaderIdempotencyKey),
				KeyIndex:       i,
			}, nil
		}
	}
	return Verified{}, ErrInvalidSignature
}

// maxStandardSignatures bounds the signatures read from one
// webhook-signature header: a sender rotating keys sends two or three.
const maxStandardSignatures = 8

func (c *verifierConfig) verifyStandard(h http.Header, body []byte) (Verified, error) {
	id := header(h, canonicalWebhookID)
	if id == "" {
		return Verified{}, errMissingWebhookID
	}
	tsText := header(h, canonicalWebhookTimestamp)
	if tsText == "" {
		return Verified{}, errMissingWebhookTimestamp
	}
	sigs := header(h, canonicalWebhookSignature)
	if sigs == "" {
		return Verified{}, errMissingWebhookSignature
	}
	ts, ok := parseTimestamp(tsText)
	if !ok {
		return Verified{}, errMalformedTimestamp
	}
	var want [maxStandardSignatures][sha256.Size]byte
	n, err := parseStandardSignatures(&want, sigs)
	if err != nil {
		return Verified{}, err
	}
	if err := c.checkTime(ts); err != nil {
		return Verified{}, err
	}
	for i, key := range c.keys {
		got := standardMAC(key, id, ts, body)
		match := false
		for j := range n {
			match = hmac.Equal(got, want[j][:]) || match
		}
		if match {
			return Verified{Timestamp: time.Unix(ts, 0), IdempotencyKey: id, KeyIndex: i}, nil
		}
	}
	return Verified{}, ErrInvalidSignature
}

// parseStandardSignatures decodes the "v1," entries of a webhook-signature
// header, a space-separated list, into want and returns how many there
// were. Entries of other versions (v1a is asymmetric) are skipped, as the
// specification asks; a header without a single well-formed v1 entry is
// malformed.
func parseStandardSignatures(want *[maxStandardSignatures][sha256.Size]byte, s string) (int, error) {
	n := 0
	for len(s) > 0 {
		var entry string
		if i := strings.IndexByte(s, ' '); i >= 0 {
			entry, s = s[:i], s[i+1:]
		} else {
			entry, s = s, ""
		}
		if len(entry) < 3 || entry[:3] != "v1," {
			continue
		}
		if n == maxStandardSignatures {
			return 0, errTooManyStandardSigs
		}
		if decodeBase64Signature(&want[n], entry[3:]) {
			n++
		}
	}
	if n == 0 {
		return 0, errMalformedStandardSigs
	}
	return n, nil
}

// checkTime refuses a timestamp further than the tolerance from now. The
// detail says how far off it is, which is not a secret and is what a
// person debugging a clock wants to know.
func (c *verifierConfig) checkTime(ts int64) error {
	now := c.now().Unix()
	switch {
	case ts < now-c.tolerance:
		return fmt.Errorf("%w: signed %v ago, tolerance %v", ErrTimestampTooOld, age(now-ts), age(c.tolerance))
	case ts > now+c.tolerance:
		return fmt.Errorf("%w: signed %v ahead, tolerance %v", ErrTimestampTooNew, age(ts-now), age(c.tolerance))
	}
	return nil
}

// age formats a count of seconds as a Duration, saturating where a
// Duration would overflow.
func age(seconds int64) time.Duration {
	if seconds > int64(1<<63-1)/int64(time.Second) {
		return time.Duration(1<<63 - 1).Truncate(time.Second)
	}
	return time.Duration(seconds) * time.Second
}

// parseTimestamp accepts 1 to 18 decimal digits: Unix seconds, without
// sign, space or anything else, and small enough that no arithmetic on it
// overflows.
func parseTimestamp(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}

// hexValue maps an ASCII byte to its hex digit value, or 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
		t[c-'a'+'A'] = byte(c - 'a' + 10)
	}
	return t
}()

// decodeHexSignature decodes exactly 64 hex digits, of either case, into
// dst without allocating. The signature comes from the request, so the
// decoding need not be constant-time; the comparison that follows is.
func decodeHexSignature(dst *[sha256.Size]byte, s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo&0x0f
	}
	return bad&0xf0 == 0
}

// strictBase64 refuses non-canonical encodings, so that one MAC has exactly
// one accepted text, as it does under the reference library's comparison
// of strings.
var strictBase64 = base64.StdEncoding.Strict()

// decodeBase64Signature decodes exactly 32 bytes of padded standard base64
// into dst without allocating.
func decodeBase64Signature(dst *[sha256.Size]byte, s string) bool {
	const encodedLen = 44 // base64.StdEncoding.EncodedLen(sha256.Size)
	if len(s) != encodedLen {
		return false
	}
	var src [encodedLen]byte
	copy(src[:], s)
	var out [encodedLen]byte // Decode may write DecodedLen(44) = 33 bytes
	n, err := strictBase64.Decode(out[:], src[:])
	if err != nil || n != sha256.Size {
		return false
	}
	copy(dst[:], out[:n])
	return true
}

// VerifyRequest reads r's body under MaxBodyBytes, verifies it with its
// headers, and puts the body back so that r can be read again from the
// start, whether or not the signature holds. Use it where a framework hands
// you an *http.Request but middleware does not fit. Besides Verify's
// errors, it returns ErrBodyTooLarge, or the error that stopped the
// reading; the body is not restored after those.
func (v *Verifier) VerifyRequest(r *http.Request) (Verified, error) {
	vd, body, err := v.config().verifyRequest(nil, r)
	if body != nil || err == nil {
		r.Body = newBodyReader(body)
		r.ContentLength = int64(len(body))
	}
	return vd, err
}

// Middleware returns a handler that lets through only verified requests.
// It reads the raw body under MaxBodyBytes, verifies it, and calls next
// with the body restored, byte for byte, and the Verified details in the
// request's context (see VerifiedFromContext). A request that fails never
// reaches next: it gets 401 Unauthorized without detail, 413 Request Entity
// Too Large over the cap, 400 Bad Request if the body cannot be read, 500
// if the Verifier is misconfigured (no key, unknown scheme), so that a
// sender retries once it is fixed, and 503 if the ReplayStore fails.
// OnReject learns why.
//
// The configuration is resolved here, once, not per request.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	c := v.config()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vd, body, err := c.verifyRequest(w, r)
		if err != nil {
			if c.onReject != nil {
				c.onReject(r, err)
			}
			code := rejectStatus(err)
			http.Error(w, http.StatusText(code), code)
			return
		}
		r2 := r.WithContext(context.WithValue(r.Context(), verifiedKey{}, vd))
		r2.Body = newBodyReader(body)
		r2.ContentLength = int64(len(body))
		next.ServeHTTP(w, r2)
	})
}

func (c *verifierConfig) verifyRequest(w http.ResponseWriter, r *http.Request) (Verified, []byte, error) {
	if c.err != nil {
		return Verified{}, nil, c.err
	}
	body, err := readBody(w, r, c.maxBody)
	if err != nil {
		return Verified{}, nil, err
	}
	if body == nil {
		body = []byte{} // read, and empty: distinct from not read
	}
	var vd Verified
	if c.scheme == SchemeStandard {
		vd, err = c.verifyStandard(r.Header, body)
	} else {
		vd, err = c.verifyCIO(r.Header, body)
	}
	if err == nil {
		err = c.checkReplay(r.Context(), r.Header, vd)
	}
	if err != nil {
		return Verified{}, body, err
	}
	return vd, body, nil
}

// errReadBody marks a body that could not be read (the client went away,
// or sent less than its Content-Length): a 400, not a 401.
type errReadBody struct{ err error }

func (e errReadBody) Error() string { return "webhook: reading body: " + e.err.Error() }
func (e errReadBody) Unwrap() error { return e.err }

func rejectStatus(err error) int {
	var re errReadBody
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrNoKey), errors.Is(err, ErrUnknownScheme):
		return http.StatusInternalServerError
	case errors.Is(err, ErrReplayStore):
		return http.StatusServiceUnavailable
	case errors.As(err, &re):
		return http.StatusBadRequest
	}
	return http.StatusUnauthorized
}

// preallocBodyBytes bounds the buffer allocated for a declared
// Content-Length before any of the body has arrived. Past it, a full
// buffer grows to 1+growBodyBy times its size: a client holds at most four
// times the memory it sent.
const (
	preallocBodyBytes = 64 << 10
	growBodyBy        = 3
)

// readBody reads r's body, at most limit bytes. A declared Content-Length
// over the limit is refused before reading; a known length of up to
// preallocBodyBytes is read into a buffer of exactly that size, so the body
// is allocated once. A longer one grows its buffer as bytes arrive, so that
// a client that declares a large body and sends little holds little memory.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d, limit %d bytes", ErrBodyTooLarge, r.ContentLength, limit)
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	var (
		body []byte
		err  error
	)
	if want := r.ContentLength; want >= 0 {
		// One byte of spare capacity to check that the client told the
		// truth about the length, without another allocation.
		body = make([]byte, 0, min(want, preallocBodyBytes)+1)
		for err == nil && int64(len(body)) <= want {
			if len(body) == cap(body) {
				body = slices.Grow(body, int(min(growBodyBy*int64(cap(body)), want+1-int64(len(body)))))
			}
			var n int
			n, err = rd.Read(body[len(body):cap(body)])
			body = body[:len(body)+n]
		}
		switch {
		case int64(len(body)) > want:
			err = errors.New("body longer than its Content-Length")
		case err == io.EOF && int64(len(body)) < want:
			err = io.ErrUnexpectedEOF
		case err == io.EOF:
			err = nil
		}
	} else {
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, limit)
		}
		return nil, errReadBody{err}
	}
	return body, nil
}

// bodyReader gives the next handler the body again, with Close, in one
// allocation.
type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

func newBodyReader(b []byte) io.ReadCloser {
	br := &bodyReader{}
	br.Reset(b)
	return br
}

type verifiedKey struct{}

// VerifiedFromContext returns the Verified details that Middleware put in
// a request's context, and whether there were any.
func VerifiedFromContext(ctx context.Context) (Verified, bool) {
	vd, ok := ctx.Value(verifiedKey{}).(Verified)
	return vd, ok
}

// String describes v without its keys.
func (v *Verifier) String() string {
	if v == nil {
		return "<nil>"
	}
	return "webhook.Verifier{Keys: " + strconv.Itoa(len(v.Keys)) + " REDACTED, Scheme: " + v.Scheme.String() + "}"
}

// GoString hides the keys from %#v too.
func (v *Verifier) GoString() string { return v.String() }
