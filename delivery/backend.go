package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// The database behind a Queue is reached through these few interfaces, so
// that the operations are written once for SQLite (database/sql) and
// PostgreSQL (pgx), and River's generic client stays in this file.

// dialect says which SQL the database speaks.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// execer runs statements. Queries are written with ? placeholders; the
// PostgreSQL side rewrites them.
type execer interface {
	exec(ctx context.Context, query string, args ...any) (int64, error)
	queryRow(ctx context.Context, query string, args ...any) scanner
	query(ctx context.Context, query string, args ...any) (rows, error)
}

type scanner interface{ Scan(dest ...any) error }

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// txn is one transaction, in which the delivery log and River's jobs change
// together.
type txn interface {
	execer
	// insertJob inserts a River job and returns its id.
	insertJob(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error)
	// cancelJob cancels a job that has not finished; a job that is gone
	// (finished and cleaned) is no error.
	cancelJob(ctx context.Context, id int64) error
	// insertJobs inserts River jobs and returns the id of each send job by
	// its delivery id.
	insertJobs(ctx context.Context, params []river.InsertManyParams) (map[int64]int64, error)
}

// store is an open database.
type store interface {
	dialect() dialect
	db() execer
	inTx(ctx context.Context, fn func(tx txn) error) error
	// newWorkClient makes a River client that works the given queues.
	newWorkClient(cfg *river.Config) (workClient, error)
	// pendingJobs counts jobs of kind that are waiting or running.
	pendingJobs(ctx context.Context, kind string) (int, error)
	close()
}

// workClient is a started or startable River client.
type workClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}

// riverStore implements store for one River driver.
type riverStore[D riverdriver.Driver[TTx], TTx any] struct {
	d       dialect
	driver  D
	client  *river.Client[TTx] // insert-only: enqueue and cancel
	pool    execer
	begin   func(ctx context.Context) (TTx, execer, error)
	commit  func(ctx context.Context, tx TTx) error
	abort   func(ctx context.Context, tx TTx) error
	closeDB func()
}

func newRiverStore[D riverdriver.Driver[TTx], TTx any](s *riverStore[D, TTx]) (*riverStore[D, TTx], error) {
	c, err := river.NewClient[TTx](s.driver, &river.Config{Logger: discardLogger()})
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	s.client = c
	return s, nil
}

func (s *riverStore[D, TTx]) dialect() dialect { return s.d }
func (s *riverStore[D, TTx]) db() execer       { return s.pool }
func (s *riverStore[D, TTx]) close()           { s.closeDB() }

func (s *riverStore[D, TTx]) inTx(ctx context.Context, fn func(tx txn) error) (err error) {
	tx, ex, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = s.abort(context.WithoutCancel(ctx), tx)
		}
	}()
	if err := fn(&riverTx[D, TTx]{execer: ex, tx: tx, s: s}); err != nil {
		return err
	}
	return s.commit(ctx, tx)
}

func (s *riverStore[D, TTx]) newWorkClient(cfg *river.Config) (workClient, error) {
	return river.NewClient[TTx](s.driver, cfg)
}

func (s *riverStore[D, TTx]) pendingJobs(ctx context.Context, kind string) (int, error) {
	res, err := s.client.JobList(ctx, river.NewJobListParams().
		Kinds(kind).
		States(rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled).
		First(1))
	if err != nil {
		return 0, err
	}
	return len(res.Jobs), nil
}

type riverTx[D riverdriver.Driver[TTx], TTx any] struct {
	execer
	tx TTx
	s  *riverStore[D, TTx]
}

func (t *riverTx[D, TTx]) insertJob(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	res, err := t.s.client.InsertTx(ctx, t.tx, args, opts)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

func (t *riverTx[D, TTx]) cancelJob(ctx context.Context, id int64) error {
	_, err := t.s.client.JobCancelTx(ctx, t.tx, id)
	if errors.Is(err, rivertype.ErrNotFound) {
		return nil
	}
	return err
}

func (t *riverTx[D, TTx]) insertJobs(ctx context.Context, params []river.InsertManyParams) (map[int64]int64, error) {
	res, err := t.s.client.InsertManyTx(ctx, t.tx, params)
	if err != nil {
		return nil, err
	}
	ids := make(map[int64]int64, len(res))
	for _, r := range res {
		if r.Job.Kind != (sendArgs{}).Kind() {
			continue
		}
		var args sendArgs
		if err := json.Unmarshal(r.Job.EncodedArgs, &args); err != nil {
			return nil, err
		}
		ids[args.DeliveryID] = r.Job.ID
	}
	return ids, nil
}

// rebind turns ? placeholders into $1, $2, ... for PostgreSQL. The queries
// in this package never hold a ? inside a string literal.
func rebind(q string) string {
	n := strings.Count(q, "?")
	if n == 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + n*2)
	i := 0
	for _, r := range q {
		if r == '?' {
			i++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Times are stored as Unix microseconds, which both databases hold exactly.
func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
