package delivery

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseState(t *testing.T) {
	t.Parallel()
	for _, s := range []State{StateDraft, StateScheduled, StateSending, StateDelivered, StateFailed, StateCancelled} {
		got, err := ParseState(string(s))
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	_, err := ParseState("Delivered")
	require.ErrorIs(t, err, ErrUnknownState)
	assert.True(t, StateCancelled.Final())
	assert.False(t, StateSending.Final())
}

func TestStateError(t *testing.T) {
	t.Parallel()
	var err error = &StateError{ID: 7, Op: "cancel", State: StateDelivered}
	assert.Equal(t, "delivery: cannot cancel delivery 7: it is delivered", err.Error())
	assert.ErrorIs(t, err, ErrWrongState)
	assert.NotErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, notFound(7), ErrNotFound)
	assert.Contains(t, notFound(7).Error(), "delivery 7")
}
