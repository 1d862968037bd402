package delivery

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnqueueAutomaticIsDelivered(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, nil)
		d, err := q.Enqueue(ctx, testAction(t, rc.URL, webhook.SendingAutomatic), customer("ada@example.com"),
			&EnqueueOptions{Conversion: true, Metadata: map[string]string{"person": "42"}})
		require.NoError(t, err)
		assert.Equal(t, StateScheduled, d.State)
		assert.NotEmpty(t, d.IdempotencyKey)

		workUntilIdle(t, q, testWorker(0))

		got := mustGet(t, q, d.ID)
		assert.Equal(t, StateDelivered, got.State)
		assert.Equal(t, d.IdempotencyKey, got.IdempotencyKey)
		assert.True(t, got.Conversion)
		assert.Equal(t, map[string]string{"person": "42"}, got.Metadata)
		require.Len(t, got.Attempts, 1)
		assert.Equal(t, 200, got.Attempts[0].Status)
		assert.Equal(t, webhook.ErrorClass(""), got.Attempts[0].Class)
		assert.Equal(t, 1, got.Attempts[0].Series)
		assert.Equal(t, 1, got.Attempts[0].Number)
		assert.Equal(t, `{"id": "lead-1"}`, string(got.Attempts[0].Response))

		seen := rc.seen()
		require.Len(t, seen, 1)
		assert.Equal(t, d.IdempotencyKey, seen[0].Key)
		assert.JSONEq(t, `{"email": "ada@example.com"}`, seen[0].Body)
	})
}

func TestEnqueueDraftIsNeverSentBeforeRelease(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		rc := newReceiver(t, nil)
		// A draft by the action's default, and one held by the option.
		byAction := mustEnqueue(t, q, testAction(t, rc.URL, ""), customer("a@example.com"), nil)
		byOption := mustEnqueue(t, q, testAction(t, rc.URL, webhook.SendingAutomatic), customer("b@example.com"), &EnqueueOptions{Draft: true})
		for _, d := range []*Delivery{byAction, byOption} {
			assert.Equal(t, StateDraft, d.State)
		}

		workUntilIdle(t, q, testWorker(0))
		assert.Empty(t, rc.seen(), "a draft was sent before release")
		for _, d := range []*Delivery{byAction, byOption} {
			got := mustGet(t, q, d.ID)
			assert.Equal(t, StateDraft, got.State)
			assert.Empty(t, got.Attempts)
		}

		released, err := q.Release(ctx, byOption.ID)
		require.NoError(t, err)
		assert.Equal(t, StateScheduled, released.State)
		workUntilIdle(t, q, testWorker(0))

		seen := rc.seen()
		require.Len(t, seen, 1, "only the released draft is sent")
		assert.Equal(t, byOption.IdempotencyKey, seen[0].Key)
		got := mustGet(t, q, byOption.ID)
		assert.Equal(t, StateDelivered, got.State)
		still := mustGet(t, q, byAction.ID)
		assert.Equal(t, StateDraft, still.State)
	})
}

func TestEnqueueSendAtWaits(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		rc := newReceiver(t, nil)
		at := time.Now().Add(700 * time.Millisecond)
		d := mustEnqueue(t, q, testAction(t, rc.URL, webhook.SendingAutomatic), customer("a@example.com"), &EnqueueOptions{SendAt: at})
		assert.WithinDuration(t, at, d.NextAt, time.Millisecond)

		workUntilIdle(t, q, testWorker(0))
		seen := rc.seen()
		require.Len(t, seen, 1)
		assert.False(t, seen[0].At.Before(at), "sent at %v, before %v", seen[0].At, at)
	})
}

