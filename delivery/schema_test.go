package delivery

import (
	"context"
	"strings"
	"testing"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPostgresTablesStayInTheirSchema checks the isolation the tests (and
// applications) rely on: search_path in the URL decides where the tables go.
func TestPostgresTablesStayInTheirSchema(t *testing.T) {
	t.Parallel()
	q, dsn := openPostgresTest(t)
	var schema string
	require.NoError(t, q.s.db().queryRow(context.Background(),
		`SELECT table_schema FROM information_schema.tables WHERE table_name = 'liquidhook_delivery' AND table_schema = current_schema()`).Scan(&schema))
	assert.True(t, strings.Contains(dsn, "search_path="+schema), "tables in %s, URL %s", schema, dsn)
	_, err := q.Enqueue(context.Background(), testAction(t, "https://example.com", webhook.SendingAutomatic), customer("a@example.com"), nil)
	require.NoError(t, err)
}
