package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDurable(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, filepath.Join(t.TempDir(), "deliveries.db")))
	got := out.String()
	assert.Contains(t, got, "queued:   delivery 1 (scheduled), delivery 2 (draft)")
	assert.Contains(t, got, "worker:   delivery 1, attempt 1: status 503, retry in")
	assert.Contains(t, got, `app:      ada's attributes are now {"crm_id":"crm_2"}`)
	assert.NotContains(t, got, "refused", "every request was signed")

	// The draft went out only after its release.
	released := strings.Index(got, "released: delivery 2")
	require.Positive(t, released)
	assert.Greater(t, strings.Index(got, "grace@example.com on team"), released)

	// The re-send carried the new data and the original key.
	keyOf := func(line string) string {
		m := regexp.MustCompile(regexp.QuoteMeta(line) + `, idempotency key (\S+)`).FindStringSubmatch(got)
		require.Len(t, m, 2, "no line %q in\n%s", line, got)
		return m[1]
	}
	assert.Equal(t, keyOf("ada@example.com on free"), keyOf("ada@example.com on team"))
	assert.Contains(t, got, "log:        series 2 attempt 1: status 200, delivered")
}
