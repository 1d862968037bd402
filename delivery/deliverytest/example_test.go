package deliverytest_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/delivery"
	"github.com/liquidhook/webhook/delivery/deliverytest"
	"github.com/liquidhook/webhook/internal/tbtest"
	"github.com/liquidhook/webhook/webhooktest"
)

// A test of an application that queues a webhook when a person signs up
// and stores the lead id the receiver answers with. The receiver answers
// 503, then 201; the retry comes milliseconds later, and when Work returns
// the hook has stored the id.
func Example() {
	tbtest.Example(func(t testing.TB) { // in a test, t is the *testing.T
		srv := webhooktest.NewServer(t, []byte("test-signing-key"))
		srv.RespondWith(
			webhooktest.Reply{Status: http.StatusServiceUnavailable},
			webhooktest.Reply{Status: http.StatusCreated, Body: `{"id": "lead-7"}`},
		)
		q := deliverytest.NewQueue(t)

		// The application's code: queue the webhook, store what comes back.
		action, err := webhook.Compile(webhook.Spec{
			URL:      srv.URL + "/leads",
			Body:     `{"email": {{ customer.email | json }}}`,
			Response: map[string]string{"lead_id": "{{ response.id }}"},
			Sending:  webhook.SendingAutomatic,
		})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		leadIDs := map[string]any{} // the application's store
		onDelivered := func(_ context.Context, d *delivery.Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			leadIDs[d.Metadata["person"]] = d.Attributes["lead_id"]
			return nil
		}
		d, err := q.Enqueue(context.Background(), action,
			map[string]any{"customer": map[string]any{"email": "ada@example.com"}},
			&delivery.EnqueueOptions{Metadata: map[string]string{"person": "42"}})
		if err != nil {
			t.Fatal(err)
		}

		deliverytest.Work(t, q, &delivery.Worker{Sender: srv.Sender(), OnDelivered: onDelivered})

		mu.Lock()
		fmt.Println("person 42's lead:", leadIDs["42"])
		mu.Unlock()
		d, err = q.Get(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(d.State)
		for _, a := range d.Attempts {
			fmt.Println("attempt", a.Number, a.Status)
		}
	})
	// Output:
	// person 42's lead: lead-7
	// delivered
	// attempt 1 503
	// attempt 2 201
}
