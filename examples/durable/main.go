// Command durable shows durable delivery in a few seconds, with no setup:
// webhooks queued in a SQLite file, sent by a worker with retries that
// would survive a restart, a draft held until released, and a re-send with
// current data under the original idempotency key.
//
//	go run ./examples/durable                        # a SQLite file in a temporary directory
//	go run ./examples/durable -db deliveries.db      # keep the file: liquidhook queue list --db deliveries.db
//	go run ./examples/durable -db postgres://localhost/app   # the same on PostgreSQL
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/delivery"
)

// A webhook that tells a CRM about a customer and keeps the CRM's id as an
// attribute. Sending is automatic; the draft below is held by an option.
const action = `{
  "url": "http://{{ receiver }}/crm/contacts",
  "body": "{\"email\": {{ customer.email | json }}, \"plan\": {{ customer.plan | json }}}",
  "response": {"crm_id": "{{ response.id }}"},
  "sending": "automatic"
}`

func main() {
	db := flag.String("db", "", "a SQLite file or a postgres:// URL (default: a file in a temporary directory)")
	flag.Parse()
	if *db == "" {
		dir, err := os.MkdirTemp("", "liquidhook-durable")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		*db = filepath.Join(dir, "deliveries.db")
	}
	if err := run(context.Background(), os.Stdout, *db); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer, db string) error {
	key := []byte("durable-signing-key")
	addr, stop, err := startReceiver(out, key)
	if err != nil {
		return err
	}
	defer stop()

	// Open the queue: migrations run on open. delivery.OpenSQLite and
	// delivery.OpenPostgres do the same for one kind of database.
	q, err := delivery.Open(ctx, db)
	if err != nil {
		return err
	}
	defer q.Close()

	spec, err := webhook.ParseSpec([]byte(action))
	if err != nil {
		return err
	}
	crm, err := webhook.Compile(spec)
	if err != nil {
		return err
	}
	ada := map[string]any{"receiver": addr, "customer": map[string]any{"email": "ada@example.com", "plan": "free"}}
	grace := map[string]any{"receiver": addr, "customer": map[string]any{"email": "grace@example.com", "plan": "team"}}

	// Queue one delivery to send now, and one draft to hold.
	sent, err := q.Enqueue(ctx, crm, ada, &delivery.EnqueueOptions{Metadata: map[string]string{"person": "ada"}})
	if err != nil {
		return err
	}
	draft, err := q.Enqueue(ctx, crm, grace, &delivery.EnqueueOptions{Draft: true, Metadata: map[string]string{"person": "grace"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "queued:   delivery %d (%s), delivery %d (%s)\n", sent.ID, sent.State, draft.ID, draft.State)

	var mu sync.Mutex // hooks and progress run on the worker's goroutines
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, a...)
	}
	w := &delivery.Worker{
		Sender: &webhook.Sender{
			Key:          key,
			AllowPrivate: true, // the receiver is on loopback
			// The seed's schedule waits 10.5 s first; the demo, half a second.
			RetryPolicy: webhook.Exponential{Retries: 3, FirstWait: 500 * time.Millisecond},
		},
		OnAttempt: func(d *delivery.Delivery, a delivery.Attempt) {
			outcome := string(d.State)
			if d.State == delivery.StateScheduled {
				outcome = fmt.Sprintf("status %d, retry in %s", a.Status, a.Wait.Round(time.Millisecond))
			}
			say("worker:   delivery %d, attempt %d: %s\n", d.ID, a.Number, outcome)
		},
		// The application's side: update the person, move them on. Called
		// at least once per delivered delivery, from a durable job.
		OnDelivered: func(_ context.Context, d *delivery.Delivery) error {
			attrs, _ := json.Marshal(d.Attributes)
			say("app:      %s's attributes are now %s\n", d.Metadata["person"], attrs)
			return nil
		},
	}

	// WorkUntilIdle suits a script; a service runs q.Work(ctx, w) until
	// shutdown.
	if err := q.WorkUntilIdle(ctx, w); err != nil {
		return err
	}
	if _, err := q.Release(ctx, draft.ID); err != nil {
		return err
	}
	say("released: delivery %d\n", draft.ID)
	if err := q.WorkUntilIdle(ctx, w); err != nil {
		return err
	}

	// Ada upgraded: send her webhook again with current data.
	ada["customer"] = map[string]any{"email": "ada@example.com", "plan": "team"}
	if _, err := q.Resend(ctx, sent.ID, ada); err != nil {
		return err
	}
	say("re-sent:  delivery %d with current data\n", sent.ID)
	if err := q.WorkUntilIdle(ctx, w); err != nil {
		return err
	}

	// The delivery log: every attempt, across re-sends.
	d, err := q.Get(ctx, sent.ID)
	if err != nil {
		return err
	}
	say("log:      delivery %d is %s, key %s\n", d.ID, d.State, d.IdempotencyKey)
	for _, a := range d.Attempts {
		outcome := "delivered"
		if a.Class != "" {
			outcome = string(a.Class)
		}
		say("log:        series %d attempt %d: status %d, %s\n", a.Series, a.Number, a.Status, outcome)
	}
	return nil
}

// startReceiver serves a stand-in CRM on loopback behind the verifying
// middleware. It is busy (503) the first time, then creates contacts.
func startReceiver(out io.Writer, key []byte) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var mu sync.Mutex
	verifier := &webhook.Verifier{
		Keys: [][]byte{key},
		OnReject: func(r *http.Request, err error) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(out, "receiver: refused: %v\n", err)
		},
	}
	var calls atomic.Int32
	contacts := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := webhook.VerifiedFromContext(r.Context())
		n := calls.Add(1)
		if n == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var c struct{ Email, Plan string }
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		fmt.Fprintf(out, "receiver: %s on %s, idempotency key %s\n", c.Email, c.Plan, v.IdempotencyKey)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"id": fmt.Sprintf("crm_%d", n)})
	})
	mux := http.NewServeMux()
	mux.Handle("POST /crm/contacts", verifier.Middleware(contacts))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}
