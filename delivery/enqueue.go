package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/liquidhook/webhook"
	"github.com/riverqueue/river"
)

// EnqueueOptions adjusts Enqueue. The zero value (or nil) follows the
// action: sent as soon as a worker is free if its Sending is automatic,
// held as a draft otherwise.
type EnqueueOptions struct {
	// Draft holds the delivery until Release even when the action sends
	// automatically.
	Draft bool

	// SendAt delays the first attempt until then. For a draft, Release
	// sends it then, or at once if that time has passed. Defaults to now.
	SendAt time.Time

	// IdempotencyKey is sent on every attempt and re-send. Defaults to a
	// new random key (webhook.NewIdempotencyKey).
	IdempotencyKey string

	// Conversion records the action's "allow conversion from this webhook"
	// setting with the delivery.
	Conversion bool

	// Metadata is free text kept with the delivery, for List filters and
	// the hooks: a person's id, a campaign, a workflow step. Keys and
	// values must be valid UTF-8 without NUL characters.
	Metadata map[string]string
}

// ErrNilAction is returned by Enqueue without an action.
var ErrNilAction = errors.New("delivery: nil action")

// ErrInvalidMetadata is returned by Enqueue for metadata that is not valid
// UTF-8 or holds a NUL character: it would not come back as given, and
// PostgreSQL cannot filter on it.
var ErrInvalidMetadata = errors.New("delivery: invalid metadata")

// ErrInvalidKey is returned by Enqueue for an idempotency key that cannot
// be sent as a header value: longer than 255 bytes, or not printable ASCII.
// (An empty key asks for a new one.)
var ErrInvalidKey = errors.New("delivery: invalid idempotency key")

