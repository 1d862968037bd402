package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrations runs the example of every integration in Customer.io's
// documentation on its own files and checks that the stand-in verified the
// request and that the mapped attributes came back, with no credential
// printed.
func TestIntegrations(t *testing.T) {
	credentials := []string{"CLOSE-API-KEY", "HELPSCOUT-API-KEY", "test_LOB-API-KEY", "ZENDESK-API-TOKEN", "TRELLO-API-KEY", "TRELLO-TOKEN", "IFTTT-WEBHOOKS-KEY", "PROMOTER-API-KEY"}
	for folder, in := range Integrations {
		t.Run(folder, func(t *testing.T) {
			action, err := os.ReadFile(filepath.Join("..", "..", folder, "action.json"))
			require.NoError(t, err)
			data, err := os.ReadFile(filepath.Join("..", "..", folder, "data.json"))
			require.NoError(t, err)
			var out bytes.Buffer
			require.NoError(t, Run(context.Background(), &out, folder, action, data))
			got := out.String()
			assert.Contains(t, got, "stand-in: signature valid")
			assert.NotContains(t, got, "refused")
			assert.Contains(t, got, "sent to a local stand-in: status ")
			if len(in.Map) > 0 {
				assert.Contains(t, got, "attributes: {")
			}
			for _, c := range credentials {
				assert.NotContains(t, got, c)
			}
		})
	}
}

func TestUnknownIntegration(t *testing.T) {
	err := Run(context.Background(), &bytes.Buffer{}, "nowhere", []byte(`{}`), []byte(`{}`))
	assert.ErrorContains(t, err, `no integration "nowhere"`)
}
