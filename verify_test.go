package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
)

func TestVerifyKnownAnswer(t *testing.T) {
	key, body := []byte(kaKey), []byte(kaBody)
	for _, sig := range []string{kaSignature, strings.ToUpper(kaSignature), kaSignature[:32] + strings.ToUpper(kaSignature[32:])} {
		assert.NoError(t, webhook.Verify(key, sig, kaTimestamp, body), sig)
	}
}

func TestVerifyRefusals(t *testing.T) {
	key, body := []byte(kaKey), []byte(kaBody)
	tests := []struct {
		name      string
		key       []byte
		signature string
		timestamp int64
		body      []byte
		wantErr   error
	}{
		{"wrong key", []byte("signing-secreT"), kaSignature, kaTimestamp, body, webhook.ErrInvalidSignature},
		{"tampered body", key, kaSignature, kaTimestamp, []byte(strings.Replace(kaBody, "delivered", "opened", 1)), webhook.ErrInvalidSignature},
		{"body with trailing newline", key, kaSignature, kaTimestamp, []byte(kaBody + "\n"), webhook.ErrInvalidSignature},
		{"other timestamp", key, kaSignature, kaTimestamp + 1, body, webhook.ErrInvalidSignature},
		{"one digit changed", key, "7" + kaSignature[1:], kaTimestamp, body, webhook.ErrInvalidSignature},
		{"short hex", key, kaSignature[:62], kaTimestamp, body, webhook.ErrMalformedSignature},
		{"long hex", key, kaSignature + "00", kaTimestamp, body, webhook.ErrMalformedSignature},
		{"not hex", key, "zz" + kaSignature[2:], kaTimestamp, body, webhook.ErrMalformedSignature},
		{"prefixed", key, "v0=" + kaSignature[3:], kaTimestamp, body, webhook.ErrMalformedSignature},
		{"empty signature", key, "", kaTimestamp, body, webhook.ErrMalformedSignature},
		{"empty key", nil, kaSignature, kaTimestamp, body, webhook.ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.key, tt.signature, tt.timestamp, tt.body)
			require.ErrorIs(t, err, tt.wantErr)
			if errors.Is(tt.wantErr, webhook.ErrMalformedSignature) {
				assert.ErrorIs(t, err, webhook.ErrInvalidSignature, "a malformed signature is an invalid one too")
			}
			assert.NotContains(t, err.Error(), kaKey)
		})
	}
}

// fixedNow is the clock of the table tests: the known answer's own time.
func fixedNow() time.Time { return time.Unix(kaTimestamp, 0) }

// cioHeader returns the headers Customer.io would send for body at ts.
func cioHeader(key []byte, ts int64, body []byte, idem string) http.Header {
	h := make(http.Header)
	_ = webhook.CIOSigner{Key: key}.SignHeader(h, idem, ts, body)
	if idem != "" {
		h.Set(webhook.HeaderIdempotencyKey, idem)
	}
	return h
}