// Enqueue records a delivery of action for one person's data and, unless it
// is a draft, queues its first attempt, both in one transaction.
//
// The request is rendered once now, so that a template or body error is
// returned here (as Render returns it) and nothing is queued half-made;
// each attempt renders it again from the stored action and data, in lax
// mode when action is (see Delivery.Lax). Data is stored as JSON.
func (q *Queue) Enqueue(ctx context.Context, action *webhook.Action, data map[string]any, opts *EnqueueOptions) (*Delivery, error) {
	ds, err := q.EnqueueBatch(ctx, action, []map[string]any{data}, opts)
	if be, ok := errors.AsType[*BatchError](err); ok {
		return nil, be.Err
	}
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

// BatchError reports the element of an EnqueueBatch that could not be
// queued, and why; nothing of the batch was.
type BatchError struct {
	// Index is the element's index in the batch, from 0.
	Index int
	// Err is what Enqueue would have returned for it alone.
	Err error
}

// Error says which element failed, as "delivery: batch element 7: ...".
func (e *BatchError) Error() string {
	return fmt.Sprintf("delivery: batch element %d: %v", e.Index, e.Err)
}

// Unwrap returns Err, so that errors.Is and errors.As see through.
func (e *BatchError) Unwrap() error { return e.Err }

// EnqueueBatch records one delivery of action for each element of data,
// as Enqueue does, with the same options, and queues their first attempts,
// all in one transaction: either every delivery is queued, or, when one
// element cannot be (its data is not JSON, its render fails), none is and
// the error is a *BatchError naming it. The deliveries are returned in the
// order of data, each with a new idempotency key; opts.IdempotencyKey,
// which one delivery only may carry, must be empty when data has more
// than one element. Keep batches to a few thousand elements: the
// transaction holds them all.
func (q *Queue) EnqueueBatch(ctx context.Context, action *webhook.Action, data []map[string]any, opts *EnqueueOptions) ([]*Delivery, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if action == nil {
		return nil, ErrNilAction
	}
	if opts == nil {
		opts = &EnqueueOptions{}
	}
	if opts.IdempotencyKey != "" {
		if len(data) > 1 {
			return nil, fmt.Errorf("%w: one key cannot be sent by %d deliveries", ErrInvalidKey, len(data))
		}
		if err := checkKey(opts.IdempotencyKey); err != nil {
			return nil, err
		}
	}
	if len(data) == 0 {
		return []*Delivery{}, nil
	}
	spec := action.Spec()
	specJSON, err := encodeSpec(spec)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata(opts.Metadata); err != nil {
		return nil, err
	}
	metadata := opts.Metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	metaJSON, err := encodeJSON(metadata)
	if err != nil {
		return nil, fmt.Errorf("delivery: metadata: %w", err)
	}

	now := q.now()
	due := now
	if opts.SendAt.After(now) {
		due = opts.SendAt
	}
	state := StateScheduled
	if opts.Draft || spec.Sending != webhook.SendingAutomatic {
		state = StateDraft
	}
	var nextAt any
	if state == StateScheduled || !opts.SendAt.IsZero() {
		nextAt = toMicros(due)
	}

	// Every element is encoded and rendered before the transaction, so a
	// bad one is found before anything is written.
	ds := make([]*Delivery, len(data))
	rows := make([]newRow, len(data))
	for i, el := range data {
		dataJSON, decoded, err := encodeData(el)
		if err != nil {
			return nil, &BatchError{Index: i, Err: err}
		}
		req, err := action.Render(decoded)
		if err != nil {
			return nil, &BatchError{Index: i, Err: err}
		}
		key := opts.IdempotencyKey
		if key == "" {
			key = webhook.NewIdempotencyKey()
		}
		rows[i] = newRow{key: key, destination: destinationOf(req.URL), data: dataJSON}
		d := &Delivery{
			State:          state,
			IdempotencyKey: key,
			Destination:    rows[i].destination,
			Spec:           spec,
			Data:           decoded,
			Conversion:     opts.Conversion,
			Lax:            action.Lax(),
			Metadata:       metadata,
			Series:         1,
			Attempts:       []Attempt{},
			CreatedAt:      fromMicros(toMicros(now)),
			UpdatedAt:      fromMicros(toMicros(now)),
		}
		if nextAt != nil {
			d.NextAt = fromMicros(toMicros(due))
		}
		ds[i] = d
	}
	kr := q.keys()
	if kr.err != nil {
		return nil, kr.err
	}
	err = q.s.inTx(ctx, func(tx txn) error {
		return q.insertDeliveries(ctx, tx, kr, rows, newRowsCommon{
			state: state, specJSON: specJSON, metaJSON: metaJSON, conversion: opts.Conversion,
			lax: action.Lax(), nextAt: nextAt, due: due, now: now,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: enqueue: %w", err)
	}
	for i, d := range ds {
		d.ID = rows[i].id
	}
	return ds, nil
}

// newRow is one delivery that EnqueueBatch writes; id is set once written.
type newRow struct {
	key, destination, data string
	id                     int64
}

// newRowsCommon is what the deliveries of one EnqueueBatch share.
type newRowsCommon struct {
	state              State
	specJSON, metaJSON string
	conversion, lax    bool
	nextAt             any
	due, now           time.Time
}

// insertDeliveries writes rows and, unless they are drafts, their first
// attempts' jobs: the rows first, for the ids that their sealed values are
// bound to, then their spec and data, sealed, with their jobs. Rows are
// told apart by their idempotency keys, new and so distinct.
func (q *Queue) insertDeliveries(ctx context.Context, tx txn, kr *keyring, rows []newRow, c newRowsCommon) error {
	byKey := make(map[string]*newRow, len(rows))
	for i := range rows {
		byKey[rows[i].key] = &rows[i]
	}
	var (
		insert string
		args   []any
	)
	if q.s.dialect() == dialectPostgres {
		keys, dests := make([]string, len(rows)), make([]string, len(rows))
		for i, r := range rows {
			keys[i], dests[i] = r.key, r.destination
		}
		insert = `
INSERT INTO liquidhook_delivery
	(state, spec, data, idempotency_key, destination, conversion, lax, metadata, next_at, created_at, updated_at)
SELECT ?, '', '', k, d, ?, ?, ?, ?::bigint, ?, ? FROM unnest(?::text[], ?::text[]) AS r(k, d)
RETURNING id, idempotency_key`
		args = []any{string(c.state), c.conversion, c.lax, c.metaJSON, c.nextAt, toMicros(c.now), toMicros(c.now), keys, dests}
	} else {
		pairs := make([][2]string, len(rows))
		for i, r := range rows {
			pairs[i] = [2]string{r.key, r.destination}
		}
		b, err := json.Marshal(pairs)
		if err != nil {
			return err
		}
		insert = `
INSERT INTO liquidhook_delivery
	(state, spec, data, idempotency_key, destination, conversion, lax, metadata, next_at, created_at, updated_at)
SELECT ?, '', '', value ->> 0, value ->> 1, ?, ?, ?, ?, ?, ? FROM json_each(?)
RETURNING id, idempotency_key`
		args = []any{string(c.state), c.conversion, c.lax, c.metaJSON, c.nextAt, toMicros(c.now), toMicros(c.now), string(b)}
	}
	rs, err := tx.query(ctx, insert, args...)
	if err != nil {
		return err
	}
	for rs.Next() {
		var (
			id  int64
			key string
		)
		if err := rs.Scan(&id, &key); err != nil {
			rs.Close()
			return err
		}
		if r := byKey[key]; r != nil {
			r.id = id
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}

	var jobs map[int64]int64
	if c.state != StateDraft {
		params := make([]river.InsertManyParams, len(rows))
		for i, r := range rows {
			params[i] = river.InsertManyParams{Args: sendArgs{DeliveryID: r.id, Destination: r.destination}, InsertOpts: scheduleOpts(c.due, c.now)}
		}
		if jobs, err = tx.insertJobs(ctx, params); err != nil {
			return err
		}
	}
	n := len(rows)
	ids, specs, datas, jobIDs := make([]int64, n), make([]string, n), make([]string, n), make([]*int64, n)
	for i, r := range rows {
		if r.id == 0 {
			return errors.New("delivery: a new delivery's id was not returned")
		}
		ids[i] = r.id
		if specs[i], err = kr.sealString(place{id: r.id, field: "spec"}, c.specJSON); err != nil {
			return err
		}
		if datas[i], err = kr.sealString(place{id: r.id, field: "data"}, r.data); err != nil {
			return err
		}
		if j, ok := jobs[r.id]; ok {
			jobIDs[i] = &j
		}
	}
	if q.s.dialect() == dialectPostgres {
		_, err = tx.exec(ctx, `
UPDATE liquidhook_delivery AS d SET spec = u.spec, data = u.data, job_id = u.job
FROM unnest(?::bigint[], ?::text[], ?::text[], ?::bigint[]) AS u(id, spec, data, job)
WHERE d.id = u.id`, ids, specs, datas, jobIDs)
		return err
	}
	all := make([][4]any, n)
	for i := range rows {
		var job any
		if jobIDs[i] != nil {
			job = *jobIDs[i]
		}
		all[i] = [4]any{ids[i], specs[i], datas[i], job}
	}
	b, err := json.Marshal(all)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `
UPDATE liquidhook_delivery SET spec = u.spec, data = u.data, job_id = u.job
FROM (SELECT value ->> 0 AS id, value ->> 1 AS spec, value ->> 2 AS data, value ->> 3 AS job FROM json_each(?)) AS u
WHERE liquidhook_delivery.id = u.id`, string(b))
	return err
}

// checkMetadata refuses metadata that JSON would change (invalid UTF-8
// becomes U+FFFD) or that PostgreSQL's jsonb, which List's filter reads it
// as, refuses (a NUL): one such delivery would fail every filtered List.
func checkMetadata(m map[string]string) error {
	for k, v := range m {
		for _, s := range [2]string{k, v} {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				return fmt.Errorf("%w: %q: want valid UTF-8 without NUL", ErrInvalidMetadata, k)
			}
		}
	}
	return nil
}

// checkKey refuses a key that could not travel as a header value.
func checkKey(key string) error {
	if len(key) > 255 {
		return fmt.Errorf("%w: longer than 255 bytes", ErrInvalidKey)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: byte %d is not printable ASCII", ErrInvalidKey, i)
		}
	}
	return nil
}
