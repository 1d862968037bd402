// Package webhooktest makes signed webhook requests for testing the
// handlers that receive them, as net/http/httptest makes plain ones.
//
// It lives apart from package webhook, as httptest lives apart from
// net/http, because it is for tests only: it panics where a library would
// return an error, and nothing in a server should call it.
//
//	key := []byte("test-signing-key")
//	h := (&webhook.Verifier{Keys: [][]byte{key}}).Middleware(myHandler)
//	req := webhooktest.NewRequest("POST", "/hooks", body, webhook.CIOSigner{Key: key})
//	rec := httptest.NewRecorder()
//	h.ServeHTTP(rec, req)
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
