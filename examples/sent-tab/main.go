// Command sent-tab serves the Sent tab, the delivery log's web page, over a
// few deliveries made a moment before against a local stand-in: one
// delivered at once, one delivered on its second attempt, one that fails
// after its retries, and a draft waiting to be released. A worker keeps
// running, so Release and Re-send on the page send for real.
//
//	go run ./examples/sent-tab                          # then open the URL it prints
//	go run ./examples/sent-tab -addr 127.0.0.1:9000     # another port
//	go run ./examples/sent-tab -db deliveries.db        # keep the log: liquidhook queue ui --db deliveries.db
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/delivery"
)

// Three webhooks to the stand-in's three endpoints. The billing one
// carries credentials (user:password in its URL, a key in its query and a
// header): the page shows them redacted.
const (
	crmAction = `{
  "url": "http://{{ receiver }}/crm/contacts",
  "body": "{\"email\": {{ customer.email | json }}, \"plan\": {{ customer.plan | json }}}",
  "response": {"crm_id": "{{ response.id }}"},
  "sending": "automatic"
}`
	billingAction = `{
  "url": "http://billing:billing-password@{{ receiver }}/billing/events?api_key=billing-query-key&event=upgrade",
  "headers": {"Content-Type": "application/json", "X-Api-Key": "billing-header-key"},
  "body": "{\"customer\": {{ customer.email | json }}, \"plan\": {{ customer.plan | json }}}",
  "response": {"invoice": "{{ response.invoice }}"},
  "sending": "automatic"
}`
	legacyAction = `{
  "url": "http://{{ receiver }}/legacy/hook",
  "body": "{\"email\": {{ customer.email | json }}}",
  "sending": "automatic"
}`
)

func main() {
	db := flag.String("db", "", "a SQLite file or a postgres:// URL (default: a file in a temporary directory)")
	addr := flag.String("addr", "127.0.0.1:8025", "the address the page is served on (loopback: the page has no login)")
	flag.Parse()
	if *db == "" {
		dir, err := os.MkdirTemp("", "liquidhook-sent-tab")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		*db = filepath.Join(dir, "deliveries.db")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *db, *addr); err != nil {
		log.Fatal(err)
	}
}

// run makes the deliveries, then serves the page (and works the queue)
// until ctx ends.
func run(ctx context.Context, out io.Writer, db, addr string) error {
	key := []byte("sent-tab-signing-key")
	receiver, stopReceiver, err := startStandIn(key)
	if err != nil {
		return err
	}
	defer stopReceiver()

	q, err := delivery.Open(ctx, db)
	if err != nil {
		return err
	}
	defer q.Close()

	// The application's people, whose current data a re-send uses.
	people := &directory{m: map[string]map[string]any{
		"ada":   {"email": "ada@example.com", "plan": "team"},
		"grace": {"email": "grace@example.com", "plan": "free"},
		"alan":  {"email": "alan@example.com", "plan": "team"},
		"kathy": {"email": "kathy@example.com", "plan": "free"},
	}}
	for _, e := range []struct {
		action, person string
		draft          bool
	}{
		{crmAction, "ada", false},       // delivered at once
		{billingAction, "grace", false}, // 503, then delivered
		{legacyAction, "alan", false},   // 500 every time: failed
		{crmAction, "kathy", true},      // a draft
	} {
		action, err := compile(e.action)
		if err != nil {
			return err
		}
		d, err := q.Enqueue(ctx, action, people.data(e.person, receiver), &delivery.EnqueueOptions{
			Draft:    e.draft,
			Metadata: map[string]string{"person": e.person},
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "queued: delivery %d for %s (%s)\n", d.ID, e.person, d.State)
	}

	w := &delivery.Worker{Sender: &webhook.Sender{
		Key:          key,
		AllowPrivate: true, // the stand-in is on loopback
		// Customer.io's schedule waits 10.5 s first; the demo, a fifth of a second.
		RetryPolicy: webhook.Exponential{Retries: 2, FirstWait: 200 * time.Millisecond},
	}}
	if err := q.WorkUntilIdle(ctx, w); err != nil {
		return err
	}
	fmt.Fprintln(out, "sent: the worker is idle")

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// The page has no login of its own: an application mounts it behind
	// its own authentication, and this demo serves it on loopback only.
	srv := &http.Server{
		Handler: delivery.NewHandler(q, &delivery.HandlerOptions{
			ResendData: func(_ context.Context, d *delivery.Delivery) (map[string]any, error) {
				return people.data(d.Metadata["person"], receiver), nil
			},
			Refresh: time.Second,
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(out, "http://%s/\n", ln.Addr())

	// Keep a worker running, so that Release and Re-send on the page send.
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := q.Work(ctx, w); err != nil {
			log.Printf("worker: %v", err)
		}
	})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(shutdown)
		<-served
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func compile(action string) (*webhook.Action, error) {
	spec, err := webhook.ParseSpec([]byte(action))
	if err != nil {
		return nil, err
	}
	return webhook.Compile(spec)
}

// directory is the application's data about people.
type directory struct {
	mu sync.Mutex
	m  map[string]map[string]any
}

func (p *directory) data(person, receiver string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return map[string]any{"receiver": receiver, "customer": maps.Clone(p.m[person])}
}

// startStandIn serves three endpoints on loopback, behind the verifying
// middleware: a CRM that answers at once, a billing service that is busy
// (503) the first time, and a legacy hook that always fails (500).
func startStandIn(key []byte) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var contacts, invoices atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /crm/contacts", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id": "crm_%d", "status": "created"}`, contacts.Add(1))
	})
	var billingCalls atomic.Int32
	mux.HandleFunc("POST /billing/events", func(w http.ResponseWriter, r *http.Request) {
		if billingCalls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"error": "busy, try again"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"invoice": "inv_%d", "lines": [{"plan": "team", "amount": 1200}]}`, invoices.Add(1))
	})
	mux.HandleFunc("POST /legacy/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html><body><h1>500 Internal Server Error</h1><p>upstream unavailable</p></body></html>", http.StatusInternalServerError)
	})
	verifier := &webhook.Verifier{Keys: [][]byte{key}}
	srv := &http.Server{Handler: verifier.Middleware(mux), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}
