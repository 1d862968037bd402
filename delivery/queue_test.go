package delivery

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClosedQueue(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	require.NoError(t, q.Close())
	require.NoError(t, q.Close(), "Close twice")
	ctx := context.Background()
	_, err := q.Get(ctx, 1)
	require.ErrorIs(t, err, ErrClosed)
	_, err = q.Enqueue(ctx, nil, nil, nil)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, q.Work(ctx, nil), ErrClosed)

	var none *Queue
	require.ErrorIs(t, none.Close(), ErrClosed)
	_, err = none.Get(ctx, 1)
	require.ErrorIs(t, err, ErrClosed)
}

func TestOpenSQLiteKeepsDeliveriesAcrossOpens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "deliveries.db")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	q, err := OpenSQLite(ctx, path)
	require.NoError(t, err)
	d := mustEnqueue(t, q, testAction(t, "https://example.com", ""), customer("a@example.com"), nil)
	require.NoError(t, q.Close())

	again, err := Open(ctx, path)
	require.NoError(t, err, "a second open finds the schema up to date")
	defer again.Close()
	got := mustGet(t, again, d.ID)
	assert.Equal(t, d.IdempotencyKey, got.IdempotencyKey)
	var journal string
	require.NoError(t, again.s.db().queryRow(ctx, `PRAGMA journal_mode`).Scan(&journal))
	assert.Equal(t, "wal", journal)
}

// TestOpenConcurrently opens a new database from several goroutines at
// once, as worker processes starting together would: each migrates or
// finds the schema migrated.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			// Processes that start together race to create the file, put it
			// in WAL mode and migrate it: several rounds, each on a new
			// database, so that a lost race shows.
			for range 5 {
				var dsn string
				if b.name == "sqlite" {
					dsn = filepath.Join(t.TempDir(), "deliveries.db")
				} else {
					dsn = postgresTestURL(t)
				}
				var wg sync.WaitGroup
				errs := make([]error, 8)
				for i := range errs {
					wg.Go(func() {
						q, err := Open(context.Background(), dsn)
						if err == nil {
							_, err = q.Enqueue(context.Background(), testAction(t, "https://example.com", ""), customer("a@example.com"), nil)
							q.Close()
						}
						errs[i] = err
					})
				}
				wg.Wait()
				for _, err := range errs {
					require.NoError(t, err)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		dsn     string
		wantErr error
		wantMsg string
	}{
		{"empty SQLite path", "", ErrInvalidDatabase, "empty SQLite path"},
		{"a query in the path", "x.db?mode=ro", ErrInvalidDatabase, "plain file path"},
		{"a file: URI", "file:x.db", ErrInvalidDatabase, "plain file path"},
		{"a directory that does not exist", filepath.Join(t.TempDir(), "missing", "x.db"), nil, "missing/x.db: no such file or directory"},
		{"bad PostgreSQL URL", "postgres://user:s3cret@host:notaport/db", ErrInvalidDatabase, "invalid PostgreSQL URL"},
		{"a PostgreSQL URL in capitals", "POSTGRES://user:s3cret@127.0.0.1:1/db", ErrInvalidDatabase, `"POSTGRES://…" is a URL, not a SQLite file path`},
		{"another database's URL", "mysql://user:s3cret@db.example/app?tls=true", ErrInvalidDatabase, `"mysql://…" is a URL`},
		{"a URL without a scheme", "user:s3cret@db://app", ErrInvalidDatabase, "the path is a URL, not a SQLite file path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(ctx, tt.dsn)
			require.ErrorContains(t, err, tt.wantMsg)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NotErrorIs(t, err, ErrInvalidDatabase)
			}
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
	t.Run("unreachable PostgreSQL", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := OpenPostgres(ctx, "postgres://user:s3cret@127.0.0.1:1/db?connect_timeout=2")
		require.ErrorContains(t, err, "connect to PostgreSQL")
		assert.NotContains(t, err.Error(), "s3cret")
	})
}
