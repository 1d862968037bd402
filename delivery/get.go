package delivery

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liquidhook/webhook"
)

const deliveryColumns = `id, state, spec, data, idempotency_key, conversion, lax, metadata, attributes,
	series, coalesce(next_at, 0), last_error, created_at, updated_at, destination, coalesce(job_id, 0)`

// scanDelivery reads one row of deliveryColumns, opening its sealed
// values with kr.
func scanDelivery(kr *keyring, s scanner) (*Delivery, error) {
	var (
		d                          Delivery
		state, spec, data, meta    string
		attrs                      sql.NullString
		nextAt, createdAt, updated int64
		jobID                      int64
	)
	err := s.Scan(&d.ID, &state, &spec, &data, &d.IdempotencyKey, &d.Conversion, &d.Lax, &meta, &attrs,
		&d.Series, &nextAt, &d.LastError, &createdAt, &updated, &d.Destination, &jobID)
	if err != nil {
		return nil, err
	}
	d.State = State(state)
	if d.State == StateScheduled && jobID == 0 {
		// Held for its destination: loadWaiting says why.
		d.Waiting = &Waiting{Reason: WaitPaused}
	}
	open := func(field, stored string) (string, error) {
		return kr.openString(place{id: d.ID, field: field}, stored)
	}
	if spec, err = open("spec", spec); err != nil {
		return nil, err
	}
	if d.Spec, err = decodeSpec(spec); err != nil {
		return nil, err
	}
	if data, err = open("data", data); err != nil {
		return nil, err
	}
	if d.Data, err = decodeData([]byte(data)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(meta), &d.Metadata); err != nil {
		return nil, fmt.Errorf("delivery: stored metadata: %w", err)
	}
	if attrs.Valid {
		a, err := open("attributes", attrs.String)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(a), &d.Attributes); err != nil {
			return nil, fmt.Errorf("delivery: stored attributes: %w", err)
		}
	}
	if d.LastError, err = open("last_error", d.LastError); err != nil {
		return nil, err
	}
	d.NextAt = fromMicros(nextAt)
	d.CreatedAt = fromMicros(createdAt)
	d.UpdatedAt = fromMicros(updated)
	d.Attempts = []Attempt{}
	return &d, nil
}

// Get returns the delivery with its attempts, oldest first, across
// re-sends. An unknown id returns an error matching ErrNotFound.
func (q *Queue) Get(ctx context.Context, id int64) (*Delivery, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	d, err := scanDelivery(q.keys(), q.s.db().queryRow(ctx,
		`SELECT `+deliveryColumns+` FROM liquidhook_delivery WHERE id = ?`, id))
	if isNoRows(err) {
		return nil, notFound(id)
	}
	var se *SealError
	if errors.As(err, &se) || errors.Is(err, ErrSealKey) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("delivery: get %d: %w", id, err)
	}
	if err := q.complete(ctx, []*Delivery{d}); err != nil {
		return nil, err
	}
	return d, nil
}

// ListOptions filters and pages List. The zero value lists the first 100
// deliveries.
type ListOptions struct {
	// States keeps deliveries in any of these states. Empty keeps all.
	States []State

	// Metadata keeps deliveries whose metadata holds every one of these
	// keys with exactly this value.
	Metadata map[string]string

	// After keeps deliveries whose ID is greater, for paging: pass the last
	// ID of the previous page.
	After int64

	// Limit caps how many are returned. Defaults to 100; at most 1,000.
	Limit int
}

// Maximum and default page sizes of List.
const (
	listDefaultLimit = 100
	listMaxLimit     = 1000
)

