package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// postgresDefaultMaxConns is the pool size when the URL does not set
// pool_max_conns: enough for a worker's concurrent attempts to record
// their outcomes without queueing, small enough for several processes to
// share a server's default of 100 connections.
const postgresDefaultMaxConns = 16

// OpenPostgres connects to the PostgreSQL database at url (postgres:// or
// postgresql://, in the form pgx accepts), brings its schema up to date
// (River's tables and the delivery log) and returns a Queue on it: the same
// API as OpenSQLite, for many worker processes and machines sharing the
// work.
//
// The tables go in the first schema of the connection's search_path; add
// search_path=NAME to the URL to keep them apart. The pool holds
// 16 connections unless the URL sets pool_max_conns. Errors never repeat
// the URL, which may hold a password.
func OpenPostgres(ctx context.Context, url string) (*Queue, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can quote the URL; say only what is wrong.
		return nil, fmt.Errorf("%w: invalid PostgreSQL URL", ErrInvalidDatabase)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = postgresDefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("delivery: connect to PostgreSQL: %w", redactPGError(err, cfg))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("delivery: connect to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, redactPGError(err, cfg))
	}

	s, err := newRiverStore(&riverStore[*riverpgxv5.Driver, pgx.Tx]{
		d:      dialectPostgres,
		driver: riverpgxv5.New(pool),
		pool:   pgxExecer{pool},
		begin: func(ctx context.Context) (pgx.Tx, execer, error) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return nil, nil, err
			}
			return tx, pgxExecer{tx}, nil
		},
		commit:  func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) },
		abort:   func(ctx context.Context, tx pgx.Tx) error { return tx.Rollback(ctx) },
		closeDB: pool.Close,
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	if err := migratePostgres(ctx, s, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("delivery: migrate PostgreSQL: %w", err)
	}
	return newQueue(s), nil
}

// redactPGError keeps the password out of a connection error.
func redactPGError(err error, cfg *pgxpool.Config) error {
	if pw := cfg.ConnConfig.Password; pw != "" && strings.Contains(err.Error(), pw) {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "REDACTED"))
	}
	return err
}

// pgxConn is what *pgxpool.Pool and pgx.Tx share.
type pgxConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

type pgxExecer struct{ c pgxConn }

func (e pgxExecer) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := e.c.Exec(ctx, rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (e pgxExecer) queryRow(ctx context.Context, q string, args ...any) scanner {
	return e.c.QueryRow(ctx, rebind(q), args...)
}

func (e pgxExecer) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := e.c.Query(ctx, rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return pgxRows{r}, nil
}

type pgxRows struct{ pgx.Rows }

func (r pgxRows) Close() { r.Rows.Close() }
