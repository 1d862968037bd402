package webhooktest

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/internal/tbtest"
)

// update is the flag AssertRender reads, defined here as a test package
// that uses it defines it.
var update = flag.Bool("update", false, "rewrite golden files")

// leadSpec is an action with everything a golden file shows: basic auth
// and a secret in the URL, headers from data, several values of one
// header, and a JSON body over several lines.
var leadSpec = webhook.Spec{
	URL: "https://user:pass@api.example.com/v1/leads?token=s3cret&src={{ event.name | url_encode }}",
	Headers: map[string]string{
		"Content-Type": "application/json",
		"X-Team":       "{{ customer.team }}",
	},
	Body: "{\n  \"email\": {{ customer.email | json }}\n}",
}

var leadData = map[string]any{
	"customer": map[string]any{"email": "ada@example.com", "team": "sales"},
	"event":    map[string]any{"name": "sign up"},
}

// leadGolden is leadSpec's golden text for leadData.
const leadGolden = `POST https://api.example.com/v1/leads?src=sign+up&token=REDACTED
Authorization: REDACTED
Content-Type: application/json
X-Team: sales

{
  "email": "ada@example.com"
}
`

func TestGoldenText(t *testing.T) {
	action, err := webhook.Compile(leadSpec)
	require.NoError(t, err)
	req, err := action.Render(leadData)
	require.NoError(t, err)
	assert.Equal(t, leadGolden, goldenText(req))

	req, err = webhook.NewRequest(http.MethodGet, "https://api.example.com/x").
		Header("Accept", "text/plain").Header("Accept", "application/json").
		Body("text/plain", []byte("no newline")).Build()
	require.NoError(t, err)
	assert.Equal(t, "GET https://api.example.com/x\nAccept: text/plain\nAccept: application/json\nContent-Type: text/plain\n\nno newline\n",
		goldenText(req))
}

func TestAssertRender(t *testing.T) {
	action, err := webhook.Compile(leadSpec)
	require.NoError(t, err)
	tests := []struct {
		name        string
		golden      string // "": no file
		data        map[string]any
		wantStopped bool
		wantErrors  []string
	}{
		{"matches", leadGolden, leadData, false, nil},
		{"differs", strings.Replace(leadGolden, "ada@", "bob@", 1), leadData, false, []string{
			"webhooktest: the render differs from GOLDEN (-golden +render):\n" +
				"  ...\n" +
				"  X-Team: sales\n" +
				"  \n" +
				"  {\n" +
				"-   \"email\": \"bob@example.com\"\n" +
				"+   \"email\": \"ada@example.com\"\n" +
				"  }\n" +
				"run go test with -update to rewrite it",
		}},
		{"missing file", "", leadData, false, []string{
			"webhooktest: golden file: open GOLDEN: no such file or directory; run go test with -update to write it",
		}},
		{"render error", leadGolden, map[string]any{"event": map[string]any{"name": "x"}}, true, []string{
			"webhooktest: rendering for GOLDEN: webhook: headers.X-Team: line 1: missing variable customer.team",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lead.golden")
			if tt.golden != "" {
				require.NoError(t, os.WriteFile(path, []byte(tt.golden), 0o644))
			}
			tb := tbtest.New()
			defer tb.Finish()
			var req *webhook.Request
			returned := tb.Run(func(t testing.TB) { req = AssertRender(t, action, tt.data, path) })
			assert.Equal(t, !tt.wantStopped, returned)
			var want []string
			for _, e := range tt.wantErrors {
				want = append(want, strings.ReplaceAll(e, "GOLDEN", path))
			}
			assert.Equal(t, want, tb.Errors())
			if returned {
				require.NotNil(t, req)
				assert.Contains(t, string(req.Body), "ada@example.com")
			}
		})
	}
}

func TestAssertRenderUpdate(t *testing.T) {
	require.NoError(t, flag.Set("update", "true"))
	defer flag.Set("update", "false")
	action, err := webhook.Compile(leadSpec)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "new", "lead.golden")

	tb := tbtest.New()
	defer tb.Finish()
	require.True(t, tb.Run(func(t testing.TB) { AssertRender(t, action, leadData, path) }))
	assert.Empty(t, tb.Errors())
	assert.Equal(t, []string{"webhooktest: wrote " + path}, tb.Logs())
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, leadGolden, string(got))
}

func TestHowToUpdate(t *testing.T) {
	assert.Equal(t, "run go test with -update to rewrite it", howToUpdate("rewrite", true))
	assert.Equal(t, `define the flag in the test package, var _ = flag.Bool("update", false, "rewrite golden files"), `+
		"and run go test with -update to write it", howToUpdate("write", false))
	got, defined := updateRequested()
	assert.True(t, defined)
	assert.Equal(t, *update, got)
}
