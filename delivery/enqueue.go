package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/liquidhook/webhook"
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
	if err := q.check(); err != nil {
		return nil, err
	}
	if action == nil {
		return nil, ErrNilAction
	}
	if opts == nil {
		opts = &EnqueueOptions{}
	}
	key := opts.IdempotencyKey
	if key == "" {
		key = webhook.NewIdempotencyKey()
	} else if err := checkKey(key); err != nil {
		return nil, err
	}
	spec := action.Spec()
	specJSON, err := encodeSpec(spec)
	if err != nil {
		return nil, err
	}
	dataJSON, decoded, err := encodeData(data)
	if err != nil {
		return nil, err
	}
	if _, err := action.Render(decoded); err != nil {
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

	d := &Delivery{
		State:          state,
		IdempotencyKey: key,
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
	kr := q.keys()
	if kr.err != nil {
		return nil, kr.err
	}
	err = q.s.inTx(ctx, func(tx txn) error {
		// The row first, for the id that its sealed values are bound to;
		// they are written, with the first attempt's job, in the same
		// transaction.
		err := tx.queryRow(ctx, `
INSERT INTO liquidhook_delivery
	(state, spec, data, idempotency_key, conversion, lax, metadata, next_at, created_at, updated_at)
VALUES (?, '', '', ?, ?, ?, ?, ?, ?, ?)
RETURNING id`,
			string(state), key, opts.Conversion, d.Lax, metaJSON, nextAt, toMicros(now), toMicros(now),
		).Scan(&d.ID)
		if err != nil {
			return err
		}
		spec, err := kr.sealString(place{id: d.ID, field: "spec"}, specJSON)
		if err != nil {
			return err
		}
		data, err := kr.sealString(place{id: d.ID, field: "data"}, dataJSON)
		if err != nil {
			return err
		}
		var jobID any
		if state != StateDraft {
			if jobID, err = insertSendJob(ctx, tx, d.ID, due, now); err != nil {
				return err
			}
		}
		_, err = tx.exec(ctx, `UPDATE liquidhook_delivery SET spec = ?, data = ?, job_id = ? WHERE id = ?`, spec, data, jobID, d.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: enqueue: %w", err)
	}
	return d, nil
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
