package delivery

import (
	"container/list"
	"context"
	"database/sql/driver"
	"fmt"
	"reflect"
)

// stmtCacheSize bounds the statements one SQLite connection keeps prepared.
// River and the delivery log run well under a hundred distinct statements;
// the rest of the room takes SQL built per call (IN lists of varying length)
// without pushing the steady ones out.
const stmtCacheSize = 128

// sqliteConn is what modernc's connections implement of the interfaces
// database/sql looks for. stmtCacheConn embeds it, so that it forwards
// exactly these: a wrapper that hid one would silently change behaviour
// (BeginTx options refused, no validation of pooled connections). The
// driver does not implement driver.NamedValueChecker, so neither does the
// wrapper: database/sql then converts arguments itself, the same with the
// cache as without. TestStmtCacheForwardsDriverInterfaces holds the two
// sets equal.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// sqliteStmt is what a statement must run with a context to be cached;
// modernc's statements do.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// stmtCacheConnector opens SQLite connections that keep their statements
// prepared. modernc's driver parses every statement afresh on each
// ExecContext and QueryContext, and River builds and runs the same SQL over
// and over (one UPDATE per completed job), so a worker spent much of its
// CPU parsing; a connection that parses each text once does not.
type stmtCacheConnector struct {
	base driver.Connector
	size int
}

// newStmtCacheConnector wraps base, whose connections must be modernc's, so
// that each keeps up to size statements prepared.
func newStmtCacheConnector(base driver.Connector, size int) *stmtCacheConnector {
	return &stmtCacheConnector{base: base, size: size}
}

// Connect opens a connection through the wrapped connector and gives it a
// cache of its own: a SQLite statement belongs to one connection.
func (c *stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("delivery: SQLite connection %T lacks a driver interface the statement cache forwards", conn)
	}
	return &stmtCacheConn{
		sqliteConn: sc,
		size:       max(c.size, 1),
		byQuery:    make(map[string]*list.Element),
	}, nil
}

// Driver returns the wrapped connector's driver, so that sql.DB.Driver
// reports the SQLite driver as it did without the cache.
func (c *stmtCacheConnector) Driver() driver.Driver { return c.base.Driver() }

// stmtCacheConn is a SQLite connection that runs ExecContext and
// QueryContext through statements it prepared before for the same text.
//
// It takes no lock: database/sql calls a driver connection, and the Rows it
// returned, from one goroutine at a time, holding the connection's own lock
// for each call, Rows.Close included.
type stmtCacheConn struct {
	sqliteConn
	size int
	// byQuery maps SQL text to its element in lru.
	byQuery map[string]*list.Element
	// lru holds the *cachedStmt of byQuery, the most recently used first,
	// so that the one evicted when the cache is full is the one least
	// likely to be needed again.
	lru list.List
}

// cachedStmt is one prepared statement of a stmtCacheConn.
type cachedStmt struct {
	query string
	stmt  sqliteStmt
	elem  *list.Element
	// inUse is set while a run of the statement is under way, that is
	// until its Rows are closed: SQLite's statement holds the position
	// of those rows, so a second run of the same text at that time (a
	// nested query, or a write while iterating) gets a statement of its
	// own instead.
	inUse bool
	// evicted is set when the cache let go of the statement while it was
	// in use; the end of that use closes it.
	evicted bool
}

// Unwrap returns the driver's own connection, through which
// modernc.org/sqlite's helpers taking a *sql.Conn (Limit and the like) find
// it.
func (c *stmtCacheConn) Unwrap() driver.Conn { return c.sqliteConn }

// ExecContext runs query through its cached statement, preparing it on the
// first run. Text that cannot be cached, or whose statement is in use, runs
// as the driver runs it, on a statement of its own.
func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	res, err := cs.stmt.ExecContext(ctx, args)
	c.release(cs, err != nil)
	return res, err
}

// QueryContext runs query as ExecContext does; the statement stays in use
// until the returned Rows are closed.
func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(cs, true)
		return nil, err
	}
	return &cachedRows{Rows: rows, conn: c, cs: cs}, nil
}

