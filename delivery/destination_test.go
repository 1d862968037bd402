package delivery

import (
	"context"
	"testing"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDestinationOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url, want string
	}{
		{"https://api.example.com/v1/leads?x=1", "https://api.example.com:443"},
		{"http://api.example.com/", "http://api.example.com:80"},
		{"HTTPS://API.Example.COM:8443/x", "https://api.example.com:8443"},
		{"http://127.0.0.1:9000/hook", "http://127.0.0.1:9000"},
		{"https://[2001:db8::1]/x", "https://[2001:db8::1]:443"},
		{"https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"},
		{"https://api.example.com:443", "https://api.example.com:443"},
		{"ftp://example.com/file", ""},
		{"/relative", ""},
		{"not a url at all", ""},
		{"https://%zz", ""},
	} {
		t.Run(tc.url, func(t *testing.T) {
			assert.Equal(t, tc.want, destinationOf(tc.url))
		})
	}
}

func TestDestinationsListsWhatWorkersSent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		ctx := context.Background()
		ds, err := q.Destinations(ctx)
		require.NoError(t, err)
		assert.Empty(t, ds)

		rc := newReceiver(t, nil)
		action := testAction(t, rc.URL, webhook.SendingAutomatic)
		for i := range 4 {
			mustEnqueue(t, q, action, customer("p"+itoa(i)+"@example.com"), nil)
		}
		workUntilIdle(t, q, testWorker(0))

		d := destination(t, q, destinationOf(rc.URL))
		assert.Equal(t, DestinationHealthy, d.State)
		assert.Equal(t, 4, d.Attempts)
		assert.Equal(t, 1.0, d.SuccessRate)
		assert.Positive(t, d.Latency)
		assert.Zero(t, d.Failures)
		assert.Zero(t, d.Waiting)
		assert.False(t, d.UpdatedAt.IsZero())
	})
}

func TestResumeRefusesAnUnknownDestination(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		for _, dest := range []string{"https://nowhere.example.com:443", "https://nowhere.example.com/path", "nowhere", ""} {
			t.Run(dest, func(t *testing.T) {
				_, err := q.Resume(context.Background(), dest)
				require.ErrorIs(t, err, ErrUnknownDestination)
			})
		}
	})
}

func TestResumeLeavesAHealthyDestinationAlone(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	rc := newReceiver(t, nil)
	enqueueOne(t, q, rc.URL)
	workUntilIdle(t, q, testWorker(0))
	d, err := q.Resume(context.Background(), rc.URL+"/any/path")
	require.NoError(t, err)
	assert.Equal(t, destinationOf(rc.URL), d.Destination)
	assert.Equal(t, DestinationHealthy, d.State)
	assert.Equal(t, 1, d.Attempts, "resuming forgets failures, not the recent attempts")
}