func TestVerifierCIO(t *testing.T) {
	oldKey, newKey := []byte("old-key"), []byte(kaKey)
	body := []byte(kaBody)
	const idem = "5f2b6c1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
	signed := func(key []byte, ts int64) http.Header { return cioHeader(key, ts, body, idem) }
	with := func(h http.Header, name, value string) http.Header {
		h = h.Clone()
		if value == "" {
			h.Del(name)
		} else {
			h.Set(name, value)
		}
		return h
	}
	good := signed(newKey, kaTimestamp)
	tests := []struct {
		name     string
		header   http.Header
		body     []byte
		wantErr  error
		wantKey  int
		wantIdem string
	}{
		{"valid", good, body, nil, 1, idem},
		{"valid under the old key", signed(oldKey, kaTimestamp), body, nil, 0, idem},
		{"uppercase hex", with(good, webhook.HeaderSignature, strings.ToUpper(kaSignature)), body, nil, 1, idem},
		{"no idempotency key", with(good, webhook.HeaderIdempotencyKey, ""), body, nil, 1, ""},
		{"exactly the tolerance old", signed(newKey, kaTimestamp-300), body, nil, 1, idem},
		{"exactly the tolerance ahead", signed(newKey, kaTimestamp+300), body, nil, 1, idem},
		{"wrong key", signed([]byte("stranger"), kaTimestamp), body, webhook.ErrInvalidSignature, 0, ""},
		{"tampered body", good, []byte(`{"event_id":"abd","object_type":"email","metric":"delivered"}`), webhook.ErrInvalidSignature, 0, ""},
		{"timestamp changed", with(good, webhook.HeaderTimestamp, strconv.Itoa(kaTimestamp+1)), body, webhook.ErrInvalidSignature, 0, ""},
		{"old", signed(newKey, kaTimestamp-301), body, webhook.ErrTimestampTooOld, 0, ""},
		{"replayed a day later", signed(newKey, kaTimestamp-86400), body, webhook.ErrTimestampTooOld, 0, ""},
		{"future", signed(newKey, kaTimestamp+301), body, webhook.ErrTimestampTooNew, 0, ""},
		{"malformed hex", with(good, webhook.HeaderSignature, "g"+kaSignature[1:]), body, webhook.ErrMalformedSignature, 0, ""},
		{"short hex", with(good, webhook.HeaderSignature, kaSignature[:63]), body, webhook.ErrMalformedSignature, 0, ""},
		{"timestamp not a number", with(good, webhook.HeaderTimestamp, "yesterday"), body, webhook.ErrMalformedTimestamp, 0, ""},
		{"negative timestamp", with(good, webhook.HeaderTimestamp, "-1614265384"), body, webhook.ErrMalformedTimestamp, 0, ""},
		{"signed timestamp", with(good, webhook.HeaderTimestamp, "+1614265384"), body, webhook.ErrMalformedTimestamp, 0, ""},
		{"timestamp in milliseconds overflowing", with(good, webhook.HeaderTimestamp, "9223372036854775808"), body, webhook.ErrMalformedTimestamp, 0, ""},
		{"timestamp in milliseconds", with(good, webhook.HeaderTimestamp, "1614265384000"), body, webhook.ErrTimestampTooNew, 0, ""},
		{"missing signature", with(good, webhook.HeaderSignature, ""), body, webhook.ErrMissingHeader, 0, ""},
		{"missing timestamp", with(good, webhook.HeaderTimestamp, ""), body, webhook.ErrMissingHeader, 0, ""},
		{"no headers", http.Header{}, body, webhook.ErrMissingHeader, 0, ""},
		{"standard headers only", standardHeader(t, newKey, "msg_1", kaTimestamp, body), body, webhook.ErrMissingHeader, 0, ""},
	}
	v := &webhook.Verifier{Keys: [][]byte{oldKey, newKey}, Now: fixedNow}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(tt.header, tt.body)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, webhook.Verified{}, got)
				assert.NotContains(t, err.Error(), kaKey)
				return
			}
			require.NoError(t, err)
			ts, _ := strconv.ParseInt(tt.header.Get(webhook.HeaderTimestamp), 10, 64)
			assert.Equal(t, webhook.Verified{Timestamp: time.Unix(ts, 0), IdempotencyKey: tt.wantIdem, KeyIndex: tt.wantKey}, got)
		})
	}
}

// The refusals group as callers test them: too old and too new are out of
// range; a malformed signature is an invalid one.
func TestVerifierErrorFamilies(t *testing.T) {
	v := &webhook.Verifier{Keys: [][]byte{[]byte(kaKey)}, Now: fixedNow}
	_, err := v.Verify(cioHeader([]byte(kaKey), kaTimestamp-3600, nil, ""), nil)
	assert.ErrorIs(t, err, webhook.ErrTimestampOutOfRange)
	assert.Contains(t, err.Error(), "signed 1h0m0s ago, tolerance 5m0s")
	_, err = v.Verify(cioHeader([]byte(kaKey), kaTimestamp+3600, nil, ""), nil)
	assert.ErrorIs(t, err, webhook.ErrTimestampOutOfRange)
	assert.Contains(t, err.Error(), "signed 1h0m0s ahead")
	assert.NotErrorIs(t, err, webhook.ErrTimestampTooOld)
}

func standardHeader(t testing.TB, key []byte, id string, ts int64, body []byte) http.Header {
	t.Helper()
	h := make(http.Header)
	require.NoError(t, webhook.StandardSigner{Keys: [][]byte{key}}.SignHeader(h, id, ts, body))
	return h
}

