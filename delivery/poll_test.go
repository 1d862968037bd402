package delivery

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPollInterval(t *testing.T) {
	tests := []struct {
		name string
		set  time.Duration
		want time.Duration
	}{
		{"default", 0, 100 * time.Millisecond},
		{"negative", -time.Second, 100 * time.Millisecond},
		{"below the fetch cooldown", time.Millisecond, fetchCooldown},
		{"set", 250 * time.Millisecond, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, (&Worker{PollInterval: tt.set}).pollInterval())
		})
	}
}

// TestPollIntervalShortest: River refuses a poll interval below its fetch
// cooldown; the shortest PollInterval still works, retries included.
func TestPollIntervalShortest(t *testing.T) {
	q, _ := openSQLiteTest(t)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"id": "lead-1"}`)
	})
	d := enqueueOne(t, q, rc.URL)
	w := testWorker(2)
	w.PollInterval = time.Nanosecond
	workUntilIdle(t, q, w)
	got := mustGet(t, q, d.ID)
	assert.Equal(t, StateDelivered, got.State)
	require.Len(t, got.Attempts, 2)
	assert.Equal(t, http.StatusServiceUnavailable, got.Attempts[0].Status)
	assert.Equal(t, "lead-1", got.Attributes["lead_id"])
}
