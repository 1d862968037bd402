package delivery

import (
	"context"
	"testing"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func idsOf(ds []*Delivery) []int64 {
	out := []int64{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func TestPage(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		crm := testAction(t, "https://crm.example.com", webhook.SendingAutomatic)
		alt := testAction(t, "https://CRM.example.com:8443", webhook.SendingAutomatic)
		// The host comes from data here, as in {{ event.callback_url }}.
		fromData, err := webhook.Compile(webhook.Spec{URL: "https://{{ host }}/hook", Body: `{}`})
		require.NoError(t, err)

		var ids []int64
		for _, e := range []struct {
			action *webhook.Action
			data   map[string]any
			opts   *EnqueueOptions
		}{
			{crm, customer("a@example.com"), &EnqueueOptions{Draft: true, Metadata: map[string]string{"person": "1", "campaign": "spring"}}},
			{alt, customer("b@example.com"), &EnqueueOptions{Draft: true, Metadata: map[string]string{"person": "2", "campaign": "spring"}}},
			{fromData, map[string]any{"host": "hooks.example.org"}, &EnqueueOptions{Draft: true, IdempotencyKey: "key-3"}},
			{crm, customer("d@example.com"), &EnqueueOptions{Draft: true, Metadata: map[string]string{"person": "4"}}},
			{fromData, map[string]any{"host": "crm.example.com"}, &EnqueueOptions{Draft: true}},
		} {
			ids = append(ids, mustEnqueue(t, q, e.action, e.data, e.opts).ID)
		}
		_, err = q.Cancel(ctx, ids[3])
		require.NoError(t, err)
		newest := []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}

		tests := []struct {
			name       string
			opts       *PageOptions
			want       []int64
			wantBefore int64
			wantErr    error
		}{
			{"all, newest first", nil, newest, 0, nil},
			{"first page", &PageOptions{Limit: 2}, newest[:2], newest[1], nil},
			{"second page", &PageOptions{Limit: 2, Before: newest[1]}, newest[2:4], newest[3], nil},
			{"last page", &PageOptions{Limit: 2, Before: newest[3]}, newest[4:], 0, nil},
			{"page that ends the log exactly", &PageOptions{Limit: 1, Before: newest[3]}, newest[4:], 0, nil},
			{"state", &PageOptions{States: []State{StateCancelled}}, []int64{ids[3]}, 0, nil},
			{"metadata", &PageOptions{Metadata: map[string]string{"campaign": "spring"}}, []int64{ids[1], ids[0]}, 0, nil},
			{"idempotency key", &PageOptions{IdempotencyKey: "key-3"}, []int64{ids[2]}, 0, nil},
			{"host, any port, any case", &PageOptions{Host: "crm.EXAMPLE.com"}, []int64{ids[4], ids[3], ids[1], ids[0]}, 0, nil},
			{"host and port", &PageOptions{Host: "crm.example.com:8443"}, []int64{ids[1]}, 0, nil},
			{"host and the scheme's port", &PageOptions{Host: "crm.example.com:443"}, []int64{ids[4], ids[3], ids[0]}, 0, nil},
			{"host from data", &PageOptions{Host: "hooks.example.org"}, []int64{ids[2]}, 0, nil},
			{"a domain keeps its subdomains", &PageOptions{Host: "example.org"}, []int64{ids[2]}, 0, nil},
			{"but not a name that only ends alike", &PageOptions{Host: "ks.example.org"}, []int64{}, 0, nil},
			{"host given as a URL", &PageOptions{Host: "https://hooks.example.org/anything"}, []int64{ids[2]}, 0, nil},
			{"host, paged", &PageOptions{Host: "crm.example.com", Limit: 2}, []int64{ids[4], ids[3]}, ids[3], nil},
			{"host and state", &PageOptions{Host: "crm.example.com", States: []State{StateDraft}}, []int64{ids[4], ids[1], ids[0]}, 0, nil},
			{"no match", &PageOptions{Host: "nowhere.example.com"}, []int64{}, 0, nil},
			{"unknown state", &PageOptions{States: []State{"lost"}}, nil, 0, ErrUnknownState},
			{"bad host", &PageOptions{Host: "a/b"}, nil, 0, ErrInvalidHost},
			{"bad URL", &PageOptions{Host: "https://"}, nil, 0, ErrInvalidHost},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := q.Page(ctx, tt.opts)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tt.want, idsOf(got.Deliveries))
				assert.Equal(t, tt.wantBefore, got.Before, "the cursor")
			})
		}
	})
}

func TestPageLoadsAttempts(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		rc := newReceiver(t, nil)
		d := enqueueOne(t, q, rc.URL)
		workUntilIdle(t, q, testWorker(0))
		page, err := q.Page(context.Background(), nil)
		require.NoError(t, err)
		require.Len(t, page.Deliveries, 1)
		assert.Equal(t, mustGet(t, q, d.ID), page.Deliveries[0], "a page's delivery is as Get returns it")
		require.Len(t, page.Deliveries[0].Attempts, 1)
	})
}

// A host filter looks at a bounded number of deliveries per page, and
// hands back a cursor to go on from.
func TestPageHostFilterIsBounded(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	ctx := context.Background()
	far := mustEnqueue(t, q, testAction(t, "https://far.example.com", webhook.SendingDraft), customer("a@example.com"), nil)
	near := testAction(t, "https://near.example.com", webhook.SendingDraft)
	var oldestNear int64
	for i := range pageMaxScan {
		d := mustEnqueue(t, q, near, customer("a@example.com"), nil)
		if i == 0 {
			oldestNear = d.ID
		}
	}

	page, err := q.Page(ctx, &PageOptions{Host: "far.example.com"})
	require.NoError(t, err)
	assert.Empty(t, page.Deliveries)
	assert.Equal(t, oldestNear, page.Before, "the cursor goes on from the last delivery looked at")

	page, err = q.Page(ctx, &PageOptions{Host: "far.example.com", Before: page.Before})
	require.NoError(t, err)
	assert.Equal(t, []int64{far.ID}, idsOf(page.Deliveries))
	assert.Zero(t, page.Before)
}

func TestCounts(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		got, err := q.Counts(ctx)
		require.NoError(t, err)
		assert.Empty(t, got)

		action := testAction(t, "https://example.com", webhook.SendingDraft)
		for range 3 {
			mustEnqueue(t, q, action, customer("a@example.com"), nil)
		}
		d := mustEnqueue(t, q, action, customer("a@example.com"), nil)
		_, err = q.Cancel(ctx, d.ID)
		require.NoError(t, err)
		got, err = q.Counts(ctx)
		require.NoError(t, err)
		assert.Equal(t, map[State]int{StateDraft: 3, StateCancelled: 1}, got)
	})
}

func TestPageOfClosedQueue(t *testing.T) {
	q, _ := openSQLiteTest(t)
	require.NoError(t, q.Close())
	_, err := q.Page(context.Background(), nil)
	require.ErrorIs(t, err, ErrClosed)
	_, err = q.Counts(context.Background())
	require.ErrorIs(t, err, ErrClosed)
}