func TestVerifierStandard(t *testing.T) {
	vec := standardVectors[0]
	key, err := webhook.ParseStandardSecret(vec.secret)
	require.NoError(t, err)
	body := []byte(vec.body)
	good := http.Header{}
	good.Set(webhook.HeaderWebhookID, vec.id)
	good.Set(webhook.HeaderWebhookTimestamp, strconv.FormatInt(vec.timestamp, 10))
	good.Set(webhook.HeaderWebhookSignature, vec.signature)
	with := func(name, value string) http.Header {
		h := good.Clone()
		if value == "" {
			h.Del(name)
		} else {
			h.Set(name, value)
		}
		return h
	}
	sig := strings.TrimPrefix(vec.signature, "v1,")
	mixedCase := http.Header{}
	mixedCase.Set("WEBHOOK-ID", vec.id)
	mixedCase.Set("Webhook-TIMESTAMP", strconv.FormatInt(vec.timestamp, 10))
	mixedCase.Add("webhook-SIGNATURE", vec.signature)
	junk := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	tests := []struct {
		name    string
		header  http.Header
		body    []byte
		wantErr error
	}{
		{"published vector", good, body, nil},
		{"among other signatures", with(webhook.HeaderWebhookSignature, junk+" v2,"+sig+" "+vec.signature+" "+junk), body, nil},
		{"beside an asymmetric one", with(webhook.HeaderWebhookSignature, "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== "+vec.signature), body, nil},
		{"beside a malformed one", with(webhook.HeaderWebhookSignature, "v1,short "+vec.signature), body, nil},
		{"header names in other cases", mixedCase, body, nil},
		{"wrong signature", with(webhook.HeaderWebhookSignature, junk), body, webhook.ErrInvalidSignature},
		{"tampered body", good, []byte(`{"test": 2432232315}`), webhook.ErrInvalidSignature},
		{"tampered id", with(webhook.HeaderWebhookID, "msg_p5jXN8AQM9LWM0D4loKWxJeK"), body, webhook.ErrInvalidSignature},
		{"tampered timestamp", with(webhook.HeaderWebhookTimestamp, strconv.FormatInt(vec.timestamp+1, 10)), body, webhook.ErrInvalidSignature},
		{"only a v2 signature", with(webhook.HeaderWebhookSignature, "v2,"+sig), body, webhook.ErrMalformedSignature},
		{"partial signature", with(webhook.HeaderWebhookSignature, "v1,"), body, webhook.ErrMalformedSignature},
		{"truncated signature", with(webhook.HeaderWebhookSignature, vec.signature[:8]), body, webhook.ErrMalformedSignature},
		{"no version", with(webhook.HeaderWebhookSignature, sig), body, webhook.ErrMalformedSignature},
		{"url-safe base64", with(webhook.HeaderWebhookSignature, "v1,"+strings.NewReplacer("+", "-", "/", "_").Replace(sig)), body, webhook.ErrMalformedSignature},
		{"unpadded base64", with(webhook.HeaderWebhookSignature, strings.TrimSuffix(vec.signature, "=")), body, webhook.ErrMalformedSignature},
		{"too many signatures", with(webhook.HeaderWebhookSignature, strings.Repeat(junk+" ", 8)+vec.signature), body, webhook.ErrMalformedSignature},
		{"timestamp not a number", with(webhook.HeaderWebhookTimestamp, "hello"), body, webhook.ErrMalformedTimestamp},
		{"missing id", with(webhook.HeaderWebhookID, ""), body, webhook.ErrMissingHeader},
		{"missing timestamp", with(webhook.HeaderWebhookTimestamp, ""), body, webhook.ErrMissingHeader},
		{"missing signature", with(webhook.HeaderWebhookSignature, ""), body, webhook.ErrMissingHeader},
		{"customer.io headers only", cioHeader(key, vec.timestamp, body, "x"), body, webhook.ErrMissingHeader},
	}
	v := &webhook.Verifier{Scheme: webhook.SchemeStandard, Keys: [][]byte{key}, Now: func() time.Time { return time.Unix(vec.timestamp, 0) }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(tt.header, tt.body)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, webhook.Verified{Timestamp: time.Unix(vec.timestamp, 0), IdempotencyKey: vec.id}, got)
		})
	}

	t.Run("stale and future", func(t *testing.T) {
		for _, tc := range []struct {
			offset  time.Duration
			wantErr error
		}{
			{-5*time.Minute - time.Second, webhook.ErrTimestampTooOld},
			{5*time.Minute + time.Second, webhook.ErrTimestampTooNew},
		} {
			at := time.Unix(vec.timestamp, 0).Add(-tc.offset)
			v := &webhook.Verifier{Scheme: webhook.SchemeStandard, Keys: [][]byte{key}, Now: func() time.Time { return at }}
			_, err := v.Verify(good, body)
			assert.ErrorIs(t, err, tc.wantErr, "offset %v", tc.offset)
		}
	})

	t.Run("rust vector", func(t *testing.T) {
		vec := standardVectors[1]
		key, err := webhook.ParseStandardSecret(vec.secret)
		require.NoError(t, err)
		h := http.Header{}
		h.Set(webhook.HeaderWebhookID, vec.id)
		h.Set(webhook.HeaderWebhookTimestamp, strconv.FormatInt(vec.timestamp, 10))
		h.Set(webhook.HeaderWebhookSignature, vec.signature)
		v := &webhook.Verifier{Scheme: webhook.SchemeStandard, Keys: [][]byte{[]byte("other"), key}, Now: func() time.Time { return time.Unix(vec.timestamp+60, 0) }}
		got, err := v.Verify(h, []byte(vec.body))
		require.NoError(t, err)
		assert.Equal(t, 1, got.KeyIndex)
	})
}

