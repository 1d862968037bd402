package webhooktest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/webhooktest"
)

// A handler's test sends it a request signed as a Sender would sign it,
// and one signed too long ago, which the Verifier refuses as a replay.
func ExampleNewRequest() {
	key := []byte("test-signing-key")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("handled %s\n", body)
	})
	h := (&webhook.Verifier{Keys: [][]byte{key}}).Middleware(handler)
	body := []byte(`{"email":"ada@example.com"}`)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, webhooktest.NewRequest("POST", "/hooks", body, webhook.CIOSigner{Key: key}))
	fmt.Println(rec.Code)

	rec = httptest.NewRecorder()
	stale := time.Now().Add(-time.Hour)
	h.ServeHTTP(rec, webhooktest.NewRequestAt("POST", "/hooks", body, webhook.CIOSigner{Key: key}, stale))
	fmt.Println(rec.Code)
	// Output:
	// handled {"email":"ada@example.com"}
	// 200
	// 401
}