// acquire returns the cached statement for query, marked in use, preparing
// and caching it if there is none. It returns nil, and no error, when query
// is to run uncached: it is not a single statement (see singleStatement),
// or its statement is in use.
//
// A statement that fails to prepare is returned as the error: running it
// uncached would fail the same way.
func (c *stmtCacheConn) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.byQuery[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.inUse {
			return nil, nil
		}
		c.lru.MoveToFront(e)
		cs.inUse = true
		return cs, nil
	}
	text, ok := singleStatement(query)
	if !ok {
		return nil, nil
	}
	ds, err := c.sqliteConn.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(sqliteStmt)
	if !ok {
		ds.Close()
		return nil, nil
	}
	cs := &cachedStmt{query: query, stmt: st, inUse: true}
	cs.elem = c.lru.PushFront(cs)
	c.byQuery[query] = cs.elem
	for c.lru.Len() > c.size {
		c.evict(c.lru.Back().Value.(*cachedStmt))
	}
	return cs, nil
}

// release ends a use of cs. A statement whose run failed is dropped rather
// than kept. SQLite would most likely run it again fine (modernc resets it
// after a failure, and a statement from sqlite3_prepare_v2 re-prepares
// itself after a schema change), but a failure is where a statement could be
// left in a state the cache cannot see, such as SQLITE_SCHEMA once SQLite's
// own retries ran out, and failures are rare enough that preparing again
// costs nothing.
func (c *stmtCacheConn) release(cs *cachedStmt, failed bool) {
	cs.inUse = false
	switch {
	case cs.evicted:
		cs.stmt.Close()
	case failed:
		c.evict(cs)
	}
}

// evict removes cs from the cache and closes it, or, if it is in use,
// leaves that to the end of the use. Its close error is not reported: the
// statement has run, or reported its failure, already.
func (c *stmtCacheConn) evict(cs *cachedStmt) {
	c.lru.Remove(cs.elem)
	delete(c.byQuery, cs.query)
	if cs.inUse {
		cs.evicted = true
		return
	}
	cs.stmt.Close()
}

// Close closes the cached statements, then the connection: SQLite keeps a
// closed connection's memory until its last statement is finalized.
// database/sql closes a connection only once its Rows are closed, so no
// statement is in use here; one that were would be closed by the end of its
// use.
func (c *stmtCacheConn) Close() error {
	for c.lru.Len() > 0 {
		c.evict(c.lru.Front().Value.(*cachedStmt))
	}
	return c.sqliteConn.Close()
}

// cachedRows are the rows of a cached statement; closing them ends the
// statement's use. They forward the column type methods modernc's rows have,
// so that sql.Rows.ColumnTypes reports the same with the cache as without.
type cachedRows struct {
	driver.Rows
	conn   *stmtCacheConn
	cs     *cachedStmt
	closed bool
}

// Close closes the rows and gives the statement back to the cache, once
// however often it is called. modernc resets the statement here, and
// SQLite's reset reports the error of a step that failed, so a statement
// whose rows failed partway is dropped like one whose Exec failed.
func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.conn.release(r.cs, err != nil)
	return err
}

// ColumnTypeDatabaseTypeName forwards to the driver's rows; the fallbacks
// here and below are what database/sql assumes of rows that lack the method.
func (r *cachedRows) ColumnTypeDatabaseTypeName(index int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

// ColumnTypeLength forwards to the driver's rows.
func (r *cachedRows) ColumnTypeLength(index int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(index)
	}
	return 0, false
}

// ColumnTypeNullable forwards to the driver's rows.
func (r *cachedRows) ColumnTypeNullable(index int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(index)
	}
	return false, false
}

// ColumnTypePrecisionScale forwards to the driver's rows.
func (r *cachedRows) ColumnTypePrecisionScale(index int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}

// ColumnTypeScanType forwards to the driver's rows.
func (r *cachedRows) ColumnTypeScanType(index int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(index)
	}
	return reflect.TypeFor[any]()
}