// Signatures made by the standard-webhooks library verify with Verifier.
func TestVerifierInteropLibrarySigns(t *testing.T) {
	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
	var keys [][]byte
	for _, s := range secrets {
		k, err := webhook.ParseStandardSecret(s)
		require.NoError(t, err)
		keys = append(keys, k)
	}
	at := time.Unix(1700000000, 0)
	v := &webhook.Verifier{Scheme: webhook.SchemeStandard, Keys: keys, Now: func() time.Time { return at.Add(time.Minute) }}
	for i, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		require.NoError(t, err)
		for _, body := range [][]byte{nil, []byte(`{"type":"user.created"}`), bytes.Repeat([]byte("x."), 5000)} {
			id := webhook.NewIdempotencyKey()
			sig, err := wh.Sign(id, at, body)
			require.NoError(t, err)
			h := http.Header{}
			h.Set(standardwebhooks.HeaderWebhookID, id)
			h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
			h.Set(standardwebhooks.HeaderWebhookSignature, sig)
			got, err := v.Verify(h, body)
			require.NoError(t, err)
			assert.Equal(t, webhook.Verified{Timestamp: at, IdempotencyKey: id, KeyIndex: i}, got)

			_, err = v.Verify(h, append(bytes.Clone(body), '!'))
			assert.ErrorIs(t, err, webhook.ErrInvalidSignature)
		}
	}
}

func TestVerifierMisconfigured(t *testing.T) {
	body := []byte(kaKey)
	h := cioHeader([]byte(kaKey), kaTimestamp, body, "")
	tests := []struct {
		name    string
		v       *webhook.Verifier
		wantErr error
	}{
		{"zero value", &webhook.Verifier{}, webhook.ErrNoKey},
		{"an empty key", &webhook.Verifier{Keys: [][]byte{[]byte(kaKey), {}}}, webhook.ErrNoKey},
		{"unknown scheme", &webhook.Verifier{Keys: [][]byte{[]byte(kaKey)}, Scheme: webhook.Scheme(7)}, webhook.ErrUnknownScheme},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.v.Now = fixedNow
			_, err := tt.v.Verify(h, body)
			require.ErrorIs(t, err, tt.wantErr)

			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			req.Header = h.Clone()
			_, err = tt.v.VerifyRequest(req)
			require.ErrorIs(t, err, tt.wantErr)

			var called atomic.Int32
			rec := httptest.NewRecorder()
			tt.v.Middleware(countingHandler(&called)).ServeHTTP(rec, req)
			assert.Equal(t, http.StatusInternalServerError, rec.Code, "a misconfigured receiver answers 500 so the sender retries")
			assert.Zero(t, called.Load())
		})
	}
}

// The zero value's defaults: five minutes either way, and Now from the
// clock.
func TestVerifierDefaults(t *testing.T) {
	key := []byte(kaKey)
	now := time.Now().Unix()
	v := &webhook.Verifier{Keys: [][]byte{key}}
	for _, tc := range []struct {
		offset  int64
		wantErr error
	}{
		{0, nil},
		{-290, nil},
		{290, nil},
		{-310, webhook.ErrTimestampTooOld},
		{310, webhook.ErrTimestampTooNew},
	} {
		_, err := v.Verify(cioHeader(key, now+tc.offset, nil, ""), nil)
		if tc.wantErr == nil {
			assert.NoError(t, err, "offset %d", tc.offset)
		} else {
			assert.ErrorIs(t, err, tc.wantErr, "offset %d", tc.offset)
		}
	}
	assert.Equal(t, 5*time.Minute, webhook.DefaultTolerance)
	assert.Equal(t, 1<<20, webhook.DefaultMaxBodyBytes)
}

func TestVerifierTolerance(t *testing.T) {
	key := []byte(kaKey)
	for _, tc := range []struct {
		tolerance time.Duration
		offset    int64
		wantErr   error
	}{
		{time.Second, 1, nil},
		{time.Second, 2, webhook.ErrTimestampTooNew},
		{1500 * time.Millisecond, -2, nil}, // whole seconds, rounded up
		{1500 * time.Millisecond, -3, webhook.ErrTimestampTooOld},
		{time.Hour, -3600, nil},
		{time.Hour, 3601, webhook.ErrTimestampTooNew},
	} {
		v := &webhook.Verifier{Keys: [][]byte{key}, Tolerance: tc.tolerance, Now: fixedNow}
		_, err := v.Verify(cioHeader(key, kaTimestamp+tc.offset, nil, ""), nil)
		if tc.wantErr == nil {
			assert.NoError(t, err, "tolerance %v offset %d", tc.tolerance, tc.offset)
		} else {
			assert.ErrorIs(t, err, tc.wantErr, "tolerance %v offset %d", tc.tolerance, tc.offset)
		}
	}
}

func TestVerifierConcurrentUse(t *testing.T) {
	keys := [][]byte{[]byte("k0"), []byte("k1"), []byte("k2")}
	v := &webhook.Verifier{Keys: keys, Now: fixedNow}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(keys)
				body := []byte(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))
				got, err := v.Verify(cioHeader(keys[k], kaTimestamp, body, ""), body)
				if !assert.NoError(t, err) || !assert.Equal(t, k, got.KeyIndex) {
					return
				}
				_, err = v.Verify(cioHeader(keys[k], kaTimestamp, body, ""), append(body, ' '))
				if !assert.ErrorIs(t, err, webhook.ErrInvalidSignature) {
					return
				}
			}
		})
	}
	wg.Wait()
}

func countingHandler(n *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
}

