package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"modernc.org/sqlite" // the pure Go SQLite driver
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteBusyTimeoutMillis is how long a statement waits for another
// process's write lock before failing. Several worker processes may share a
// file; each write holds the lock for well under a millisecond.
const sqliteBusyTimeoutMillis = 30000

// OpenSQLite opens (creating it if missing) the SQLite database file at
// path, brings its schema up to date (River's tables and the delivery log),
// and returns a Queue on it. A file it creates, and the -wal and -shm files
// beside it, are readable and writable by their owner only (0600); a file
// that exists keeps its mode. No server is needed. A path that is a URL is
// refused: PostgreSQL's go to OpenPostgres.
//
// The file is put in WAL mode, statements wait for another process's lock
// instead of failing, every transaction takes the write lock when it begins,
// and the Queue uses a single connection: River's maintenance and the
// delivery log would otherwise lock each other out. That connection keeps
// the statements it runs prepared, so each SQL text is parsed once rather
// than on every run. Several processes may share the file; for many
// workers or machines, use OpenPostgres.
func OpenSQLite(ctx context.Context, path string) (*Queue, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty SQLite path", ErrInvalidDatabase)
	}
	if scheme, _, ok := strings.Cut(path, "://"); ok {
		// A URL, perhaps with a password, which the error must not repeat:
		// at most its scheme, to show what was given.
		what := "the path"
		if isScheme(scheme) {
			what = strconv.Quote(scheme + "://…")
		}
		return nil, fmt.Errorf("%w: %s is a URL, not a SQLite file path; PostgreSQL URLs start with postgres:// or postgresql://", ErrInvalidDatabase, what)
	}
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("%w: SQLite path %q: want a plain file path (no ?, # or file: URI)", ErrInvalidDatabase, path)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("delivery: open %s: %w", path, err)
	}
	// A connector rather than sql.Open, so that the statement cache can
	// wrap its connections; it opens the DSN as sql.Open("sqlite", dsn) did,
	// through the same registered driver, which applies every parameter.
	connector, err := sqlite.NewConnector(sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("delivery: open %s: %w", path, err)
	}
	db := sql.OpenDB(newStmtCacheConnector(connector, stmtCacheSize))
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := pingSQLite(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("delivery: open %s: %w", path, err)
	}

	s, err := newRiverStore(&riverStore[*riversqlite.Driver, *sql.Tx]{
		d:      dialectSQLite,
		driver: riversqlite.New(db),
		pool:   sqlExecer{db},
		begin: func(ctx context.Context) (*sql.Tx, execer, error) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return nil, nil, err
			}
			return tx, sqlExecer{tx}, nil
		},
		commit:  func(_ context.Context, tx *sql.Tx) error { return tx.Commit() },
		abort:   func(_ context.Context, tx *sql.Tx) error { return tx.Rollback() },
		closeDB: func() { db.Close() },
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := migrateSQLite(ctx, s); err != nil {
		db.Close()
		return nil, fmt.Errorf("delivery: migrate %s: %w", path, err)
	}
	return newQueue(s), nil
}

// pingSQLite opens db's connection, which puts a new file in WAL mode.
// SQLite answers that switch with SQLITE_BUSY at once, without waiting as
// busy_timeout makes statements wait, while another process opening the
// same new file holds its lock; so the connection is opened again, for as
// long as a statement would have waited.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteBusyTimeoutMillis * time.Millisecond)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// createPrivate creates the database file at path, empty, readable and
// writable by its owner only, unless it exists: SQLite then gives its -wal
// and -shm files the same mode. An existing file keeps the mode it has,
// which may be the operator's choice (a group that makes backups).
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err // the caller names the path
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// sqliteDSN returns the DSN for the file at path: modernc's driver runs the
// pragmas on each connection it opens, and begins every transaction with
// BEGIN IMMEDIATE.
func sqliteDSN(path string) string {
	params := url.Values{}
	params.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeoutMillis))
	params.Add("_pragma", "journal_mode(WAL)")
	// NORMAL is durable across application crashes in WAL mode; only a power
	// loss can roll back the last transactions.
	params.Add("_pragma", "synchronous(NORMAL)")
	params.Add("_pragma", "foreign_keys(1)")
	params.Set("_txlock", "immediate")
	return path + "?" + params.Encode()
}

// isScheme reports whether s can be a URL's scheme (RFC 3986): a letter,
// then letters, digits, +, - or dots.
func isScheme(s string) bool {
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// sqlConn is what *sql.DB and *sql.Tx share.
type sqlConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type sqlExecer struct{ c sqlConn }

func (e sqlExecer) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := e.c.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e sqlExecer) queryRow(ctx context.Context, q string, args ...any) scanner {
	return e.c.QueryRowContext(ctx, q, args...)
}

func (e sqlExecer) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := e.c.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }
