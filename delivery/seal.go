package delivery

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Sealing at rest. With Queue.Keys set, every value of the delivery log
// that is secret or personal is sealed with AES-256-GCM before it is
// written: a delivery's spec (its URL may hold a password, its headers
// tokens), data, mapped attributes and last error, and each attempt's
// error and response excerpt. What a worker, List's filters and an
// operator need without the key stays readable: ids, states, times,
// attempt numbers, statuses, error classes, the idempotency key and the
// metadata.
//
// A sealed value is text, so that it fits the columns as they are:
//
//	lhs1:KEYID:BASE64(nonce | ciphertext | tag)
//
// KEYID names the key that sealed it (8 hex digits derived from the key,
// so the right key is tried first and a wrong one is named without being
// shown). The additional data binds the value to its place: the delivery's
// id and the field, and for an attempt its series and number too, so a
// sealed value copied to another row or column does not open. Every value
// in the log is either sealed or plain, and a reader tells them apart by
// the prefix: a plain value that happens to start with "lhs1:" (a response
// can hold anything) is stored as "lhs1::" followed by the value.

// ErrSealed is matched (with errors.Is) by every *SealError: a sealed
// value in the log that the Queue's keys do not open.
var ErrSealed = errors.New("delivery: sealed value does not open")

// ErrSealKey is returned for sealing keys that cannot be used: not 32
// bytes, not base64 (ParseKeys), or none at all where one is needed
// (Rekey). It never repeats a key.
var ErrSealKey = errors.New("delivery: invalid sealing key")

// SealError reports a sealed value of the delivery log that does not
// open: sealed with a key the Queue does not hold (or while it holds
// none), altered, or moved from another delivery or field. It names the
// delivery and the field, and the key by its id only. Nothing is changed
// when it is returned.
type SealError struct {
	// ID is the delivery's.
	ID int64
	// Field names the value: "spec", "data", "attributes", "last_error",
	// or "attempt 1.2 response" (series 1, attempt 2).
	Field string
	// KeyID is the id of the key that sealed the value, or "" when the
	// value is not even well formed.
	KeyID string

	reason string
}

// Error says which value of which delivery does not open, and why.
func (e *SealError) Error() string {
	return fmt.Sprintf("delivery: delivery %d: %s %s", e.ID, e.Field, e.reason)
}

// Is makes errors.Is(err, ErrSealed) hold for every SealError.
func (e *SealError) Is(target error) bool { return target == ErrSealed }

// ParseKeys reads sealing keys as LIQUIDHOOK_DB_KEY holds them: one or
// more base64-encoded 32-byte keys, separated by commas. The first is the
// one that seals (see Queue.Keys). An error says which key is wrong, never
// what it holds.
func ParseKeys(s string) ([][]byte, error) {
	parts := strings.Split(s, ",")
	keys := make([][]byte, 0, len(parts))
	for i, p := range parts {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(p))
		switch {
		case err != nil:
			return nil, fmt.Errorf("%w: key %d of %d is not base64", ErrSealKey, i+1, len(parts))
		case len(k) != keySize:
			return nil, fmt.Errorf("%w: key %d of %d is %d bytes, want %d", ErrSealKey, i+1, len(parts), len(k), keySize)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// keySize is the size of an AES-256 key.
const keySize = 32

// sealPrefix starts every value the keyring wrote in its own format.
const sealPrefix = "lhs1:"

// keyIDLen is the length of a key id in hex digits.
const keyIDLen = 8

// sealKey is one key, ready to use.
type sealKey struct {
	id   string
	aead cipher.AEAD
}

// keyring holds a Queue's keys: the first seals, all open. A keyring
// without keys seals nothing and opens only plain values.
type keyring struct {
	keys []*sealKey
	err  error // a key that cannot be used, returned by every operation
}

// newKeyring prepares keys. A key of the wrong size makes a keyring whose
// every operation fails, rather than one that writes in plain text.
func newKeyring(keys [][]byte) *keyring {
	kr := &keyring{}
	for i, k := range keys {
		if len(k) != keySize {
			kr.err = fmt.Errorf("%w: Queue.Keys[%d] is %d bytes, want %d", ErrSealKey, i, len(k), keySize)
			return kr
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			kr.err = fmt.Errorf("%w: Queue.Keys[%d]: %w", ErrSealKey, i, err)
			return kr
		}
		// Random 96-bit nonces, drawn from crypto/rand and prepended.
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			kr.err = fmt.Errorf("%w: Queue.Keys[%d]: %w", ErrSealKey, i, err)
			return kr
		}
		kr.keys = append(kr.keys, &sealKey{id: keyID(k), aead: aead})
	}
	return kr
}

// keyID names a key without revealing it: the start of an HMAC of a fixed
// text under the key.
func keyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("liquidhook delivery log key id"))
	return hex.EncodeToString(m.Sum(nil))[:keyIDLen]
}

