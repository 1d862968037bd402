package delivery

import (
	"context"
	"strings"
	"testing"

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
	enqueueOne(t, q, "https://example.com")
}

// TestLogMigratesAFileOfAnEarlierVersion: a log of the first version,
// written before deliveries kept their lax mode and their destination,
// gains both on open (strict, and no destination known yet) and the
// destinations' table, and its deliveries still read and render.
func TestLogMigratesAFileOfAnEarlierVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, path := openSQLiteTest(t)
	d := enqueueOne(t, q, "https://example.com")
	for _, stmt := range []string{
		`DELETE FROM liquidhook_migration WHERE version >= 2`,
		`ALTER TABLE liquidhook_delivery DROP COLUMN lax`,
		`DROP INDEX liquidhook_delivery_parked`,
		`ALTER TABLE liquidhook_delivery DROP COLUMN destination`,
		`DROP TABLE liquidhook_destination`,
	} {
		_, err := q.s.db().exec(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	require.NoError(t, q.Close())

	again, err := OpenSQLite(ctx, path)
	require.NoError(t, err)
	defer again.Close()
	var version int
	require.NoError(t, again.s.db().queryRow(ctx, `SELECT max(version) FROM liquidhook_migration`).Scan(&version))
	assert.Equal(t, migrations[len(migrations)-1].version, version)
	got := mustGet(t, again, d.ID)
	assert.False(t, got.Lax)
	assert.Empty(t, got.Destination)
	_, err = again.request(got)
	assert.NoError(t, err)
}
