// Package webhooktest helps test both sides of a webhook, as
// net/http/httptest helps test HTTP code.
//
// For code that sends webhooks, NewServer starts a receiver on loopback that
// checks every request's signature, records it, and answers as the test
// scripts it; its Sender signs with the server's key, may reach loopback,
// and retries a millisecond apart, so a test of retries takes milliseconds:
//
//	srv := webhooktest.NewServer(t, key)
//	srv.Respond(503, 201)
//	res, err := srv.Sender().Send(ctx, req, nil) // two attempts, a millisecond apart
//	got := srv.Requests()                        // both, signatures checked
//
// AssertRender compares an action's render with a golden file. For the
// handlers that receive webhooks, NewRequest makes signed requests:
//
//	key := []byte("test-signing-key")
//	h := (&webhook.Verifier{Keys: [][]byte{key}}).Middleware(myHandler)
//	req := webhooktest.NewRequest("POST", "/hooks", body, webhook.CIOSigner{Key: key})
//	rec := httptest.NewRecorder()
//	h.ServeHTTP(rec, req)
//
// It lives apart from package webhook, as httptest lives apart from
// net/http, because it is for tests only: it fails the test or panics where
// a library would return an error, and nothing in a server should call it.
// Package delivery/deliverytest does the same for durable delivery.
package webhooktest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	webhook "github.com/liquidhook/webhook"
)

// NewRequest returns an incoming server request, as httptest.NewRequest
// does, whose body is body, signed now by signer the way a Sender signs an
// attempt. It carries a new idempotency key in X-CIO-Idempotency-Key (and,
// for a StandardSigner, in webhook-id) and Content-Type: application/json,
// the product's default; change either on the result as needed.
//
// Like httptest.NewRequest, it panics on bad input, here including a signer
// that refuses to sign (no key, for instance).
func NewRequest(method, target string, body []byte, signer webhook.Signer) *http.Request {
	return NewRequestAt(method, target, body, signer, time.Now())
}

// NewRequestAt is NewRequest signed at t instead of now, to test how a
// receiver treats a stale request or one from a clock that runs ahead.
func NewRequestAt(method, target string, body []byte, signer webhook.Signer, t time.Time) *http.Request {
	if signer == nil {
		panic("webhooktest: nil Signer")
	}
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	id := webhook.NewIdempotencyKey()
	req.Header.Set(webhook.HeaderIdempotencyKey, id)
	if err := signer.SignHeader(req.Header, id, t.Unix(), body); err != nil {
		panic(fmt.Sprintf("webhooktest: signing: %v", err))
	}
	return req
}
