package webhooktest_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/webhooktest"
)

func TestSenderRetriesAMillisecondApart(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	srv.Respond(http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusCreated)
	res, err := send(t, srv.Sender(), srv.URL, `{}`)
	require.NoError(t, err)
	var statuses []int
	for _, a := range res.Attempts {
		statuses = append(statuses, a.Status)
	}
	assert.Equal(t, []int{503, 429, 201}, statuses)
	assert.Equal(t, time.Millisecond, res.Attempts[0].Wait)
	assert.Equal(t, time.Millisecond, res.Attempts[1].Wait)
	assert.Zero(t, res.Attempts[2].Wait)

	// Every attempt carries the same key and a valid signature.
	got := srv.Requests()
	require.Len(t, got, 3)
	for _, r := range got {
		assert.True(t, r.SignatureValid)
		assert.Equal(t, res.IdempotencyKey, r.IdempotencyKey)
	}
}

func TestSenderRetryAfterIsRecordedNotWaited(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	srv.RespondWith(webhooktest.Reply{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"120"}}})
	res, err := send(t, srv.Sender(), srv.URL, `{}`)
	require.NoError(t, err)
	require.Len(t, res.Attempts, 2)
	assert.Equal(t, 2*time.Minute, res.Attempts[0].RetryAfter)
	assert.Equal(t, 5*time.Millisecond, res.Attempts[0].Wait)
}

func TestSenderGivesUpAsCustomerIODoes(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	statuses := make([]int, 1+webhook.DefaultRetries)
	for i := range statuses {
		statuses[i] = http.StatusBadGateway
	}
	srv.Respond(statuses...)
	res, err := send(t, srv.Sender(), srv.URL, `{}`)
	var sendErr *webhook.SendError
	require.True(t, errors.As(err, &sendErr))
	assert.ErrorIs(t, err, webhook.ErrStatus)
	assert.Len(t, res.Attempts, 1+webhook.DefaultRetries)

	// A final status is not retried.
	srv.Respond(http.StatusBadRequest)
	res, err = send(t, srv.Sender(), srv.URL, `{}`)
	assert.ErrorIs(t, err, webhook.ErrStatus)
	assert.Len(t, res.Attempts, 1)
}

func TestSenderIsNewEachCall(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	s := srv.Sender()
	s.Key[0] = 'X'
	s.Timeout = time.Nanosecond
	res, err := send(t, srv.Sender(), srv.URL, `{}`)
	require.NoError(t, err, "a change to one Sender leaves the next alone")
	assert.Len(t, res.Attempts, 1)
	assert.True(t, srv.Requests()[0].SignatureValid)
}

func TestSenderStandard(t *testing.T) {
	srv := webhooktest.NewUnstartedServer(t, testKey)
	srv.Scheme = webhook.SchemeStandard
	srv.Start()
	s := srv.Sender()
	assert.Equal(t, webhook.StandardSigner{Keys: [][]byte{testKey}}, s.Signer)
	_, err := send(t, s, srv.URL, `{}`)
	require.NoError(t, err)
	r := srv.Requests()[0]
	assert.True(t, r.SignatureValid)
	assert.NotEmpty(t, r.Header.Get(webhook.HeaderWebhookSignature))
	assert.Empty(t, r.Header.Get(webhook.HeaderSignature))
}

// idleCloser is a transport that counts the calls to its
// CloseIdleConnections.
type idleCloser struct {
	*http.Transport
	closed atomic.Int32
}

func (t *idleCloser) CloseIdleConnections() {
	t.closed.Add(1)
	t.Transport.CloseIdleConnections()
}

// TestCloseClosesSendersIdleConnections: closing the server closes the
// idle connections of every Sender it handed out, once.
func TestCloseClosesSendersIdleConnections(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	var transports []*idleCloser
	for range 2 {
		tr := &idleCloser{Transport: &http.Transport{}}
		s := srv.Sender()
		s.Transport = tr
		_, err := send(t, s, srv.URL, `{}`)
		require.NoError(t, err)
		transports = append(transports, tr)
	}
	for _, tr := range transports {
		assert.Zero(t, tr.closed.Load(), "open while the server is")
	}
	srv.Close()
	srv.Close()
	for _, tr := range transports {
		assert.Equal(t, int32(1), tr.closed.Load())
	}
}
