package webhooktest_test

import (
	"fmt"
	"os"
	"testing"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/internal/tbtest"
	"github.com/liquidhook/webhook/webhooktest"
)

// A golden test of an action: the file holds the request it renders, with
// the credentials redacted, and go test -update rewrites it after a change
// made on purpose. A change made by accident fails the test with a diff.
func ExampleAssertRender() {
	tbtest.Example(func(t testing.TB) {
		action, err := webhook.Compile(webhook.Spec{
			URL: "https://{{ secrets.close_key }}:@api.close.com/api/v1/lead/",
			Body: `{
  "name": {{ customer.company | json }},
  "contacts": [{"emails": [{"email": {{ customer.email | json }}}]}]
}`,
			Response: map[string]string{"close_lead_id": "{{ response.id }}"},
		})
		if err != nil {
			t.Fatal(err)
		}
		webhooktest.AssertRender(t, action, map[string]any{
			"customer": map[string]any{"email": "ada@example.com", "company": "Analytical Engines"},
			"secrets":  map[string]any{"close_key": "api_4Fq2"},
		}, "testdata/close_lead.golden")

		golden, err := os.ReadFile("testdata/close_lead.golden")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Print(string(golden))
	})
	// Output:
	// POST https://api.close.com/api/v1/lead/
	// Authorization: REDACTED
	// Content-Type: application/json
	//
	// {
	//   "name": "Analytical Engines",
	//   "contacts": [{"emails": [{"email": "ada@example.com"}]}]
	// }
}