// seen records what the next handler was given.
type seen struct {
	mu       sync.Mutex
	calls    int
	body     []byte
	verified webhook.Verified
	ok       bool
}

func (s *seen) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		vd, ok := webhook.VerifiedFromContext(r.Context())
		s.mu.Lock()
		s.calls++
		s.body, s.verified, s.ok = body, vd, ok
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
}

func TestMiddleware(t *testing.T) {
	key := []byte(kaKey)
	now := time.Now()
	ts := now.Unix()
	const limit = 4096
	bigBody := bytes.Repeat([]byte("a"), limit+1)
	atLimit := bytes.Repeat([]byte("b"), limit)
	binary := []byte{0, 1, 2, 0xff, '\r', '\n', 0x80}
	tests := []struct {
		name     string
		body     []byte
		header   http.Header
		chunked  bool // no Content-Length
		wantCode int
		wantErr  error
	}{
		{"valid JSON", []byte(kaBody), cioHeader(key, ts, []byte(kaBody), "idem-1"), false, http.StatusAccepted, nil},
		{"valid binary", binary, cioHeader(key, ts, binary, "idem-2"), false, http.StatusAccepted, nil},
		{"valid empty", nil, cioHeader(key, ts, nil, "idem-3"), false, http.StatusAccepted, nil},
		{"valid chunked", []byte(kaBody), cioHeader(key, ts, []byte(kaBody), "idem-4"), true, http.StatusAccepted, nil},
		{"exactly at the cap", atLimit, cioHeader(key, ts, atLimit, "idem-5"), false, http.StatusAccepted, nil},
		{"wrong key", []byte(kaBody), cioHeader([]byte("nope"), ts, []byte(kaBody), ""), false, http.StatusUnauthorized, webhook.ErrInvalidSignature},
		{"tampered body", []byte(kaBody + " "), cioHeader(key, ts, []byte(kaBody), ""), false, http.StatusUnauthorized, webhook.ErrInvalidSignature},
		{"stale", []byte(kaBody), cioHeader(key, ts-3600, []byte(kaBody), ""), false, http.StatusUnauthorized, webhook.ErrTimestampTooOld},
		{"future", []byte(kaBody), cioHeader(key, ts+3600, []byte(kaBody), ""), false, http.StatusUnauthorized, webhook.ErrTimestampTooNew},
		{"unsigned", []byte(kaBody), http.Header{}, false, http.StatusUnauthorized, webhook.ErrMissingHeader},
		{"over the cap", bigBody, cioHeader(key, ts, bigBody, ""), false, http.StatusRequestEntityTooLarge, webhook.ErrBodyTooLarge},
		{"over the cap, chunked", bigBody, cioHeader(key, ts, bigBody, ""), true, http.StatusRequestEntityTooLarge, webhook.ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s seen
			var rejected error
			v := &webhook.Verifier{
				Keys:         [][]byte{key},
				MaxBodyBytes: limit,
				Now:          func() time.Time { return now },
				OnReject:     func(_ *http.Request, err error) { rejected = err },
			}
			var body io.Reader = bytes.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length from httptest
			}
			req := httptest.NewRequest(http.MethodPost, "/hooks", body)
			for k, vs := range tt.header {
				req.Header[k] = vs
			}
			rec := httptest.NewRecorder()
			v.Middleware(s.handler()).ServeHTTP(rec, req)

			assert.Equal(t, tt.wantCode, rec.Code)
			if tt.wantErr != nil {
				assert.Zero(t, s.calls, "a refused request reached the handler")
				require.ErrorIs(t, rejected, tt.wantErr)
				assert.Equal(t, http.StatusText(tt.wantCode)+"\n", rec.Body.String(), "the refusal must not explain itself")
				return
			}
			require.NoError(t, rejected)
			require.Equal(t, 1, s.calls)
			assert.True(t, bytes.Equal(tt.body, s.body), "the handler saw a different body: %q", s.body)
			require.True(t, s.ok, "no Verified in the context")
			assert.Equal(t, time.Unix(ts, 0), s.verified.Timestamp)
			assert.Equal(t, tt.header.Get(webhook.HeaderIdempotencyKey), s.verified.IdempotencyKey)
		})
	}
}