// sealing reports whether the keyring seals what it writes.
func (kr *keyring) sealing() bool { return len(kr.keys) > 0 }

// ids returns the ids of the keys, for the claim statements to pick only
// deliveries whose values this keyring opens.
func (kr *keyring) ids() []string {
	ids := make([]string, len(kr.keys))
	for i, k := range kr.keys {
		ids[i] = k.id
	}
	return ids
}

// place names where a value lives: its delivery and field, and for an
// attempt's values the attempt. It is the additional data of the seal.
type place struct {
	id             int64
	field          string
	series, number int // an attempt's; 0 for a delivery's fields
}

func (p place) String() string {
	if p.number == 0 {
		return p.field
	}
	return fmt.Sprintf("attempt %d.%d %s", p.series, p.number, p.field)
}

// additional returns the additional data that binds a value to p.
func (p place) additional() []byte {
	b := make([]byte, 0, 64)
	b = append(b, "liquidhook "...)
	b = strconv.AppendInt(b, p.id, 10)
	b = append(b, ' ')
	b = append(b, p.field...)
	if p.number != 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(p.series), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(p.number), 10)
	}
	return b
}

// seal returns plain as it is stored at p: sealed under the first key, or
// plain without keys. An empty value stays empty: it tells nothing that
// the delivery's state does not.
func (kr *keyring) seal(p place, plain []byte) ([]byte, error) {
	if kr.err != nil {
		return nil, kr.err
	}
	if len(plain) == 0 {
		return plain, nil
	}
	if !kr.sealing() {
		if bytes.HasPrefix(plain, []byte(sealPrefix)) {
			return append([]byte(sealPrefix+":"), plain...), nil
		}
		return plain, nil
	}
	k := kr.keys[0]
	sealed := k.aead.Seal(nil, nil, plain, p.additional())
	out := make([]byte, 0, len(sealPrefix)+keyIDLen+1+base64.RawStdEncoding.EncodedLen(len(sealed)))
	out = append(out, sealPrefix...)
	out = append(out, k.id...)
	out = append(out, ':')
	return base64.RawStdEncoding.AppendEncode(out, sealed), nil
}

// open returns the plain value stored at p.
func (kr *keyring) open(p place, stored []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(stored, []byte(sealPrefix))
	if !ok {
		return stored, nil
	}
	if kr.err != nil {
		return nil, kr.err
	}
	rawID, body, ok := bytes.Cut(rest, []byte(":"))
	id := string(rawID)
	if !ok || id != "" && len(id) != keyIDLen {
		return nil, &SealError{ID: p.id, Field: p.String(), reason: "is not a well-formed sealed value"}
	}
	if id == "" {
		return body, nil // a plain value that starts like a sealed one
	}
	sealed, err := base64.RawStdEncoding.AppendDecode(nil, body)
	if err != nil {
		return nil, &SealError{ID: p.id, Field: p.String(), KeyID: id, reason: "is not a well-formed sealed value"}
	}
	if !kr.sealing() {
		return nil, &SealError{ID: p.id, Field: p.String(), KeyID: id,
			reason: "is sealed (key " + id + ") and the queue has no key"}
	}
	tried := false
	for _, k := range kr.keys {
		if k.id != id {
			continue
		}
		tried = true
		if plain, err := k.aead.Open(nil, nil, sealed, p.additional()); err == nil {
			return plain, nil
		}
	}
	if !tried {
		return nil, &SealError{ID: p.id, Field: p.String(), KeyID: id,
			reason: "is sealed with key " + id + ", which is not among the queue's keys"}
	}
	return nil, &SealError{ID: p.id, Field: p.String(), KeyID: id,
		reason: "does not open with key " + id + ": it was altered, or moved from another delivery or field"}
}

// sealString and openString are seal and open for text columns.
func (kr *keyring) sealString(p place, plain string) (string, error) {
	b, err := kr.seal(p, []byte(plain))
	return string(b), err
}

func (kr *keyring) openString(p place, stored string) (string, error) {
	b, err := kr.open(p, []byte(stored))
	return string(b), err
}

// canOpen returns a *SealError if a value of delivery id, given by field
// as its first 14 bytes at least, is sealed with a key the keyring does
// not hold.
func (kr *keyring) canOpen(id int64, prefixes map[string]string) error {
	for _, field := range slices.Sorted(maps.Keys(prefixes)) {
		kid := sealedWith(prefixes[field])
		if kid == "" || slices.Contains(kr.ids(), kid) {
			continue
		}
		// open says why, as it would for the whole value.
		_, err := kr.open(place{id: id, field: field}, []byte(sealPrefix+kid+":"))
		return err
	}
	return nil
}

// sealedWith returns the id of the key that sealed stored, or "" for a
// plain value.
func sealedWith(stored string) string {
	rest, ok := strings.CutPrefix(stored, sealPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}
