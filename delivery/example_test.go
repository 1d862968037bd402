package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/delivery"
)

// Queue a webhook on SQLite, send it with a worker, and read the log.
func Example() {
	ctx := context.Background()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"id": "lead-7"}`)
	}))
	defer receiver.Close()

	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	q, err := delivery.OpenSQLite(ctx, filepath.Join(dir, "deliveries.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()

	action, err := webhook.Compile(webhook.Spec{
		URL:      receiver.URL + "/leads",
		Body:     `{"email": {{ customer.email | json }}}`,
		Response: map[string]string{"lead_id": "{{ response.id }}"},
		Sending:  webhook.SendingAutomatic,
	})
	if err != nil {
		log.Fatal(err)
	}
	d, err := q.Enqueue(ctx, action, map[string]any{"customer": map[string]any{"email": "ada@example.com"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.State)

	err = q.WorkUntilIdle(ctx, &delivery.Worker{
		Sender: &webhook.Sender{AllowPrivate: true}, // the receiver is on loopback
		OnDelivered: func(_ context.Context, d *delivery.Delivery) error {
			fmt.Println("delivered; lead_id =", d.Attributes["lead_id"])
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	d, err = q.Get(ctx, d.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.State, len(d.Attempts), d.Attempts[0].Status)
	// Output:
	// scheduled
	// delivered; lead_id = lead-7
	// delivered 1 200
}

// Holding a delivery as a draft until someone releases it.
func ExampleQueue_Release() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	q, err := delivery.OpenSQLite(ctx, filepath.Join(dir, "deliveries.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()

	// Sending defaults to draft, as in Customer.io.
	action, err := webhook.Compile(webhook.Spec{URL: "https://crm.example/contacts", Body: `{}`})
	if err != nil {
		log.Fatal(err)
	}
	d, err := q.Enqueue(ctx, action, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.State)

	d, err = q.Release(ctx, d.ID) // a worker sends it from now on
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.State)

	// An operation the state does not allow changes nothing.
	_, err = q.Release(ctx, d.ID)
	fmt.Println(err, errors.Is(err, delivery.ErrWrongState))
	// Output:
	// draft
	// scheduled
	// delivery: cannot release delivery 1: it is scheduled true
}