func TestEnqueueRefusesBadInput(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	ctx := context.Background()
	badBody, err := webhook.Compile(webhook.Spec{URL: "https://example.com", Body: `{"email": {{ customer.email }}`})
	require.NoError(t, err)
	good, err := webhook.Compile(webhook.Spec{URL: "https://example.com", Body: `{}`})
	require.NoError(t, err)

	tests := []struct {
		name    string
		action  *webhook.Action
		data    map[string]any
		opts    *EnqueueOptions
		wantErr error
	}{
		{"nil action", nil, nil, nil, ErrNilAction},
		{"body that is not JSON", badBody, customer("x"), nil, webhook.ErrInvalidBody},
		{"key with a newline", good, nil, &EnqueueOptions{IdempotencyKey: "a\nb"}, ErrInvalidKey},
		{"key too long", good, nil, &EnqueueOptions{IdempotencyKey: string(make([]byte, 300))}, ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := q.Enqueue(ctx, tt.action, tt.data, tt.opts)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
	t.Run("data that is not JSON", func(t *testing.T) {
		_, err := q.Enqueue(ctx, good, map[string]any{"f": func() {}}, nil)
		require.ErrorContains(t, err, "data is not JSON")
	})
	all, err := q.List(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, all, "a refused enqueue left a delivery behind")
}

func TestEnqueueKeepsTheGivenKey(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	rc := newReceiver(t, nil)
	d, err := q.Enqueue(context.Background(), testAction(t, rc.URL, webhook.SendingAutomatic), customer("a@example.com"),
		&EnqueueOptions{IdempotencyKey: "order-1234"})
	require.NoError(t, err)
	workUntilIdle(t, q, testWorker(0))
	seen := rc.seen()
	require.Len(t, seen, 1)
	assert.Equal(t, "order-1234", seen[0].Key)
	assert.Equal(t, "order-1234", d.IdempotencyKey)
}

// TestEnqueueKeepsMetadataFilterable: metadata that PostgreSQL could not
// read as JSON (a NUL), or that would not come back as given (invalid
// UTF-8), is refused on both databases, so that no delivery can break the
// metadata filters of List.
func TestEnqueueKeepsMetadataFilterable(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		action := testAction(t, "http://127.0.0.1:1", webhook.SendingDraft)
		for _, meta := range []map[string]string{
			{"person": "a\x00b"},
			{"a\x00b": "7"},
			{"person": "\xff"},
		} {
			_, err := q.Enqueue(ctx, action, customer("a@example.com"), &EnqueueOptions{Metadata: meta})
			require.ErrorIs(t, err, ErrInvalidMetadata, "%q", meta)
		}
		d := mustEnqueue(t, q, action, customer("a@example.com"),
			&EnqueueOptions{Metadata: map[string]string{"person": "ü 😀 \u2028 <&>"}})
		got, err := q.List(ctx, &ListOptions{Metadata: map[string]string{"person": "ü 😀 \u2028 <&>"}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, d.ID, got[0].ID)
		assert.Equal(t, d.Metadata, got[0].Metadata)
	})
}

func TestEnqueueBatchQueuesEveryElement(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		q.Keys = [][]byte{keyA} // each delivery's values sealed under its own id
		rc := newReceiver(t, nil)
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		data := []map[string]any{customer("a@example.com"), customer("b@example.com"), customer("c@example.com")}
		ds, err := q.EnqueueBatch(ctx, action, data, &EnqueueOptions{Metadata: map[string]string{"campaign": "spring"}})
		require.NoError(t, err)
		require.Len(t, ds, 3)
		keys := map[string]bool{}
		for i, d := range ds {
			assert.NotZero(t, d.ID)
			assert.Equal(t, StateScheduled, d.State)
			assert.Equal(t, destinationOf(rc.URL), d.Destination)
			keys[d.IdempotencyKey] = true
			got := mustGet(t, q, d.ID)
			assert.Equal(t, data[i], got.Data, "each delivery has its own element's data")
			assert.Equal(t, d.IdempotencyKey, got.IdempotencyKey)
			assert.Equal(t, map[string]string{"campaign": "spring"}, got.Metadata)
		}
		assert.Len(t, keys, 3, "a key per delivery")

		workUntilIdle(t, q, testWorker(0))
		bodies := map[string]string{}
		for _, r := range rc.seen() {
			bodies[r.Key] = r.Body
		}
		for i, d := range ds {
			assert.Equal(t, StateDelivered, mustGet(t, q, d.ID).State)
			assert.JSONEq(t, `{"email": "`+data[i]["customer"].(map[string]any)["email"].(string)+`"}`, bodies[d.IdempotencyKey])
		}
	})
}

func TestEnqueueBatchQueuesNothingOfABadBatch(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		action := testAction(t, "https://example.com", webhook.SendingAutomatic)
		tests := []struct {
			name      string
			data      []map[string]any
			opts      *EnqueueOptions
			wantIndex int
			wantErr   error
		}{
			{"a missing variable", []map[string]any{customer("a@example.com"), {"someone": "else"}, customer("c@example.com")},
				nil, 1, nil},
			{"data that is not JSON", []map[string]any{customer("a@example.com"), customer("b@example.com"), {"f": func() {}}},
				nil, 2, nil},
			{"one key for several", []map[string]any{customer("a@example.com"), customer("b@example.com")},
				&EnqueueOptions{IdempotencyKey: "k"}, -1, ErrInvalidKey},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ds, err := q.EnqueueBatch(ctx, action, tt.data, tt.opts)
				require.Error(t, err)
				assert.Nil(t, ds)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
				}
				var be *BatchError
				if tt.wantIndex < 0 {
					assert.False(t, errors.As(err, &be))
					return
				}
				require.ErrorAs(t, err, &be)
				assert.Equal(t, tt.wantIndex, be.Index)
				assert.Contains(t, err.Error(), "batch element "+itoa(tt.wantIndex))
			})
		}
		t.Run("the error of a render is kept", func(t *testing.T) {
			_, err := q.EnqueueBatch(ctx, action, []map[string]any{{"someone": "else"}}, nil)
			var te *webhook.TemplateError
			require.ErrorAs(t, err, &te)
		})
		all, err := q.List(ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, all, "a refused batch left a delivery behind")

		ds, err := q.EnqueueBatch(ctx, action, nil, nil)
		require.NoError(t, err)
		assert.Empty(t, ds)
	})
}
