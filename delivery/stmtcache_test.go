package delivery

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// countingConnector opens modernc's connections with the statements they
// prepare, and the closing of those, counted. The cache prepares through
// PrepareContext only; a run that bypasses it prepares inside the driver,
// uncounted. So the counts tell hits from misses, and show whether every
// statement the cache prepared was closed.
type countingConnector struct {
	driver.Connector
	prepared atomic.Int64
	closed   atomic.Int64
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{sqliteConn: conn.(sqliteConn), counts: c}, nil
}

// countingConn counts the statements prepared on a connection.
type countingConn struct {
	sqliteConn
	counts *countingConnector
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.counts.prepared.Add(1)
	return &countingStmt{sqliteStmt: st.(sqliteStmt), counts: c.counts}, nil
}

// countingStmt counts its Close.
type countingStmt struct {
	sqliteStmt
	counts *countingConnector
	closed bool
}

func (s *countingStmt) Close() error {
	s.counts.closed.Add(1)
	s.closed = true
	return s.sqliteStmt.Close()
}

// openStmtCacheTest opens a database on a new file, with OpenSQLite's
// settings, through a statement cache of size entries, and returns the
// counts of what the cache prepared and closed.
func openStmtCacheTest(t *testing.T, size int) (*sql.DB, *countingConnector) {
	t.Helper()
	base, err := sqlite.NewConnector(sqliteDSN(filepath.Join(t.TempDir(), "cache.db")))
	require.NoError(t, err)
	counts := &countingConnector{Connector: base}
	db := sql.OpenDB(newStmtCacheConnector(counts, size))
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db, counts
}

// withStmtCache runs fn on the cache of conn's connection.
func withStmtCache(t *testing.T, conn *sql.Conn, fn func(c *stmtCacheConn)) {
	t.Helper()
	require.NoError(t, conn.Raw(func(dc any) error {
		c, ok := dc.(*stmtCacheConn)
		require.True(t, ok, "%T is not a *stmtCacheConn", dc)
		fn(c)
		return nil
	}))
}

// queryInts runs query on conn and returns its one integer column.
func queryInts(t *testing.T, conn *sql.Conn, query string, args ...any) []int64 {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestStmtCachePreparesRepeatedSQLOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, counts := openStmtCacheTest(t, stmtCacheSize)
	_, err := db.ExecContext(ctx, `CREATE TABLE t (n INTEGER)`)
	require.NoError(t, err)
	before := counts.prepared.Load()

	for i := range 20 {
		_, err := db.ExecContext(ctx, `INSERT INTO t (n) VALUES (?)`, i)
		require.NoError(t, err)
		var n int64
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE n <= ?`, i).Scan(&n))
		assert.Equal(t, int64(i+1), n)
	}
	assert.Equal(t, before+2, counts.prepared.Load(), "one prepare per SQL text")

	// Inside a transaction the connection's statements serve as well.
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `INSERT INTO t (n) VALUES (?)`, 100)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	var n int64
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE n <= ?`, 100).Scan(&n))
	assert.Equal(t, int64(21), n)
	assert.Equal(t, before+2, counts.prepared.Load())
	assert.Zero(t, counts.closed.Load(), "nothing evicted or failed")
}

func TestStmtCacheNestedQueryGetsItsOwnStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, counts := openStmtCacheTest(t, stmtCacheSize)
	_, err := db.ExecContext(ctx, `CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3), (4), (5)`)
	require.NoError(t, err)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	const q = `SELECT n FROM t WHERE n >= ? ORDER BY n`
	before := counts.prepared.Load()

	// The same text, queried and executed, while its rows are open.
	outer, err := conn.QueryContext(ctx, q, 1)
	require.NoError(t, err)
	defer outer.Close() // before conn, should the test fail midway
	var got []int64
	var inner [][]int64
	for outer.Next() {
		require.Less(t, len(got), 5, "the outer rows started over")
		var n int64
		require.NoError(t, outer.Scan(&n))
		got = append(got, n)
		inner = append(inner, queryInts(t, conn, q, n+2))
		_, err := conn.ExecContext(ctx, q, 0)
		require.NoError(t, err)
	}
	require.NoError(t, outer.Err())
	require.NoError(t, outer.Close())
	assert.Equal(t, []int64{1, 2, 3, 4, 5}, got, "the outer rows went on where they were")
	assert.Equal(t, [][]int64{{3, 4, 5}, {4, 5}, {5}, nil, nil}, inner)

	// Two open rows of one text, read in turn.
	a, err := conn.QueryContext(ctx, q, 1)
	require.NoError(t, err)
	defer a.Close()
	b, err := conn.QueryContext(ctx, q, 3)
	require.NoError(t, err)
	defer b.Close()
	var fromA, fromB []int64
	for more := true; more; {
		require.LessOrEqual(t, len(fromA)+len(fromB), 8, "the rows started over")
		more = false
		for _, r := range []struct {
			rows *sql.Rows
			into *[]int64
		}{{a, &fromA}, {b, &fromB}} {
			if r.rows.Next() {
				var n int64
				require.NoError(t, r.rows.Scan(&n))
				*r.into = append(*r.into, n)
				more = true
			}
		}
	}
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	assert.Equal(t, []int64{1, 2, 3, 4, 5}, fromA)
	assert.Equal(t, []int64{3, 4, 5}, fromB)

	// Only the first use of the text was cached, and its statement is free
	// again.
	assert.Equal(t, []int64{4, 5}, queryInts(t, conn, q, 4))
	assert.Equal(t, before+1, counts.prepared.Load())
	withStmtCache(t, conn, func(c *stmtCacheConn) {
		e, ok := c.byQuery[q]
		require.True(t, ok)
		assert.False(t, e.Value.(*cachedStmt).inUse)
	})
}

