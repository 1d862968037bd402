// Command quickstart shows liquidhook end to end in a few seconds, with no
// setup: a verifying receiver on loopback that is unavailable at first, a
// Close-style "create a lead" webhook action rendered for a sample
// customer, sent with a retry, and the response mapped into attributes.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	webhook "github.com/liquidhook/webhook"
)

// The Close example from Customer.io's webhook documentation. The API key
// in the URL becomes basic authentication and never appears in output.
const action = `{
  "method": "POST",
  "url": "http://YOUR-API-KEY@{{ receiver }}/api/v1/lead/",
  "body": "{\n  \"name\": \"{{customer.company}}\",\n  \"url\": \"{% if customer.company_url.size > 0 %}{{customer.company_url}}{%else %}mycompany.com{% endif %}\",\n  \"description\": \"{{customer.bio}}\",\n  \"contacts\": [{\n    \"name\": \"{{customer.first_name}} {{customer.last_name}}\",\n    \"title\": \"{{customer.jobTitle}}\",\n    \"emails\": [{\"type\": \"office\", \"email\": \"{{customer.email}}\"}],\n    \"phones\": [{\"type\": \"office\", \"phone\": \"{{customer.phone}}\"}]\n  }],\n  \"custom\": {\"Source\": \"{% if customer.source.size > 0 %}{{customer.source}}{%else %}Unknown{% endif %}\"},\n  \"addresses\": [\"{{customer.address}}\"]\n}",
  "response": {"close_lead_id": "{{ response.id }}", "close_status": "{{ response.status_label }}"},
  "sending": "automatic"
}`

var customer = map[string]any{
	"company":     "Analytical Engines Ltd",
	"company_url": "https://engines.example",
	"bio":         "Builds difference engines.",
	"first_name":  "Ada",
	"last_name":   "Lovelace",
	"jobTitle":    "CTO",
	"email":       "ada@engines.example",
	"phone":       "+44 20 7946 0000",
	"source":      "signup",
	"address":     "12 St James's Square, London",
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	key := []byte(os.Getenv("LIQUIDHOOK_SIGNING_KEY"))
	if len(key) == 0 {
		key = []byte("quickstart-signing-key")
	}

	addr, stop, err := startReceiver(out, key)
	if err != nil {
		return err
	}
	defer stop()

	var spec webhook.Spec
	if err := json.Unmarshal([]byte(action), &spec); err != nil {
		return err
	}
	compiled, err := webhook.Compile(spec)
	if err != nil {
		return err
	}
	data := map[string]any{"customer": customer, "receiver": addr}
	req, err := compiled.Render(data)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sender:   %s, idempotency key %s\n", req, req.IdempotencyKey)

	sender := webhook.Sender{
		Key: key,
		// The receiver is on loopback, which the Sender refuses by default.
		AllowPrivate: true,
		// Customer.io's schedule waits 10.5 s first; the demo waits half
		// a second, or as long as the receiver's Retry-After asks.
		RetryPolicy: webhook.Exponential{Retries: 3, FirstWait: 500 * time.Millisecond},
		OnAttempt: func(r *webhook.Request, a webhook.Attempt) {
			outcome := "delivered"
			if a.Class != "" {
				outcome = fmt.Sprintf("failed (%s)", a.Class)
			}
			fmt.Fprintf(out, "sender:   attempt %d: status %d, %s in %s", a.Number, a.Status, outcome, a.Duration.Round(100*time.Microsecond))
			if a.Wait > 0 {
				fmt.Fprintf(out, "; retrying in %s", a.Wait.Round(time.Millisecond))
				if a.RetryAfter > 0 {
					fmt.Fprintf(out, " (Retry-After %s)", a.RetryAfter)
				}
			}
			fmt.Fprintln(out)
		},
	}
	res, err := sender.Send(ctx, req, compiled.Mapper(data))
	if err != nil {
		return err
	}
	attrs, _ := json.Marshal(res.Attributes)
	fmt.Fprintf(out, "sender:   delivered after %d attempts; attributes %s\n", len(res.Attempts), attrs)
	return nil
}

// startReceiver serves a stand-in for Close's API on loopback, behind the
// verifying middleware: it refuses the first request with 503 and
// Retry-After, and then creates the lead.
func startReceiver(out io.Writer, key []byte) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	verifier := &webhook.Verifier{
		Keys: [][]byte{key},
		OnReject: func(r *http.Request, err error) {
			fmt.Fprintf(out, "receiver: refused: %v\n", err)
		},
	}
	var calls atomic.Int32
	leads := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := webhook.VerifiedFromContext(r.Context())
		if calls.Add(1) == 1 {
			fmt.Fprintln(out, "receiver: signature valid; pretending to be busy: 503, Retry-After: 1")
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var lead struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(r.Body).Decode(&lead); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(out, "receiver: signature valid; idempotency key %s; created a lead for %q\n", v.IdempotencyKey, lead.Name)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"id": "lead_EQ9nP2yXk4", "status_label": "Potential"})
	})
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/lead/", verifier.Middleware(leads))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}