// Over a real connection, with a real client: the Sender's signers on one
// side, Middleware on the other.
func TestMiddlewareOverHTTP(t *testing.T) {
	cioKey := []byte(kaKey)
	stdKey, err := webhook.ParseStandardSecret(standardVectors[0].secret)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		scheme webhook.Scheme
		signer webhook.Signer
		key    []byte
	}{
		{"cio", webhook.SchemeCIO, webhook.CIOSigner{Key: cioKey}, cioKey},
		{"standard", webhook.SchemeStandard, webhook.StandardSigner{Keys: [][]byte{stdKey}}, stdKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			v := &webhook.Verifier{Keys: [][]byte{tc.key}, Scheme: tc.scheme, MaxBodyBytes: 1 << 16}
			srv := httptest.NewServer(v.Middleware(s.handler()))
			defer srv.Close()

			send := func(body []byte, ts int64, sign bool, chunked bool) int {
				t.Helper()
				var rd io.Reader = bytes.NewReader(body)
				if chunked {
					rd = io.MultiReader(rd)
				}
				req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/hook", rd)
				require.NoError(t, err)
				id := webhook.NewIdempotencyKey()
				req.Header.Set(webhook.HeaderIdempotencyKey, id)
				if sign {
					require.NoError(t, tc.signer.SignHeader(req.Header, id, ts, body))
				}
				resp, err := srv.Client().Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					assert.Equal(t, id, s.verified.IdempotencyKey)
				}
				return resp.StatusCode
			}
			body := []byte(`{"customer":{"id":"42","email":"win@customer.io"}}`)
			now := time.Now().Unix()
			assert.Equal(t, http.StatusAccepted, send(body, now, true, false))
			assert.Equal(t, body, s.body)
			assert.Equal(t, http.StatusAccepted, send(body, now, true, true))
			assert.Equal(t, http.StatusUnauthorized, send(body, now, false, false))
			assert.Equal(t, http.StatusUnauthorized, send(body, now-600, true, false))
			big := bytes.Repeat([]byte("z"), 1<<16+1)
			assert.Equal(t, http.StatusRequestEntityTooLarge, send(big, now, true, false))
			// (An oversized chunked body is refused the same way, see
			// TestMiddleware; over a socket the server then lingers half a
			// second before closing, which this suite need not wait for.)
			assert.Equal(t, 2, s.calls)
		})
	}
}

func TestVerifyRequestRestoresBody(t *testing.T) {
	key := []byte(kaKey)
	body := []byte(kaBody)
	v := &webhook.Verifier{Keys: [][]byte{key}, Now: fixedNow}
	for _, tc := range []struct {
		name    string
		header  http.Header
		wantErr error
	}{
		{"valid", cioHeader(key, kaTimestamp, body, "k"), nil},
		{"invalid", cioHeader([]byte("other"), kaTimestamp, body, "k"), webhook.ErrInvalidSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			req.Header = tc.header
			vd, err := v.VerifyRequest(req)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, "k", vd.IdempotencyKey)
			}
			again, err := io.ReadAll(req.Body)
			require.NoError(t, err)
			assert.Equal(t, body, again)
			assert.NoError(t, req.Body.Close())
		})
	}
}

// A client that sends less than its Content-Length gets 400, not 401.
func TestMiddlewareShortBody(t *testing.T) {
	key := []byte(kaKey)
	v := &webhook.Verifier{Keys: [][]byte{key}, Now: fixedNow}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	req.ContentLength = 10
	req.Header = cioHeader(key, kaTimestamp, []byte("{}"), "")
	var called atomic.Int32
	var rejected error
	v.OnReject = func(_ *http.Request, err error) { rejected = err }
	rec := httptest.NewRecorder()
	v.Middleware(countingHandler(&called)).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Zero(t, called.Load())
	assert.ErrorIs(t, rejected, io.ErrUnexpectedEOF)
}

// goneReader sends a few bytes and then fails, as a client that went away
// does.
type goneReader struct{ sent bool }

func (g *goneReader) Read(p []byte) (int, error) {
	if g.sent {
		return 0, io.ErrUnexpectedEOF
	}
	g.sent = true
	return copy(p, "{}"), nil
}

// A client that declares a large body and sends little holds little
// memory: the buffer grows with what arrives, not with what is declared.
func TestMiddlewareDeclaredLengthNotAllocated(t *testing.T) {
	key := []byte(kaKey)
	v := &webhook.Verifier{Keys: [][]byte{key}, Now: fixedNow}
	var called atomic.Int32
	h := v.Middleware(countingHandler(&called))
	const requests = 16
	var before, after runtimeMem
	before.read()
	for range requests {
		req := httptest.NewRequest(http.MethodPost, "/", &goneReader{})
		req.ContentLength = webhook.DefaultMaxBodyBytes
		req.Header = cioHeader(key, kaTimestamp, []byte("{}"), "")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusBadRequest, rec.Code)
	}
	after.read()
	assert.Zero(t, called.Load())
	assert.Less(t, after.total-before.total, uint64(requests*webhook.DefaultMaxBodyBytes/4))
}

func TestVerifiedFromContextEmpty(t *testing.T) {
	vd, ok := webhook.VerifiedFromContext(context.Background())
	assert.False(t, ok)
	assert.Equal(t, webhook.Verified{}, vd)
}

