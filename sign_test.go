package webhook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
)

// The known answer from DESIGN.md.
const (
	kaKey       = "signing-secret"
	kaTimestamp = 1614265384
	kaBody      = `{"event_id":"abc","object_type":"email","metric":"delivered"}`
	kaSignature = "6f55cf23f9b73a2ff07733fe04421f64ce9ec5e409696edda6b2a80311944230"
)

func TestSignKnownAnswer(t *testing.T) {
	got := webhook.Sign([]byte(kaKey), kaTimestamp, []byte(kaBody))
	assert.Equal(t, kaSignature, got)

	ok, err := cioCheckSignature(kaKey, got, kaTimestamp, []byte(kaBody))
	require.NoError(t, err)
	assert.True(t, ok, "Customer.io's CheckSignature refuses the known answer")
}

// randomCase draws a key, a timestamp and a body. Keys and bodies are
// arbitrary bytes, empty bodies included; timestamps span the int64 range
// as well as today's.
func randomCase(r *rand.Rand) (key []byte, ts int64, body []byte) {
	key = make([]byte, 1+r.IntN(100))
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	switch r.IntN(3) {
	case 0:
		ts = time.Now().Unix() + r.Int64N(1000) - 500
	case 1:
		ts = r.Int64()
	default:
		ts = -r.Int64()
	}
	body = make([]byte, r.IntN(3000))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	return key, ts, body
}

// Sign agrees with Customer.io's CheckSignature (cioCheckSignature, kept
// in send_test.go) on random inputs: every signature it makes is accepted,
// in lower and upper case, and changing the key, timestamp or body makes
// both refuse it alike.
func TestSignAgainstCIOCheckSignature(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		key, ts, body := randomCase(r)
		sig := webhook.Sign(key, ts, body)
		require.Len(t, sig, 64)
		require.Equal(t, strings.ToLower(sig), sig, "case %d: Sign must give lowercase hex", i)

		for _, s := range []string{sig, strings.ToUpper(sig)} {
			ok, err := cioCheckSignature(string(key), s, int(ts), body)
			require.NoError(t, err, "case %d", i)
			require.True(t, ok, "case %d: CheckSignature refused Sign's output", i)
			require.NoError(t, webhook.Verify(key, s, ts, body), "case %d", i)
		}

		// One change at a time; both verifiers must refuse.
		otherKey := append(bytes.Clone(key), 'x')
		otherBody := append(bytes.Clone(body), ' ')
		for name, c := range map[string]struct {
			key  []byte
			ts   int64
			body []byte
		}{
			"key":       {otherKey, ts, body},
			"timestamp": {key, ts ^ 1, body},
			"body":      {key, ts, otherBody},
		} {
			ok, err := cioCheckSignature(string(c.key), sig, int(c.ts), c.body)
			require.NoError(t, err)
			assert.False(t, ok, "case %d: CheckSignature accepted a changed %s", i, name)
			assert.ErrorIs(t, webhook.Verify(c.key, sig, c.ts, c.body), webhook.ErrInvalidSignature, "case %d: changed %s", i, name)
		}
	}
}

func TestCIOSignerSignHeader(t *testing.T) {
	h := make(http.Header)
	require.NoError(t, webhook.CIOSigner{Key: []byte(kaKey)}.SignHeader(h, "ignored-id", kaTimestamp, []byte(kaBody)))
	assert.Equal(t, strconv.Itoa(kaTimestamp), h.Get(webhook.HeaderTimestamp))
	assert.Equal(t, kaSignature, h.Get(webhook.HeaderSignature))
	assert.Len(t, h, 2, "CIOSigner sets only its two headers: %v", h)
}

// Standard Webhooks' published test vectors: the one the reference
// libraries share (Go, JavaScript, Python, Java, C#, Ruby) and the Rust
// library's own.
var standardVectors = []struct {
	name      string
	secret    string
	id        string
	timestamp int64
	body      string
	signature string
}{
	{
		name:      "libraries",
		secret:    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		id:        "msg_p5jXN8AQM9LWM0D4loKWxJek",
		timestamp: 1614265330,
		body:      `{"test": 2432232314}`,
		signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	},
	{
		name:      "rust",
		secret:    "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
		id:        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
		timestamp: 1649367553,
		body:      `{"email":"test@example.com","username":"test_user"}`,
		signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
	},
}

