package delivery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestScheduleOpts(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		due       time.Time
		wantLater bool
	}{
		{"now: available at once", now, false},
		{"soon: available, snoozed until due", now.Add(scheduleAhead), false},
		{"later: scheduled by River", now.Add(scheduleAhead + time.Millisecond), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := scheduleOpts(tt.due, now)
			if !tt.wantLater {
				assert.Nil(t, opts)
				return
			}
			assert.Equal(t, tt.due, opts.ScheduledAt)
		})
	}
	assert.Equal(t, "liquidhook", sendArgs{}.InsertOpts().Queue)
	assert.Equal(t, "liquidhook_hook", hookArgs{}.InsertOpts().Queue)
}