// FuzzVerify checks Verify against a straightforward reading of the
// contract: it accepts exactly the hex, in any case, of the right MAC, and
// calls malformed exactly what encoding/hex cannot decode to 32 bytes.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(kaKey), kaSignature, int64(kaTimestamp), []byte(kaBody))
	f.Add([]byte(kaKey), strings.ToUpper(kaSignature), int64(kaTimestamp), []byte(kaBody))
	f.Add([]byte(kaKey), kaSignature[:63]+"g", int64(kaTimestamp), []byte(kaBody))
	f.Add([]byte("k"), "", int64(-1), []byte{})
	f.Add([]byte{}, kaSignature, int64(0), []byte("x"))
	f.Add([]byte("k"), strings.Repeat("0", 64), int64(1<<62), []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, key []byte, sig string, ts int64, body []byte) {
		err := webhook.Verify(key, sig, ts, body)
		if len(key) == 0 {
			require.ErrorIs(t, err, webhook.ErrNoKey)
			return
		}
		decoded, hexErr := hex.DecodeString(sig)
		wellFormed := hexErr == nil && len(decoded) == sha256.Size
		if !wellFormed {
			require.ErrorIs(t, err, webhook.ErrMalformedSignature)
			return
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte("v0:" + strconv.FormatInt(ts, 10) + ":"))
		mac.Write(body)
		if bytes.Equal(mac.Sum(nil), decoded) {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, webhook.ErrInvalidSignature)
			require.NotErrorIs(t, err, webhook.ErrMalformedSignature)
		}
		// Round trip: what Sign makes, Verify takes, in both cases.
		good := webhook.Sign(key, ts, body)
		require.NoError(t, webhook.Verify(key, good, ts, body))
		require.NoError(t, webhook.Verify(key, strings.ToUpper(good), ts, body))
	})
}

// knownErrors are every refusal a Verifier may give for input from the
// network.
var knownErrors = []error{
	webhook.ErrMissingHeader, webhook.ErrMalformedTimestamp, webhook.ErrMalformedSignature,
	webhook.ErrTimestampOutOfRange, webhook.ErrInvalidSignature,
}

// FuzzVerifierHeaders feeds arbitrary header values to both schemes. The
// Verifier must never panic, must refuse with one of its sentinels, and
// may accept only when the headers really carry the right MAC for the
// body.
func FuzzVerifierHeaders(f *testing.F) {
	vec := standardVectors[0]
	f.Add(false, strconv.Itoa(kaTimestamp), kaSignature, "idem", []byte(kaBody))
	f.Add(false, "0"+strconv.Itoa(kaTimestamp), strings.ToUpper(kaSignature), "", []byte(kaBody))
	f.Add(false, "1614265384.5", kaSignature, "", []byte(kaBody))
	f.Add(false, "", "", "", []byte{})
	f.Add(true, strconv.FormatInt(vec.timestamp, 10), vec.signature, vec.id, []byte(vec.body))
	f.Add(true, strconv.FormatInt(vec.timestamp, 10), "v1,x v1a,y  v2,z "+vec.signature, vec.id, []byte(vec.body))
	f.Add(true, "1614265330", "v1,", "msg", []byte("{}"))
	f.Add(true, "99999999999999999999", "v1,,,, ,", "a.b", []byte("{}"))
	cioKey := []byte(kaKey)
	stdKey, err := webhook.ParseStandardSecret(vec.secret)
	require.NoError(f, err)
	cio := &webhook.Verifier{Keys: [][]byte{cioKey}, Now: fixedNow}
	std := &webhook.Verifier{Keys: [][]byte{stdKey}, Scheme: webhook.SchemeStandard, Now: func() time.Time { return time.Unix(vec.timestamp, 0) }}
	f.Fuzz(func(t *testing.T, standard bool, ts, sig, id string, body []byte) {
		h := http.Header{}
		v := cio
		if standard {
			v = std
			h["Webhook-Id"] = []string{id}
			h["Webhook-Timestamp"] = []string{ts}
			h["Webhook-Signature"] = []string{sig}
		} else {
			h["X-Cio-Timestamp"] = []string{ts}
			h["X-Cio-Signature"] = []string{sig}
			h["X-Cio-Idempotency-Key"] = []string{id}
		}
		got, err := v.Verify(h, body)
		if err != nil {
			known := false
			for _, e := range knownErrors {
				known = known || errors.Is(err, e)
			}
			require.True(t, known, "unexpected error %v", err)
			require.Equal(t, webhook.Verified{}, got)
			return
		}
		n, perr := strconv.ParseInt(ts, 10, 64)
		require.NoError(t, perr, "accepted timestamp %q", ts)
		require.Equal(t, id, got.IdempotencyKey)
		require.Equal(t, time.Unix(n, 0), got.Timestamp)
		if !standard {
			require.True(t, strings.EqualFold(sig, webhook.Sign(cioKey, n, body)), "accepted a wrong signature")
			return
		}
		mac := hmac.New(sha256.New, stdKey)
		mac.Write([]byte(id + "." + strconv.FormatInt(n, 10) + "."))
		mac.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		require.Contains(t, strings.Split(sig, " "), want, "accepted a wrong signature")
	})
}