func TestStmtCacheRunsScriptsUncached(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, counts := openStmtCacheTest(t, stmtCacheSize)
	count := func() (n int64) {
		t.Helper()
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM a`).Scan(&n))
		return n
	}

	_, err := db.ExecContext(ctx, `CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);`)
	require.NoError(t, err)
	assert.Equal(t, int64(2), count())
	for range 2 {
		_, err = db.ExecContext(ctx, "INSERT INTO a VALUES (?);\n-- again\nINSERT INTO a VALUES (?)", 3, 4)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(6), count())
	_, err = db.ExecContext(ctx, `CREATE TABLE log (x INTEGER);
CREATE TRIGGER a_log AFTER INSERT ON a BEGIN INSERT INTO log VALUES (new.x); END`)
	require.NoError(t, err)
	var n int64
	require.NoError(t, db.QueryRowContext(ctx, `INSERT INTO a VALUES (7); SELECT count(*) FROM log`).Scan(&n))
	assert.Equal(t, int64(1), n, "the trigger's inner semicolon did not split it")
	assert.Equal(t, int64(7), count())
	assert.Equal(t, int64(1), counts.prepared.Load(), "only the count query was cached")

	// One statement with a semicolon and a comment after it is cached, the
	// tail cut off.
	const q = "SELECT count(*) FROM a; -- all of them\n"
	for range 3 {
		require.NoError(t, db.QueryRowContext(ctx, q).Scan(&n))
		assert.Equal(t, int64(7), n)
	}
	assert.Equal(t, int64(2), counts.prepared.Load())
}

func TestStmtCacheEvictsBeyondItsBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, counts := openStmtCacheTest(t, 4)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	query := func(k, arg int) {
		t.Helper()
		var got int64
		require.NoError(t, conn.QueryRowContext(ctx, fmt.Sprintf("SELECT ? + %d", k), arg).Scan(&got))
		assert.Equal(t, int64(arg+k), got)
	}
	checkBound := func() {
		t.Helper()
		withStmtCache(t, conn, func(c *stmtCacheConn) {
			assert.LessOrEqual(t, c.lru.Len(), 4)
			assert.Len(t, c.byQuery, c.lru.Len())
		})
		assert.LessOrEqual(t, counts.prepared.Load()-counts.closed.Load(), int64(4),
			"every statement evicted is closed")
	}

	// Ten texts in turn through four places: each run misses.
	for round := range 3 {
		for k := range 10 {
			query(k, round*100)
		}
		checkBound()
	}
	assert.Equal(t, int64(30), counts.prepared.Load())
	assert.Equal(t, int64(26), counts.closed.Load())

	// The least recently used goes first: a text run between all others
	// stays.
	prepared := counts.prepared.Load()
	for k := range 10 {
		query(1000, k)
		query(k, 7)
	}
	checkBound()
	assert.Equal(t, prepared+1+10, counts.prepared.Load())

	// A statement evicted while its rows are open is closed once they are.
	_, err = conn.ExecContext(ctx, `CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3)`)
	require.NoError(t, err)
	const q = `SELECT n FROM t ORDER BY n`
	rows, err := conn.QueryContext(ctx, q)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var evicted *countingStmt
	withStmtCache(t, conn, func(c *stmtCacheConn) {
		evicted = c.byQuery[q].Value.(*cachedStmt).stmt.(*countingStmt)
	})
	for k := range 5 {
		query(2000+k, 1)
	}
	withStmtCache(t, conn, func(c *stmtCacheConn) {
		assert.NotContains(t, c.byQuery, q)
	})
	var got []int64
	for {
		require.False(t, evicted.closed, "closed while in use")
		var n int64
		require.NoError(t, rows.Scan(&n))
		got = append(got, n)
		if !rows.Next() {
			break // which closed the rows
		}
	}
	require.NoError(t, rows.Err())
	assert.True(t, evicted.closed, "closed once its rows were")
	assert.Equal(t, []int64{1, 2, 3}, got)
	assert.Equal(t, []int64{1, 2, 3}, queryInts(t, conn, q))
	checkBound()
}

func TestStmtCacheCloseClosesStatements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, counts := openStmtCacheTest(t, stmtCacheSize)
	for _, q := range []string{`SELECT 1`, `SELECT 2`, `SELECT 3`} {
		for range 2 {
			_, err := db.ExecContext(ctx, q)
			require.NoError(t, err)
		}
	}
	require.Equal(t, int64(3), counts.prepared.Load())
	require.Zero(t, counts.closed.Load())
	require.NoError(t, db.Close())
	assert.Equal(t, int64(3), counts.closed.Load())
}

func TestStmtCacheDropsAFailedStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, counts := openStmtCacheTest(t, stmtCacheSize)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `CREATE TABLE u (k TEXT UNIQUE)`)
	require.NoError(t, err)
	cached := func(q string) (ok bool) {
		withStmtCache(t, conn, func(c *stmtCacheConn) { _, ok = c.byQuery[q] })
		return ok
	}

	// A failed Exec.
	const ins = `INSERT INTO u (k) VALUES (?)`
	_, err = conn.ExecContext(ctx, ins, "a")
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, ins, "a")
	require.ErrorContains(t, err, "UNIQUE constraint failed")
	assert.False(t, cached(ins))
	assert.Equal(t, int64(1), counts.closed.Load())
	_, err = conn.ExecContext(ctx, ins, "b")
	require.NoError(t, err)
	assert.True(t, cached(ins))

	// A query failing as it starts, and one failing on its second row.
	const js = `SELECT json(column1) FROM (VALUES (?), (?))`
	_, err = conn.QueryContext(ctx, js, "{", "1")
	require.ErrorContains(t, err, "malformed JSON")
	assert.False(t, cached(js))
	rows, err := conn.QueryContext(ctx, js, "1", "{")
	require.NoError(t, err)
	defer rows.Close()
	assert.True(t, rows.Next())
	assert.False(t, rows.Next())
	require.ErrorContains(t, rows.Err(), "malformed JSON")
	rows.Close()
	assert.False(t, cached(js))
	assert.Equal(t, []int64{1, 2}, queryInts(t, conn, js, "1", "2"))
	assert.True(t, cached(js))

	// A statement that does not prepare is not cached.
	_, err = conn.ExecContext(ctx, `SELEC 1`)
	require.ErrorContains(t, err, "syntax error")
	assert.False(t, cached(`SELEC 1`))
	withStmtCache(t, conn, func(c *stmtCacheConn) {
		assert.Len(t, c.byQuery, 3, "the CREATE TABLE, ins and js")
		assert.Equal(t, counts.prepared.Load(), counts.closed.Load()+3, "the failed ones closed")
	})
}

func TestStmtCacheArgsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	plain, err := sql.Open("sqlite", sqliteDSN(filepath.Join(t.TempDir(), "plain.db")))
	require.NoError(t, err)
	defer plain.Close()
	cached, counts := openStmtCacheTest(t, stmtCacheSize)

	when := time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC)
	var nilString *string
	text := "héllo"
	values := []any{
		int64(-7), int64(1) << 62, 3, 1.5, "", text, &text, nilString,
		[]byte{0, 1, 255}, []byte{}, when, when.In(time.FixedZone("X", 2*3600)),
		nil, true, false,
	}
	const create = `CREATE TABLE v (i INTEGER, s TEXT, b BLOB, t DATETIME, n TEXT, f BOOLEAN)`
	const insert = `INSERT INTO v (i, s, b, t, n, f) VALUES (?, ?, ?, ?, ?, ?)`
	row := []any{int64(42), "text", []byte("bytes"), when, nil, true}
	read := func(db *sql.DB) (out [][]any) {
		t.Helper()
		for _, v := range values {
			for range 2 { // a miss, then a hit
				var got any
				var typ string
				require.NoError(t, db.QueryRowContext(ctx, `SELECT ?1, typeof(?1)`, v).Scan(&got, &typ))
				out = append(out, []any{got, typ})
			}
		}
		_, err := db.ExecContext(ctx, create)
		require.NoError(t, err)
		for range 2 {
			_, err := db.ExecContext(ctx, insert, row...)
			require.NoError(t, err)
		}
		rows, err := db.QueryContext(ctx, `SELECT i, s, b, t, n, f FROM v`)
		require.NoError(t, err)
		defer rows.Close()
		types, err := rows.ColumnTypes()
		require.NoError(t, err)
		for _, ct := range types {
			nullable, hasNullable := ct.Nullable()
			length, hasLength := ct.Length()
			out = append(out, []any{ct.Name(), ct.DatabaseTypeName(), ct.ScanType(), nullable, hasNullable, length, hasLength})
		}
		for rows.Next() {
			got := make([]any, len(row))
			ptrs := make([]any, len(row))
			for i := range got {
				ptrs[i] = &got[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			out = append(out, got)
		}
		require.NoError(t, rows.Err())
		return out
	}

	want := read(plain)
	got := read(cached)
	assert.Greater(t, counts.prepared.Load(), int64(2), "the cache ran the statements")
	require.Equal(t, len(want), len(got))
	for i := range want {
		assert.Equal(t, want[i], got[i], "value %d", i)
	}
	last := got[len(got)-1]
	assert.Equal(t, []byte("bytes"), last[2])
	assert.True(t, when.Equal(last[3].(time.Time)), "%v", last[3])
}

func TestStmtCacheForwardsDriverInterfaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, err := sqlite.NewConnector(sqliteDSN(filepath.Join(t.TempDir(), "cache.db")))
	require.NoError(t, err)
	raw, err := base.Connect(ctx)
	require.NoError(t, err)
	defer raw.Close()
	wrapped, err := newStmtCacheConnector(base, 4).Connect(ctx)
	require.NoError(t, err)
	defer wrapped.Close()

	// What database/sql looks for on a connection; it falls back to
	// driver.Execer and driver.Queryer only without the context forms.
	for _, iface := range []reflect.Type{
		reflect.TypeFor[driver.Conn](),
		reflect.TypeFor[driver.ConnBeginTx](),
		reflect.TypeFor[driver.ConnPrepareContext](),
		reflect.TypeFor[driver.ExecerContext](),
		reflect.TypeFor[driver.QueryerContext](),
		reflect.TypeFor[driver.Pinger](),
		reflect.TypeFor[driver.SessionResetter](),
		reflect.TypeFor[driver.Validator](),
		reflect.TypeFor[driver.NamedValueChecker](),
	} {
		assert.Equal(t, reflect.TypeOf(raw).Implements(iface), reflect.TypeOf(wrapped).Implements(iface), iface.String())
	}

	query := func(c driver.Conn) driver.Rows {
		rows, err := c.(driver.QueryerContext).QueryContext(ctx, `SELECT 1`, nil)
		require.NoError(t, err)
		return rows
	}
	rawRows, wrappedRows := query(raw), query(wrapped)
	defer rawRows.Close() // before their connections
	defer wrappedRows.Close()
	require.IsType(t, &cachedRows{}, wrappedRows)
	for _, iface := range []reflect.Type{
		reflect.TypeFor[driver.RowsColumnTypeDatabaseTypeName](),
		reflect.TypeFor[driver.RowsColumnTypeLength](),
		reflect.TypeFor[driver.RowsColumnTypeNullable](),
		reflect.TypeFor[driver.RowsColumnTypePrecisionScale](),
		reflect.TypeFor[driver.RowsColumnTypeScanType](),
		reflect.TypeFor[driver.RowsNextResultSet](),
	} {
		assert.Equal(t, reflect.TypeOf(rawRows).Implements(iface), reflect.TypeOf(wrappedRows).Implements(iface), iface.String())
	}

	// modernc's helpers find their connection behind the cache.
	db := sql.OpenDB(newStmtCacheConnector(base, 4))
	defer db.Close()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, -1)
	assert.NoError(t, err)
}

func TestOpenSQLiteKeepsItsSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, path := openSQLiteTest(t)
	ex := q.s.db()
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "1",
		"foreign_keys": "1",
		"busy_timeout": fmt.Sprint(sqliteBusyTimeoutMillis),
	} {
		var got string
		require.NoError(t, ex.queryRow(ctx, `PRAGMA `+pragma).Scan(&got))
		assert.Equal(t, want, got, pragma)
	}

	// The Queue's connection is cached.
	db := q.s.(*riverStore[*riversqlite.Driver, *sql.Tx]).pool.(sqlExecer).c.(*sql.DB)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	withStmtCache(t, conn, func(c *stmtCacheConn) {
		assert.NotEmpty(t, c.byQuery, "the migrations ran through the cache")
	})
	require.NoError(t, conn.Close())

	// A transaction takes the write lock as it begins (_txlock=immediate):
	// another connection cannot begin a write meanwhile.
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, q.s.inTx(ctx, func(txn) error {
		_, err := other.ExecContext(ctx, `BEGIN IMMEDIATE`)
		assert.ErrorContains(t, err, "database is locked")
		return nil
	}))
	_, err = other.ExecContext(ctx, `BEGIN IMMEDIATE; ROLLBACK`)
	assert.NoError(t, err, "free again after the commit")
}
