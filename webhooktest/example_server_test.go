package webhooktest_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/internal/tbtest"
	"github.com/liquidhook/webhook/webhooktest"
)

// A test of code that sends a webhook: the receiver answers 503, then 201,
// and the Server's Sender retries a millisecond later instead of 10.5
// seconds, so the test takes milliseconds.
func ExampleNewServer() {
	tbtest.Example(func(t testing.TB) { // in a test, t is the *testing.T
		srv := webhooktest.NewServer(t, []byte("test-signing-key"))
		srv.RespondWith(
			webhooktest.Reply{Status: http.StatusServiceUnavailable},
			webhooktest.Reply{Status: http.StatusCreated, Body: `{"id": "lead-7"}`},
		)

		action, err := webhook.Compile(webhook.Spec{
			URL:      srv.URL + "/leads",
			Body:     `{"email": {{ customer.email | json }}}`,
			Response: map[string]string{"lead_id": "{{ response.id }}"},
		})
		if err != nil {
			t.Fatal(err)
		}
		data := map[string]any{"customer": map[string]any{"email": "ada@example.com"}}
		req, err := action.Render(data)
		if err != nil {
			t.Fatal(err)
		}
		res, err := srv.Sender().Send(context.Background(), req, action.Mapper(data))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("delivered:", res.Delivered(), "lead_id:", res.Attributes["lead_id"])

		for _, r := range srv.Requests() {
			fmt.Println(r.Method, r.Path, string(r.Body), r.SignatureValid, r.IdempotencyKey == res.IdempotencyKey)
		}
	})
	// Output:
	// delivered: true lead_id: lead-7
	// POST /leads {"email": "ada@example.com"} true true
	// POST /leads {"email": "ada@example.com"} true true
}

// Code that sends on a goroutine of its own: WaitFor wakes as requests
// arrive, without polling.
func ExampleServer_WaitFor() {
	tbtest.Example(func(t testing.TB) {
		srv := webhooktest.NewServer(t, []byte("test-signing-key"))
		sender := srv.Sender()
		for _, event := range []string{"signup", "upgrade"} {
			go func() {
				req, err := webhook.NewRequest("POST", srv.URL+"/events/"+event).JSON(map[string]string{"event": event}).Build()
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := sender.Send(context.Background(), req, nil); err != nil {
					t.Error(err)
				}
			}()
		}
		got := srv.WaitFor(2, 5*time.Second)
		fmt.Println(len(got), got[0].SignatureValid && got[1].SignatureValid)
	})
	// Output:
	// 2 true
}

// Scripted replies: a 429 with Retry-After, which the attempt records while
// the Server's Sender waits only milliseconds, then a reply held back past
// the Sender's timeout, then the answer.
func ExampleServer_RespondWith() {
	tbtest.Example(func(t testing.TB) {
		srv := webhooktest.NewServer(t, []byte("test-signing-key"))
		srv.RespondWith(
			webhooktest.Reply{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"120"}}},
			webhooktest.Reply{Delay: time.Hour}, // ended when the Sender gives up
			webhooktest.Reply{Status: http.StatusOK, Body: `{"id": "lead-7"}`},
		)
		sender := srv.Sender()
		sender.Timeout = 50 * time.Millisecond

		req, err := webhook.NewRequest("POST", srv.URL+"/leads").JSON(map[string]string{"email": "ada@example.com"}).Build()
		if err != nil {
			t.Fatal(err)
		}
		res, err := sender.Send(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range res.Attempts {
			fmt.Printf("attempt %d: status %d, class %q, Retry-After %v\n", a.Number, a.Status, a.Class, a.RetryAfter)
		}
	})
	// Output:
	// attempt 1: status 429, class "status", Retry-After 2m0s
	// attempt 2: status 0, class "timeout", Retry-After 0s
	// attempt 3: status 200, class "", Retry-After 0s
}

// A Server for Standard Webhooks whose own handler answers once the script
// is used up.
func ExampleNewUnstartedServer() {
	tbtest.Example(func(t testing.TB) {
		key, err := webhook.ParseStandardSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
		if err != nil {
			t.Fatal(err)
		}
		srv := webhooktest.NewUnstartedServer(t, key)
		srv.Scheme = webhook.SchemeStandard
		srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
		})
		srv.Start()
		srv.Respond(http.StatusInternalServerError)

		req, err := webhook.NewRequest("POST", srv.URL+"/events").JSON(map[string]string{"type": "signup"}).Build()
		if err != nil {
			t.Fatal(err)
		}
		res, err := srv.Sender().Send(context.Background(), req, nil) // signed with StandardSigner
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(res.Attempts[0].Status, res.Attempts[1].Status)
		for _, r := range srv.Requests() {
			fmt.Println(r.SignatureValid, r.Header.Get("webhook-id") == r.IdempotencyKey)
		}
	})
	// Output:
	// 500 202
	// true true
	// true true
}
