package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReleaseKeepsSendAt(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	ctx := context.Background()
	rc := newReceiver(t, nil)
	at := time.Now().Add(time.Hour)
	d, err := q.Enqueue(ctx, testAction(t, rc.URL, ""), customer("a@example.com"), &EnqueueOptions{SendAt: at})
	require.NoError(t, err)
	assert.Equal(t, StateDraft, d.State)
	r, err := q.Release(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, StateScheduled, r.State)
	assert.WithinDuration(t, at, r.NextAt, time.Millisecond)
}