func TestStandardSignerKnownAnswers(t *testing.T) {
	for _, v := range standardVectors {
		t.Run(v.name, func(t *testing.T) {
			key, err := webhook.ParseStandardSecret(v.secret)
			require.NoError(t, err)
			h := make(http.Header)
			require.NoError(t, webhook.StandardSigner{Keys: [][]byte{key}}.SignHeader(h, v.id, v.timestamp, []byte(v.body)))
			assert.Equal(t, v.signature, h.Get(webhook.HeaderWebhookSignature))
			assert.Equal(t, v.id, h.Get(webhook.HeaderWebhookID))
			assert.Equal(t, strconv.FormatInt(v.timestamp, 10), h.Get(webhook.HeaderWebhookTimestamp))
		})
	}
}

// Requests signed by StandardSigner verify with the standard-webhooks
// library, with one key and with several during a rotation.
func TestStandardSignerInteropLibraryVerifies(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	secret := func() string {
		b := make([]byte, 24+r.IntN(40))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return "whsec_" + base64.StdEncoding.EncodeToString(b)
	}
	for i := range 50 {
		oldSecret, newSecret := secret(), secret()
		oldKey, err := webhook.ParseStandardSecret(oldSecret)
		require.NoError(t, err)
		newKey, err := webhook.ParseStandardSecret(newSecret)
		require.NoError(t, err)
		body := make([]byte, r.IntN(2000))
		for j := range body {
			body[j] = byte(r.Uint32())
		}
		id := webhook.NewIdempotencyKey()
		// The library checks against its own clock with a fixed tolerance.
		ts := time.Now().Unix()

		h := make(http.Header)
		require.NoError(t, webhook.StandardSigner{Keys: [][]byte{newKey, oldKey}}.SignHeader(h, id, ts, body))
		assert.Len(t, strings.Fields(h.Get(webhook.HeaderWebhookSignature)), 2)

		for _, s := range []string{oldSecret, newSecret, strings.TrimPrefix(newSecret, "whsec_")} {
			wh, err := standardwebhooks.NewWebhook(s)
			require.NoError(t, err)
			require.NoError(t, wh.Verify(body, h), "case %d: the library refused our signature", i)
		}
		stranger, err := standardwebhooks.NewWebhook(secret())
		require.NoError(t, err)
		assert.ErrorIs(t, stranger.Verify(body, h), standardwebhooks.ErrNoMatchingSignature)

		// And our signature for one key equals the library's.
		one := make(http.Header)
		require.NoError(t, webhook.StandardSigner{Keys: [][]byte{newKey}}.SignHeader(one, id, ts, body))
		wh, _ := standardwebhooks.NewWebhook(newSecret)
		want, err := wh.Sign(id, time.Unix(ts, 0), body)
		require.NoError(t, err)
		assert.Equal(t, want, one.Get(webhook.HeaderWebhookSignature))
	}
}

func TestSignerRefusals(t *testing.T) {
	key := []byte("k")
	tests := []struct {
		name    string
		signer  webhook.Signer
		id      string
		wantErr error
	}{
		{"cio empty key", webhook.CIOSigner{}, "id", webhook.ErrNoKey},
		{"standard no keys", webhook.StandardSigner{}, "id", webhook.ErrNoKey},
		{"standard an empty key", webhook.StandardSigner{Keys: [][]byte{key, nil}}, "id", webhook.ErrNoKey},
		{"standard empty id", webhook.StandardSigner{Keys: [][]byte{key}}, "", webhook.ErrInvalidID},
		{"standard id with a dot", webhook.StandardSigner{Keys: [][]byte{key}}, "msg.123", webhook.ErrInvalidID},
		{"standard id with a newline", webhook.StandardSigner{Keys: [][]byte{key}}, "msg\nX-Evil: 1", webhook.ErrInvalidID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := make(http.Header)
			err := tt.signer.SignHeader(h, tt.id, 1700000000, []byte("{}"))
			require.ErrorIs(t, err, tt.wantErr)
			assert.Empty(t, h, "a refused signature must leave no header behind")
		})
	}
}