// List returns deliveries in ID order (oldest first), each with its
// attempts.
func (q *Queue) List(ctx context.Context, opts *ListOptions) ([]*Delivery, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &ListOptions{}
	}
	where, args, err := q.filterWhere(opts.States, opts.Metadata)
	if err != nil {
		return nil, err
	}
	where = append(where, "id > ?")
	args = append(args, opts.After)
	limit := opts.Limit
	if limit <= 0 {
		limit = listDefaultLimit
	}
	limit = min(limit, listMaxLimit)
	args = append(args, limit)

	rs, err := q.s.db().query(ctx, `SELECT `+deliveryColumns+` FROM liquidhook_delivery
WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("delivery: list: %w", err)
	}
	out, err := scanDeliveries(q.keys(), rs)
	if err != nil {
		if errors.As(err, new(*SealError)) || errors.Is(err, ErrSealKey) {
			return nil, err
		}
		return nil, fmt.Errorf("delivery: list: %w", err)
	}
	if err := q.complete(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// scanDeliveries reads every row of deliveryColumns that rs holds, opening
// sealed values with kr, and closes it.
func scanDeliveries(kr *keyring, rs rows) ([]*Delivery, error) {
	defer rs.Close()
	var out []*Delivery
	for rs.Next() {
		d, err := scanDelivery(kr, rs)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rs.Err()
}

// filterWhere returns the conditions, and their arguments, that keep
// deliveries in one of states (any state when empty) whose metadata holds
// every pair of metadata: the filters that List and Page share.
func (q *Queue) filterWhere(states []State, metadata map[string]string) (where []string, args []any, err error) {
	if len(states) > 0 {
		marks := make([]string, len(states))
		for i, s := range states {
			if _, err := ParseState(string(s)); err != nil {
				return nil, nil, err
			}
			marks[i] = "?"
			args = append(args, string(s))
		}
		where = append(where, "state IN ("+strings.Join(marks, ", ")+")")
	}
	if len(metadata) > 0 {
		filter, err := encodeJSON(metadata)
		if err != nil {
			return nil, nil, err
		}
		if q.s.dialect() == dialectPostgres {
			where = append(where, "metadata::jsonb @> ?::jsonb")
		} else {
			// Every pair of the filter appears in the row's metadata.
			where = append(where, `NOT EXISTS (
	SELECT 1 FROM json_each(?) AS f
	WHERE NOT EXISTS (
		SELECT 1 FROM json_each(liquidhook_delivery.metadata) AS m
		WHERE m.key = f.key AND m.value = f.value))`)
		}
		args = append(args, filter)
	}
	return where, args, nil
}

// complete fills what scanDelivery leaves out: each delivery's attempts,
// and why it waits, if it does.
func (q *Queue) complete(ctx context.Context, ds []*Delivery) error {
	if err := q.loadAttempts(ctx, ds); err != nil {
		return err
	}
	return q.loadWaiting(ctx, ds)
}

// loadWaiting says why each held delivery waits, from its destination's
// circuit.
func (q *Queue) loadWaiting(ctx context.Context, ds []*Delivery) error {
	var names []string
	seen := map[string]bool{}
	for _, d := range ds {
		if d.Waiting != nil && !seen[d.Destination] {
			seen[d.Destination] = true
			names = append(names, d.Destination)
		}
	}
	if len(names) == 0 {
		return nil
	}
	rows, err := loadDestinations(ctx, q.s.dialect(), q.s.db(), names, false)
	if err != nil {
		return fmt.Errorf("delivery: destinations: %w", err)
	}
	byName := make(map[string]*destRow, len(rows))
	for _, row := range rows {
		byName[row.Name] = row
	}
	for _, d := range ds {
		if d.Waiting == nil {
			continue
		}
		row := byName[d.Destination]
		switch {
		case row == nil || row.Circuit == circuitClosed:
			d.Waiting = &Waiting{Reason: WaitResuming}
		case row.Circuit == circuitDisabled:
			d.Waiting = &Waiting{Reason: WaitDisabled}
		default:
			d.Waiting = &Waiting{Reason: WaitPaused, Until: fromMicros(row.PausedUntil)}
		}
	}
	return nil
}

// loadAttempts fills each delivery's Attempts, oldest first.
func (q *Queue) loadAttempts(ctx context.Context, ds []*Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	byID := make(map[int64]*Delivery, len(ds))
	marks := make([]string, 0, len(ds))
	args := make([]any, 0, len(ds))
	for _, d := range ds {
		byID[d.ID] = d
		marks = append(marks, "?")
		args = append(args, d.ID)
	}
	kr := q.keys()
	rs, err := q.s.db().query(ctx, `
SELECT delivery_id, series, number, started_at, duration, status, class, retry_after, wait, error, response
FROM liquidhook_attempt WHERE delivery_id IN (`+strings.Join(marks, ", ")+`) ORDER BY id`, args...)
	if err != nil {
		return fmt.Errorf("delivery: attempts: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			a        Attempt
			id       int64
			start    int64
			class    string
			duration int64
			after    int64
			wait     int64
		)
		if err := rs.Scan(&id, &a.Series, &a.Number, &start, &duration, &a.Status, &class,
			&after, &wait, &a.Error, &a.Response); err != nil {
			return fmt.Errorf("delivery: attempts: %w", err)
		}
		a.Start = fromMicros(start)
		a.Duration, a.RetryAfter, a.Wait = time.Duration(duration), time.Duration(after), time.Duration(wait)
		a.Class = webhook.ErrorClass(class)
		if a.Error, err = kr.openString(place{id: id, field: "error", series: a.Series, number: a.Number}, a.Error); err != nil {
			return err
		}
		if a.Response, err = kr.open(place{id: id, field: "response", series: a.Series, number: a.Number}, a.Response); err != nil {
			return err
		}
		if d := byID[id]; d != nil {
			d.Attempts = append(d.Attempts, a)
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("delivery: attempts: %w", err)
	}
	return nil
}

func isNoRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows)
}
