package delivery_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/delivery"
)

// Mount the Sent tab under a prefix, read-only, and open a delivery's page.
func ExampleNewHandler() {
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
	action, err := webhook.Compile(webhook.Spec{URL: "https://api.example.com/leads", Body: `{"email": {{ customer.email | json }}}`})
	if err != nil {
		log.Fatal(err)
	}
	d, err := q.Enqueue(ctx, action, map[string]any{"customer": map[string]any{"email": "ada@example.com"}}, nil)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	// An application puts its own authentication in front.
	mux.Handle("/admin/webhooks/", http.StripPrefix("/admin/webhooks",
		delivery.NewHandler(q, &delivery.HandlerOptions{ReadOnly: true})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(fmt.Sprintf("%s/admin/webhooks/deliveries/%d", srv.URL, d.ID))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status)
	fmt.Println(strings.Contains(string(page), `<span class="state st-draft">draft</span>`))
	fmt.Println(strings.Contains(string(page), "https://api.example.com/leads"))
	// Output:
	// 200 OK
	// true
	// true
}

// Page through the log newest first, two at a time.
func ExampleQueue_Page() {
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
	action, err := webhook.Compile(webhook.Spec{URL: "https://api.example.com/leads", Body: `{}`})
	if err != nil {
		log.Fatal(err)
	}
	for range 5 {
		if _, err := q.Enqueue(ctx, action, nil, nil); err != nil {
			log.Fatal(err)
		}
	}

	opts := &delivery.PageOptions{States: []delivery.State{delivery.StateDraft}, Limit: 2}
	for {
		page, err := q.Page(ctx, opts)
		if err != nil {
			log.Fatal(err)
		}
		var ids []int64
		for _, d := range page.Deliveries {
			ids = append(ids, d.ID)
		}
		fmt.Println(ids)
		if page.Before == 0 {
			break
		}
		opts.Before = page.Before
	}
	// Output:
	// [5 4]
	// [3 2]
	// [1]
}
