package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	webhook "github.com/liquidhook/webhook"
)

// A receiver that is briefly unavailable: the Sender retries with the same
// idempotency key, signs each attempt afresh, and maps the answer into
// attributes.
func ExampleSender_Send() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"id": "lead_42", "score": 97}`)
	}))
	defer srv.Close()

	action, err := webhook.Compile(webhook.Spec{
		URL:      srv.URL + "/leads",
		Body:     `{"email": "{{ customer.email }}"}`,
		Response: map[string]string{"lead_id": "{{ response.id }}", "lead_score": "{{ response.score }}"},
	})
	if err != nil {
		panic(err)
	}
	data := map[string]any{"customer": map[string]any{"email": "ada@example.com"}}
	req, err := action.Render(data)
	if err != nil {
		panic(err)
	}

	sender := webhook.Sender{
		Key:          []byte("signing-secret"),
		AllowPrivate: true, // the test server is on loopback
		RetryPolicy:  webhook.Exponential{FirstWait: 10 * time.Millisecond},
	}
	res, err := sender.Send(context.Background(), req, action.Mapper(data))
	if err != nil {
		panic(err)
	}
	for _, a := range res.Attempts {
		outcome := "delivered"
		if a.Class != "" {
			outcome = "failed (" + string(a.Class) + ")"
		}
		fmt.Printf("attempt %d: status %d, %s\n", a.Number, a.Status, outcome)
	}
	fmt.Println("delivered:", res.Delivered())
	fmt.Printf("lead_id=%v lead_score=%v (%T)\n", res.Attributes["lead_id"], res.Attributes["lead_score"], res.Attributes["lead_score"])
	// Output:
	// attempt 1: status 503, failed (status)
	// attempt 2: status 200, delivered
	// delivered: true
	// lead_id=lead_42 lead_score=97 (int64)
}

// A webhook that is not delivered returns the Result too, and a
// *SendError with every attempt.
func ExampleSendError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()

	req, err := webhook.NewRequest("POST", srv.URL).JSON(map[string]string{"event": "signup"}).Build()
	if err != nil {
		panic(err)
	}
	sender := webhook.Sender{
		AllowPrivate: true,
		RetryPolicy:  webhook.Exponential{Retries: 2, FirstWait: time.Millisecond},
	}
	res, err := sender.Send(context.Background(), req, nil)
	var se *webhook.SendError
	if errors.As(err, &se) {
		fmt.Println(len(se.Attempts), "attempts; delivered:", res.Delivered())
		fmt.Println(errors.Is(err, webhook.ErrStatus))
		fmt.Println(err)
	}
	// Output:
	// 3 attempts; delivered: false
	// true
	// webhook: not delivered after 3 attempts: unsuccessful status 429
}

// The address guard refuses private destinations unless allowed: here a
// name that resolves to loopback.
func ExampleAddressGuard() {
	var sender webhook.Sender // no AllowPrivate
	req, _ := webhook.NewRequest("POST", "http://localhost:9/").JSON(map[string]int{"n": 1}).Build()
	_, err := sender.Send(context.Background(), req, nil)
	fmt.Println(errors.Is(err, webhook.ErrBlockedAddress))
	// Output:
	// true
}

// Exponential's fields change one part of Customer.io's schedule each.
func ExampleExponential() {
	p := webhook.Exponential{Retries: 3, FirstWait: time.Second, Jitter: -1}
	for n := 1; n <= 4; n++ {
		wait, retry := p.Next(webhook.Attempt{Number: n, Status: 503, Class: webhook.ClassStatus})
		fmt.Println(n, wait, retry)
	}
	// A Retry-After longer than the scheduled wait is honoured.
	wait, _ := p.Next(webhook.Attempt{Number: 1, Status: 429, Class: webhook.ClassStatus, RetryAfter: 30 * time.Second})
	fmt.Println(wait)
	// Output:
	// 1 1s true
	// 2 2s true
	// 3 4s true
	// 4 0s false
	// 30s
}
