package webhook_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	webhook "github.com/liquidhook/webhook"
)

// Sign computes X-CIO-Signature for a timestamp and a raw body.
func ExampleSign() {
	key := []byte("signing-secret")
	body := []byte(`{"event_id":"abc","object_type":"email","metric":"delivered"}`)
	fmt.Println(webhook.Sign(key, 1614265384, body))
	// Output: 6f55cf23f9b73a2ff07733fe04421f64ce9ec5e409696edda6b2a80311944230
}

// Verify checks a signature alone; it takes either case of hex, and says
// why it refuses.
func ExampleVerify() {
	key := []byte("signing-secret")
	body := []byte(`{"event_id":"abc","object_type":"email","metric":"delivered"}`)
	const sig = "6F55CF23F9B73A2FF07733FE04421F64CE9EC5E409696EDDA6B2A80311944230"

	fmt.Println(webhook.Verify(key, sig, 1614265384, body))

	err := webhook.Verify(key, sig, 1614265384, []byte(`{"event_id":"abc"}`))
	fmt.Println(err, errors.Is(err, webhook.ErrInvalidSignature))
	// Output:
	// <nil>
	// webhook: invalid signature true
}

// A Verifier checks the headers and body of a request from any framework,
// including the timestamp's age.
func ExampleVerifier_Verify() {
	v := &webhook.Verifier{
		Keys: [][]byte{[]byte("signing-secret")},
		// A fixed clock for the example; leave Now unset in a server.
		Now: func() time.Time { return time.Unix(1614265384, 0).Add(30 * time.Second) },
	}
	body := []byte(`{"event_id":"abc","object_type":"email","metric":"delivered"}`)
	h := http.Header{}
	h.Set("X-CIO-Timestamp", "1614265384")
	h.Set("X-CIO-Signature", "6f55cf23f9b73a2ff07733fe04421f64ce9ec5e409696edda6b2a80311944230")
	h.Set("X-CIO-Idempotency-Key", "5f2b6c1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f")

	got, err := v.Verify(h, body)
	fmt.Println(got.Timestamp.UTC().Format(time.RFC3339), got.IdempotencyKey, err)

	h.Set("X-CIO-Timestamp", "1614261784") // an hour earlier: a replay
	_, err = v.Verify(h, body)
	fmt.Println(errors.Is(err, webhook.ErrTimestampOutOfRange))
	// Output:
	// 2021-02-25T15:03:04Z 5f2b6c1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f <nil>
	// true
}

// Middleware lets only verified requests through to a handler, with the
// body intact and the verified details in the context.
func ExampleVerifier_Middleware() {
	key := []byte("signing-secret")
	v := &webhook.Verifier{Keys: [][]byte{key}}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		vd, _ := webhook.VerifiedFromContext(r.Context())
		fmt.Printf("handled %s: %s\n", vd.IdempotencyKey, body)
	})
	srv := httptest.NewServer(v.Middleware(handler))
	defer srv.Close()

	post := func(body []byte, signer webhook.Signer) {
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set(webhook.HeaderIdempotencyKey, "delivery-1")
		if signer != nil {
			if err := signer.SignHeader(req.Header, "delivery-1", time.Now().Unix(), body); err != nil {
				log.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	post([]byte(`{"email":"win@customer.io"}`), webhook.CIOSigner{Key: key})
	post([]byte(`{"email":"win@customer.io"}`), nil)
	post([]byte(`{"email":"win@customer.io"}`), webhook.CIOSigner{Key: []byte("a guess")})
	// Output:
	// handled delivery-1: {"email":"win@customer.io"}
	// 200
	// 401
	// 401
}

// StandardSigner signs the Standard Webhooks way; this is the
// specification's published example.
func ExampleStandardSigner() {
	key, err := webhook.ParseStandardSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		log.Fatal(err)
	}
	h := http.Header{}
	s := webhook.StandardSigner{Keys: [][]byte{key}}
	if err := s.SignHeader(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`)); err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{webhook.HeaderWebhookID, webhook.HeaderWebhookTimestamp, webhook.HeaderWebhookSignature} {
		fmt.Printf("%s: %s\n", name, h.Get(name))
	}
	// Output:
	// webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
	// webhook-timestamp: 1614265330
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// During a key rotation, a Verifier accepts either key and says which one
// matched, so the old one can be retired once nothing uses it.
func ExampleVerifier_rotation() {
	oldKey, newKey := []byte("old-signing-key"), []byte("new-signing-key")
	v := &webhook.Verifier{Keys: [][]byte{newKey, oldKey}}

	for _, key := range [][]byte{oldKey, newKey} {
		now := time.Now().Unix()
		body := []byte(`{}`)
		h := http.Header{}
		h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now, 10))
		h.Set(webhook.HeaderSignature, webhook.Sign(key, now, body))
		got, err := v.Verify(h, body)
		fmt.Println(got.KeyIndex, err)
	}
	// Output:
	// 1 <nil>
	// 0 <nil>
}