// benchSizes are the body sizes of the benchmarks.
var benchSizes = []struct {
	name string
	n    int
}{
	{"256B", 256}, {"1KiB", 1 << 10}, {"10KiB", 10 << 10}, {"100KiB", 100 << 10}, {"1MiB", 1 << 20},
}

func benchBody(n int) []byte {
	b := bytes.Repeat([]byte(`{"k":"v"},`), n/10+1)
	return b[:n]
}

// benchRawHMAC is the impl=raw baseline of both schemes: crypto/hmac over
// prefix and body, and hmac.Equal against want.
func benchRawHMAC(key, prefix, body, want []byte) func(*testing.B) {
	return func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			mac := hmac.New(sha256.New, key)
			mac.Write(prefix)
			mac.Write(body)
			if !hmac.Equal(mac.Sum(nil), want) {
				b.Fatal("mismatch")
			}
		}
	}
}

// BenchmarkVerify compares, over the same bytes in the same run:
// impl=raw, the least any verifier must do (crypto/hmac over the prefix
// and body, hmac.Equal against a decoded MAC); impl=Verify, the function;
// and impl=Verifier, the method over headers.
// Compare them with: benchstat -col /impl.
func BenchmarkVerify(b *testing.B) {
	key := []byte(kaKey)
	ts := int64(kaTimestamp)
	for _, size := range benchSizes {
		body := benchBody(size.n)
		sig := webhook.Sign(key, ts, body)
		want, _ := hex.DecodeString(sig)
		prefix := []byte("v0:" + strconv.FormatInt(ts, 10) + ":")
		b.Run("impl=raw/size="+size.name, benchRawHMAC(key, prefix, body, want))
		b.Run("impl=Verify/size="+size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := webhook.Verify(key, sig, ts, body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("impl=Verifier/size="+size.name, func(b *testing.B) {
			v := &webhook.Verifier{Keys: [][]byte{key}, Now: fixedNow}
			h := cioHeader(key, ts, body, "5f2b6c1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f")
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyStandard measures the Standard Webhooks scheme the same
// way: impl=raw is crypto/hmac over id.timestamp.body and a comparison with
// the decoded MAC.
func BenchmarkVerifyStandard(b *testing.B) {
	key := []byte("0123456789abcdef01234567")
	ts := int64(kaTimestamp)
	const id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	for _, size := range benchSizes {
		body := benchBody(size.n)
		h := standardHeader(b, key, id, ts, body)
		want, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(h.Get(webhook.HeaderWebhookSignature), "v1,"))
		prefix := []byte(id + "." + strconv.FormatInt(ts, 10) + ".")
		b.Run("impl=raw/size="+size.name, benchRawHMAC(key, prefix, body, want))
		b.Run("impl=Verifier/size="+size.name, func(b *testing.B) {
			v := &webhook.Verifier{Keys: [][]byte{key}, Scheme: webhook.SchemeStandard, Now: fixedNow}
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handlers and not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkMiddleware measures what Middleware adds to a handler that
// reads the body anyway: impl=bare is that handler alone, impl=Middleware
// the same handler behind a Verifier. Compare with: benchstat -col /impl.
func BenchmarkMiddleware(b *testing.B) {
	key := []byte(kaKey)
	ts := int64(kaTimestamp)
	var sink atomic.Int64
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			panic(err)
		}
		sink.Add(int64(len(body)))
		w.WriteHeader(http.StatusNoContent)
	})
	v := &webhook.Verifier{Keys: [][]byte{key}, Now: fixedNow}
	verified := v.Middleware(next)
	for _, size := range benchSizes {
		body := benchBody(size.n)
		for _, impl := range []struct {
			name string
			h    http.Handler
		}{{"bare", next}, {"Middleware", verified}} {
			b.Run("impl="+impl.name+"/size="+size.name, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodPost, "/hooks", nil)
				req.Header = cioHeader(key, ts, body, "5f2b6c1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f")
				req.ContentLength = int64(len(body))
				w := &discardWriter{h: make(http.Header)}
				rd := bytes.NewReader(body)
				b.SetBytes(int64(size.n))
				b.ReportAllocs()
				for b.Loop() {
					rd.Reset(body)
					req.Body = io.NopCloser(rd)
					w.code = 0
					impl.h.ServeHTTP(w, req)
					if w.code != http.StatusNoContent {
						b.Fatalf("status %d", w.code)
					}
				}
			})
		}
	}
}

func TestVerifyRequestTooLarge(t *testing.T) {
	key := []byte(kaKey)
	body := bytes.Repeat([]byte("x"), 65)
	v := &webhook.Verifier{Keys: [][]byte{key}, MaxBodyBytes: 64, Now: fixedNow}
	for _, chunked := range []bool{false, true} {
		var rd io.Reader = bytes.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd)
		}
		req := httptest.NewRequest(http.MethodPost, "/", rd)
		req.Header = cioHeader(key, kaTimestamp, body, "")
		_, err := v.VerifyRequest(req)
		assert.ErrorIs(t, err, webhook.ErrBodyTooLarge, "chunked %v", chunked)
	}
}