func TestParseStandardSecret(t *testing.T) {
	raw := []byte("0123456789abcdef01234567")
	enc := base64.StdEncoding.EncodeToString(raw)
	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr error
	}{
		{"prefixed", "whsec_" + enc, raw, nil},
		{"bare", enc, raw, nil},
		{"surrounding space", "  whsec_" + enc + "\n", raw, nil},
		{"empty", "", nil, webhook.ErrInvalidSecret},
		{"prefix only", "whsec_", nil, webhook.ErrInvalidSecret},
		{"not base64", "whsec_not*base64!", nil, webhook.ErrInvalidSecret},
		{"url alphabet", "whsec_-_-_", nil, webhook.ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := webhook.ParseStandardSecret(tt.in)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, got)
				if s := strings.TrimPrefix(strings.TrimSpace(tt.in), "whsec_"); s != "" {
					assert.NotContains(t, err.Error(), s, "the error repeats the secret")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSignersAndVerifierHideKeys(t *testing.T) {
	const secret = "super-secret-key"
	values := []any{
		webhook.CIOSigner{Key: []byte(secret)},
		webhook.StandardSigner{Keys: [][]byte{[]byte(secret)}},
		&webhook.Verifier{Keys: [][]byte{[]byte(secret)}},
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, secret, "%s of %T", verb, v)
			assert.NotContains(t, out, fmt.Sprint([]byte(secret)), "%s of %T", verb, v)
			assert.Contains(t, out, "REDACTED", "%s of %T", verb, v)
		}
	}
}

func TestSchemeString(t *testing.T) {
	assert.Equal(t, "cio", webhook.SchemeCIO.String())
	assert.Equal(t, "standard", webhook.SchemeStandard.String())
	assert.Equal(t, "Scheme(9)", webhook.Scheme(9).String())
	var zero webhook.Scheme
	assert.Equal(t, webhook.SchemeCIO, zero, "Customer.io's scheme is the default")
}

// Signers are safe for concurrent use: from many goroutines, with many
// keys, every signature is the one Sign and a fresh HMAC compute. Run it
// with -race.
func TestSignersReuseStatesSafely(t *testing.T) {
	keys := make([][]byte, 40)
	for i := range keys {
		keys[i] = []byte("key-" + strconv.Itoa(i))
	}
	standard := func(key []byte, id string, ts int64, body []byte) string {
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%d.", id, ts)
		mac.Write(body)
		return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 400 {
				key := keys[rng.IntN(len(keys))]
				body := make([]byte, rng.IntN(300))
				for j := range body {
					body[j] = byte(rng.Uint32())
				}
				ts := int64(1_700_000_000 + i)
				h := make(http.Header)
				if err := (webhook.CIOSigner{Key: key}).SignHeader(h, "", ts, body); err != nil {
					t.Error(err)
					return
				}
				if got, want := h.Get(webhook.HeaderSignature), webhook.Sign(key, ts, body); got != want {
					t.Errorf("goroutine %d call %d: CIOSigner gave %s, Sign %s", g, i, got, want)
					return
				}
				if got := h.Get(webhook.HeaderTimestamp); got != strconv.FormatInt(ts, 10) {
					t.Errorf("goroutine %d call %d: timestamp %q", g, i, got)
					return
				}
				id := "msg_" + strconv.Itoa(i)
				other := keys[rng.IntN(len(keys))]
				if err := (webhook.StandardSigner{Keys: [][]byte{key, other}}).SignHeader(h, id, ts, body); err != nil {
					t.Error(err)
					return
				}
				if got, want := h.Get(webhook.HeaderWebhookSignature), standard(key, id, ts, body)+" "+standard(other, id, ts, body); got != want {
					t.Errorf("goroutine %d call %d: StandardSigner gave %s, want %s", g, i, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// A key is known by its bytes, not by its slice: changing a key in place
// changes the signature.
func TestCIOSignerKeyChangedInPlace(t *testing.T) {
	key := []byte("first-secret")
	s := webhook.CIOSigner{Key: key}
	h := make(http.Header)
	require.NoError(t, s.SignHeader(h, "", kaTimestamp, []byte(kaBody)))
	assert.Equal(t, webhook.Sign([]byte("first-secret"), kaTimestamp, []byte(kaBody)), h.Get(webhook.HeaderSignature))

	copy(key, "other")
	require.NoError(t, s.SignHeader(h, "", kaTimestamp, []byte(kaBody)))
	assert.Equal(t, webhook.Sign([]byte("other-secret"), kaTimestamp, []byte(kaBody)), h.Get(webhook.HeaderSignature))
}

// Each value the signer sets is its own: appending to one header's values
// leaves the other intact.
func TestCIOSignerValuesIndependent(t *testing.T) {
	h := make(http.Header)
	require.NoError(t, webhook.CIOSigner{Key: []byte(kaKey)}.SignHeader(h, "", kaTimestamp, []byte(kaBody)))
	h.Add(webhook.HeaderTimestamp, "appended")
	assert.Equal(t, []string{kaSignature}, h.Values(webhook.HeaderSignature))
	assert.Equal(t, []string{strconv.Itoa(kaTimestamp), "appended"}, h.Values(webhook.HeaderTimestamp))
}
