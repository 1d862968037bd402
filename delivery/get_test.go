package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestList(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		action := testAction(t, "https://example.com", webhook.SendingAutomatic)
		later := time.Now().Add(time.Hour)
		var ids []int64
		for i, opts := range []*EnqueueOptions{
			{Draft: true, Metadata: map[string]string{"person": "1", "campaign": "spring"}},
			{SendAt: later, Metadata: map[string]string{"person": "2", "campaign": "spring"}},
			{SendAt: later, Metadata: map[string]string{"person": "3", "campaign": "autumn"}},
			{Draft: true, Metadata: map[string]string{"person": "4"}},
			{SendAt: later},
		} {
			d, err := q.Enqueue(ctx, action, customer("p"+itoa(i)+"@example.com"), opts)
			require.NoError(t, err)
			ids = append(ids, d.ID)
		}
		_, err := q.Cancel(ctx, ids[2])
		require.NoError(t, err)

		idsOf := func(ds []*Delivery) []int64 {
			out := []int64{}
			for _, d := range ds {
				out = append(out, d.ID)
			}
			return out
		}
		tests := []struct {
			name    string
			opts    *ListOptions
			want    []int64
			wantErr error
		}{
			{"all", nil, ids, nil},
			{"one state", &ListOptions{States: []State{StateDraft}}, []int64{ids[0], ids[3]}, nil},
			{"two states", &ListOptions{States: []State{StateCancelled, StateScheduled}}, []int64{ids[1], ids[2], ids[4]}, nil},
			{"metadata", &ListOptions{Metadata: map[string]string{"campaign": "spring"}}, []int64{ids[0], ids[1]}, nil},
			{"metadata, every pair", &ListOptions{Metadata: map[string]string{"campaign": "spring", "person": "2"}}, []int64{ids[1]}, nil},
			{"metadata and state", &ListOptions{States: []State{StateDraft}, Metadata: map[string]string{"campaign": "spring"}}, []int64{ids[0]}, nil},
			{"no match", &ListOptions{Metadata: map[string]string{"person": "9"}}, []int64{}, nil},
			{"first page", &ListOptions{Limit: 2}, ids[:2], nil},
			{"next page", &ListOptions{Limit: 2, After: ids[1]}, ids[2:4], nil},
			{"unknown state", &ListOptions{States: []State{"lost"}}, nil, ErrUnknownState},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := q.List(ctx, tt.opts)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tt.want, idsOf(got))
			})
		}
	})
}

func TestGetReturnsTheDeliveryAsEnqueued(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		action := testAction(t, "https://example.com", webhook.SendingAutomatic)
		data := map[string]any{"customer": map[string]any{"email": "a@example.com", "visits": 12, "score": 4.5, "tags": []any{"x"}}}
		d, err := q.Enqueue(ctx, action, data, &EnqueueOptions{Draft: true, Conversion: true, Metadata: map[string]string{"k": "v"}})
		require.NoError(t, err)
		got, err := q.Get(ctx, d.ID)
		require.NoError(t, err)
		assert.Equal(t, d, got)
		assert.Equal(t, action.Spec(), got.Spec)
		assert.Equal(t, 12, got.Data["customer"].(map[string]any)["visits"], "numbers come back as the CLI decodes them")
	})
}
