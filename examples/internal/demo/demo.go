// Package demo runs the integration examples from Customer.io's
// documentation: each renders its action for its sample data and sends it,
// signed, to a local stand-in for the real API that verifies the signature
// and answers as that API would. Nothing leaves the machine: the rendered
// request is printed with its real destination, then sent to loopback
// instead.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	webhook "github.com/liquidhook/webhook"
)

// Integration describes how a stand-in API answers, and which attributes
// the example maps from that answer.
type Integration struct {
	// Name is the service's name, for output.
	Name string
	// Status and Answer are the stand-in's response.
	Status int
	Answer string
	// Map adds response templates to the action: attribute name to
	// template.
	Map map[string]string
}

// Integrations are the examples from Customer.io's documentation, by
// folder name under examples/.
var Integrations = map[string]Integration{
	"close": {
		Name: "Close", Status: http.StatusOK,
		Answer: `{"id": "lead_EQ9nP2yXk4BPXVTTmrHT1fpTKsE7xMYAMFvJ9VBJ6mj", "display_name": "Bäckerei Schmidt GmbH"}`,
		Map:    map[string]string{"close_lead_id": "{{ response.id }}"},
	},
	"helpscout": {
		Name: "Help Scout", Status: http.StatusCreated,
	},
	"ifttt": {
		Name: "IFTTT", Status: http.StatusOK,
		Answer: `Congratulations! You've fired the event`,
	},
	"lob": {
		Name: "Lob", Status: http.StatusOK,
		Answer: `{"id": "psc_5c002b86ce47537a", "expected_delivery_date": "2025-03-12"}`,
		Map:    map[string]string{"lob_postcard_id": "{{ response.id }}", "postcard_arrives": "{{ response.expected_delivery_date }}"},
	},
	"medallia": {
		Name: "Medallia", Status: http.StatusOK,
		Answer: `{"id": 88123, "campaign_id": 2157, "contact": {"id": 5150, "email": "ines.duarte@example.pt"}}`,
		Map:    map[string]string{"medallia_contact_id": "{{ response.contact.id }}"},
	},
	"trello": {
		Name: "Trello", Status: http.StatusOK,
		Answer: `{"id": "5abbe4b7ddc1b351ef961415", "shortUrl": "https://trello.com/c/aBcD1234"}`,
		Map:    map[string]string{"trello_card_id": "{{ response.id }}"},
	},
	"zapier": {
		Name: "Zapier", Status: http.StatusOK,
		Answer: `{"attempt": "018e0f2d-4c55-4bd7-a3e7-4a9c1e1d1f3a", "id": "018e0f2d-4c55-4bd7-a3e7-4a9c1e1d1f3a", "request_id": "5f0gR2Sx", "status": "success"}`,
		Map:    map[string]string{"zapier_request_id": "{{ response.request_id }}"},
	},
	"zendesk": {
		Name: "Zendesk", Status: http.StatusCreated,
		Answer: `{"ticket": {"id": 35436, "status": "new"}}`,
		Map:    map[string]string{"zendesk_ticket_id": "{{ response.ticket.id }}"},
	},
}

// Main runs the example in folder with its action and data files'
// contents, printing to standard output, and exits non-zero on failure.
func Main(folder string, action, data []byte) {
	if err := Run(context.Background(), os.Stdout, folder, action, data); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Run renders action for data, prints the request, and sends it to a
// verifying stand-in for the integration in folder.
func Run(ctx context.Context, out io.Writer, folder string, action, data []byte) error {
	in, ok := Integrations[folder]
	if !ok {
		return fmt.Errorf("demo: no integration %q", folder)
	}
	spec, err := webhook.ParseSpec(action)
	if err != nil {
		return fmt.Errorf("%s/action.json: %w", folder, err)
	}
	vars, err := webhook.ParseData(data)
	if err != nil {
		return fmt.Errorf("%s/data.json: %w", folder, err)
	}
	if len(in.Map) > 0 {
		spec.Response = in.Map
	}
	compiled, err := webhook.Compile(spec)
	if err != nil {
		return fmt.Errorf("%s/action.json: %w", folder, err)
	}
	req, err := compiled.Render(vars)
	if err != nil {
		return fmt.Errorf("%s/action.json: %w", folder, err)
	}

	fmt.Fprintf(out, "%s: %s %s\n", in.Name, req.Method, webhook.RedactURL(req.URL))
	if spec.Sending != webhook.SendingAutomatic {
		fmt.Fprintln(out, "  (a draft: a queue would hold it until released; sent here as a manual send)")
	}
	header := req.RedactedHeader()
	names := make([]string, 0, len(header))
	for name := range header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(out, "  %s: %s\n", name, strings.Join(header[name], ", "))
	}
	fmt.Fprintf(out, "\n%s\n\n", strings.TrimRight(string(req.Body), "\n"))

	key := []byte(os.Getenv("LIQUIDHOOK_SIGNING_KEY"))
	if len(key) == 0 {
		key = []byte("demo-signing-key")
	}
	addr, stop, err := standIn(out, in, key)
	if err != nil {
		return err
	}
	defer stop()

	// Send to the stand-in instead of the real API, keeping path and query.
	u, err := url.Parse(req.URL)
	if err != nil {
		return err
	}
	u.Scheme, u.Host = "http", addr
	req.URL = u.String()

	sender := webhook.Sender{
		Key:          key,
		AllowPrivate: true, // the stand-in listens on loopback
		RetryPolicy:  webhook.Exponential{Retries: 2, FirstWait: 100 * time.Millisecond},
	}
	res, err := sender.Send(ctx, req, compiled.Mapper(vars))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sent to a local stand-in: status %d after %d attempt(s)\n", res.Response.Status, len(res.Attempts))
	if len(res.Attributes) > 0 {
		attrs, _ := json.Marshal(res.Attributes)
		fmt.Fprintf(out, "attributes: %s\n", attrs)
	}
	return nil
}

// standIn starts a loopback server that plays the integration's API: it
// lets through only requests signed with key, and answers as configured.
func standIn(out io.Writer, in Integration, key []byte) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	v := &webhook.Verifier{
		Keys:     [][]byte{key},
		OnReject: func(r *http.Request, err error) { fmt.Fprintf(out, "stand-in: refused: %v\n", err) },
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		valid := json.Valid(body)
		// The path is redacted as the sender's was: IFTTT's holds its key.
		path := strings.TrimPrefix(webhook.RedactURL("http://stand-in"+r.URL.EscapedPath()), "http://stand-in")
		fmt.Fprintf(out, "stand-in: signature valid; %s %s; %d-byte body", r.Method, path, len(body))
		if r.Header.Get("Content-Type") == "application/json" {
			fmt.Fprintf(out, ", valid JSON: %v", valid)
		}
		if _, _, ok := r.BasicAuth(); ok {
			fmt.Fprint(out, "; basic auth present")
		}
		fmt.Fprintln(out)
		if strings.HasPrefix(strings.TrimSpace(in.Answer), "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(in.Status)
		io.WriteString(w, in.Answer)
	})
	srv := &http.Server{Handler: v.Middleware(api), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}
