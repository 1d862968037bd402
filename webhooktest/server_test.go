package webhooktest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/internal/tbtest"
	"github.com/liquidhook/webhook/webhooktest"
)

var testKey = []byte("test-signing-key")

// send sends body to url+path with sender, failing the test if the request
// cannot be built.
func send(t *testing.T, sender *webhook.Sender, url string, body string) (*webhook.Result, error) {
	t.Helper()
	req, err := webhook.NewRequest(http.MethodPost, url).Body("application/json", []byte(body)).Build()
	require.NoError(t, err)
	return sender.Send(context.Background(), req, nil)
}

// post sends a request with the given headers and no signature of its own.
func post(t *testing.T, url string, h http.Header, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestServerRecordsSignedRequests(t *testing.T) {
	tests := []struct {
		name      string
		scheme    webhook.Scheme
		keyHeader string
	}{
		{"cio", webhook.SchemeCIO, webhook.HeaderIdempotencyKey},
		{"standard", webhook.SchemeStandard, webhook.HeaderWebhookID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := webhooktest.NewUnstartedServer(t, testKey)
			srv.Scheme = tt.scheme
			srv.Start()

			res, err := send(t, srv.Sender(), srv.URL+"/hooks/lead?src=signup", `{"email":"ada@example.com"}`)
			require.NoError(t, err)

			got := srv.Requests()
			require.Len(t, got, 1)
			r := got[0]
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, "/hooks/lead", r.Path)
			assert.Equal(t, "src=signup", r.RawQuery)
			assert.Equal(t, `{"email":"ada@example.com"}`, string(r.Body))
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			assert.True(t, r.SignatureValid)
			assert.NoError(t, r.SignatureErr)
			assert.Equal(t, res.IdempotencyKey, r.IdempotencyKey)
			assert.Equal(t, res.IdempotencyKey, r.Header.Get(tt.keyHeader))
			assert.Equal(t, "POST /hooks/lead?src=signup (signature valid)", r.String())
		})
	}
}

func TestServerRefusesBadSignatures(t *testing.T) {
	body := []byte(`{"n":1}`)
	signed := func(signer webhook.Signer, at time.Time) http.Header {
		return webhooktest.NewRequestAt(http.MethodPost, "/", body, signer, at).Header
	}
	stdKey := []byte("0123456789abcdef01234567")
	unsigned := http.Header{}
	unsigned.Set(webhook.HeaderIdempotencyKey, "k-1")
	tests := []struct {
		name       string
		scheme     webhook.Scheme
		header     http.Header
		body       []byte
		wantStatus int
		wantErr    error
	}{
		{"other key", webhook.SchemeCIO, signed(webhook.CIOSigner{Key: []byte("other")}, time.Now()), body, 401, webhook.ErrInvalidSignature},
		{"unsigned", webhook.SchemeCIO, unsigned, body, 401, webhook.ErrMissingHeader},
		{"stale", webhook.SchemeCIO, signed(webhook.CIOSigner{Key: testKey}, time.Now().Add(-time.Hour)), body, 401, webhook.ErrTimestampTooOld},
		{"cio signature on a standard server", webhook.SchemeStandard, signed(webhook.CIOSigner{Key: stdKey}, time.Now()), body, 401, webhook.ErrMissingHeader},
		{"standard, other key", webhook.SchemeStandard, signed(webhook.StandardSigner{Keys: [][]byte{stdKey}}, time.Now()), body, 401, webhook.ErrInvalidSignature},
		{"too large", webhook.SchemeCIO, signed(webhook.CIOSigner{Key: testKey}, time.Now()), make([]byte, webhook.DefaultMaxBodyBytes+1), 413, webhook.ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := webhooktest.NewUnstartedServer(t, testKey)
			srv.Scheme = tt.scheme
			srv.Start()
			srv.Respond(http.StatusCreated)

			resp := post(t, srv.URL+"/hooks", tt.header, tt.body)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)

			got := srv.Requests()
			require.Len(t, got, 1)
			assert.False(t, got[0].SignatureValid)
			assert.ErrorIs(t, got[0].SignatureErr, tt.wantErr)
			assert.Equal(t, "POST /hooks ("+got[0].SignatureErr.Error()+")", got[0].String())
			wantKey := tt.header.Get(webhook.HeaderIdempotencyKey)
			if tt.scheme == webhook.SchemeStandard {
				wantKey = tt.header.Get(webhook.HeaderWebhookID)
			}
			assert.Equal(t, wantKey, got[0].IdempotencyKey)
			if tt.wantStatus == 413 {
				assert.Nil(t, got[0].Body)
			} else {
				assert.Equal(t, tt.body, got[0].Body)
			}

			// The refused request left the script alone.
			res, err := send(t, srv.Sender(), srv.URL, `{}`)
			require.NoError(t, err)
			assert.Equal(t, http.StatusCreated, res.Response.Status)
		})
	}
}

func TestServerScript(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	srv.Respond(http.StatusServiceUnavailable)
	srv.RespondWith(
		webhooktest.Reply{Status: http.StatusCreated, Header: http.Header{"X-Lead": {"7"}}, Body: `{"id":"lead-7"}`},
		webhooktest.Reply{Body: "no status"},
	)
	srv.Respond(http.StatusNotFound)
	sender := srv.Sender()
	sender.RetryPolicy = webhook.NoRetry

	tests := []struct {
		wantStatus int
		wantHeader string
		wantBody   string
	}{
		{http.StatusServiceUnavailable, "", ""},
		{http.StatusCreated, "7", `{"id":"lead-7"}`},
		{http.StatusOK, "", "no status"},
		{http.StatusNotFound, "", ""},
		{http.StatusOK, "", ""}, // the script is used up
		{http.StatusOK, "", ""},
	}
	for i, tt := range tests {
		res, _ := send(t, sender, srv.URL, `{}`)
		require.NotNil(t, res.Response, "request %d", i+1)
		assert.Equal(t, tt.wantStatus, res.Response.Status, "request %d", i+1)
		assert.Equal(t, tt.wantHeader, res.Response.Header.Get("X-Lead"), "request %d", i+1)
		assert.Equal(t, tt.wantBody, string(res.Response.Body), "request %d", i+1)
	}
}

func TestServerHandlerAnswersAfterScript(t *testing.T) {
	srv := webhooktest.NewUnstartedServer(t, testKey)
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		w.Write(append([]byte("echo "), body...))
	})
	srv.Start()
	srv.Respond(http.StatusConflict)
	sender := srv.Sender()
	sender.RetryPolicy = webhook.NoRetry

	res, _ := send(t, sender, srv.URL, `{"n":1}`)
	assert.Equal(t, http.StatusConflict, res.Response.Status)
	res, err := send(t, sender, srv.URL, `{"n":2}`)
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, res.Response.Status)
	assert.Equal(t, `echo {"n":2}`, string(res.Response.Body))
}

func TestServerFieldsAreReadAtStart(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	// Too late: the server goes on checking Customer.io signatures, and
	// its Sender signs as the server checks.
	srv.Scheme = webhook.SchemeStandard
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	res, err := send(t, srv.Sender(), srv.URL, `{}`)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.Response.Status)
	assert.True(t, srv.Requests()[0].SignatureValid)
	assert.NotEmpty(t, srv.Requests()[0].Header.Get(webhook.HeaderSignature))
}

func TestServerDelayEndsWhenSenderGivesUp(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	srv.RespondWith(webhooktest.Reply{Delay: time.Hour})
	sender := srv.Sender()
	sender.Timeout = 20 * time.Millisecond
	res, err := send(t, sender, srv.URL, `{}`)
	require.NoError(t, err)
	require.Len(t, res.Attempts, 2)
	assert.Equal(t, webhook.ClassTimeout, res.Attempts[0].Class)
	assert.Equal(t, http.StatusOK, res.Attempts[1].Status)
}

func TestServerCloseEndsDelays(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	srv.RespondWith(webhooktest.Reply{Delay: time.Hour})
	sender := srv.Sender()
	sender.Timeout = time.Hour
	sender.RetryPolicy = webhook.NoRetry
	done := make(chan *webhook.Result)
	go func() {
		res, _ := send(t, sender, srv.URL, `{}`)
		done <- res
	}()
	srv.WaitFor(1, 10*time.Second)
	srv.Close() // returns without waiting out the hour
	res := <-done
	require.Len(t, res.Attempts, 1)
	assert.Equal(t, webhook.ClassConnection, res.Attempts[0].Class)
	assert.Len(t, srv.Requests(), 1, "Requests stays readable after Close")
	srv.Close()
}

func TestServerClosedByCleanup(t *testing.T) {
	tb := tbtest.New()
	var url string
	require.True(t, tb.Run(func(t testing.TB) {
		url = webhooktest.NewServer(t, testKey).URL
	}))
	resp := post(t, url, http.Header{}, nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the server runs until the test ends")

	tb.Finish()
	_, err := http.Post(url, "application/json", nil)
	require.Error(t, err, "the server is closed when the test ends")
	assert.Empty(t, tb.Errors())
}

func TestServerFailures(t *testing.T) {
	tests := []struct {
		name string
		f    func(t testing.TB)
		want string
	}{
		{"empty key", func(t testing.TB) { webhooktest.NewServer(t, nil) },
			"webhooktest: NewServer: empty key: nothing signed with it can be told from a forgery"},
		{"started twice", func(t testing.TB) { webhooktest.NewServer(t, testKey).Start() },
			"webhooktest: Server already started"},
		{"unknown scheme", func(t testing.TB) {
			srv := webhooktest.NewUnstartedServer(t, testKey)
			srv.Scheme = 7
			srv.Start()
		}, "webhooktest: Scheme(7): want webhook.SchemeCIO or webhook.SchemeStandard"},
		{"informational status", func(t testing.TB) { webhooktest.NewServer(t, testKey).Respond(200, 100) },
			"webhooktest: reply 2 of 2: status 100 is not a final HTTP status (200 to 599)"},
		{"status too large", func(t testing.TB) {
			webhooktest.NewServer(t, testKey).RespondWith(webhooktest.Reply{Status: 600})
		}, "webhooktest: reply 1 of 1: status 600 is not a final HTTP status (200 to 599)"},
		{"negative delay", func(t testing.TB) {
			webhooktest.NewServer(t, testKey).RespondWith(webhooktest.Reply{Delay: -time.Second})
		}, "webhooktest: reply 1 of 1: negative delay -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := tbtest.New()
			defer tb.Finish()
			assert.False(t, tb.Run(tt.f), "the helper must stop the test")
			assert.True(t, tb.Stopped())
			assert.Equal(t, []string{tt.want}, tb.Errors())
		})
	}
}

func TestServerBadScriptChangesNothing(t *testing.T) {
	tb := tbtest.New()
	defer tb.Finish()
	var srv *webhooktest.Server
	tb.Run(func(t testing.TB) {
		srv = webhooktest.NewServer(t, testKey)
		srv.Respond(201, 99)
	})
	res, err := send(t, srv.Sender(), srv.URL, `{}`)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.Response.Status, "no reply of a refused script is used")
}

func TestWaitFor(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	sender := srv.Sender()
	const n = 5
	for i := range n {
		go send(t, sender, srv.URL+"/"+strconv.Itoa(i), `{}`)
	}
	got := srv.WaitFor(n, time.Minute)
	require.GreaterOrEqual(t, len(got), n)
	paths := map[string]bool{}
	for _, r := range got {
		paths[r.Path] = true
	}
	assert.Len(t, paths, n)
	assert.Len(t, srv.WaitFor(0, 0), len(got), "nothing to wait for")
}

func TestWaitForFailure(t *testing.T) {
	tb := tbtest.New()
	defer tb.Finish()
	returned := tb.Run(func(tb testing.TB) {
		srv := webhooktest.NewServer(tb, testKey)
		_, err := send(t, srv.Sender(), srv.URL+"/first", `{}`)
		assert.NoError(t, err)
		post(t, srv.URL+"/second", http.Header{}, nil)
		srv.WaitFor(3, 10*time.Millisecond)
	})
	assert.False(t, returned, "WaitFor must stop the test")
	assert.Equal(t, []string{"webhooktest: waited 10ms for 3 requests, 2 arrived:\n" +
		"\t1. POST /first (signature valid)\n" +
		"\t2. POST /second (webhook: missing header X-CIO-Signature)"}, tb.Errors())

	tb = tbtest.New()
	defer tb.Finish()
	tb.Run(func(tb testing.TB) { webhooktest.NewServer(tb, testKey).WaitFor(1, time.Millisecond) })
	assert.Equal(t, []string{"webhooktest: waited 1ms for 1 request, 0 arrived"}, tb.Errors())
}

func TestRequestsReturnsCopies(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	_, err := send(t, srv.Sender(), srv.URL, `{"n":1}`)
	require.NoError(t, err)
	got := srv.Requests()
	got[0].Header.Set("Content-Type", "text/plain")
	got[0].Body[0] = 'X'
	again := srv.Requests()
	assert.Equal(t, "application/json", again[0].Header.Get("Content-Type"))
	assert.Equal(t, `{"n":1}`, string(again[0].Body))
}

// TestServerConcurrent sends from many goroutines while the test reads:
// every request is recorded once and each scripted reply is used once.
func TestServerConcurrent(t *testing.T) {
	srv := webhooktest.NewServer(t, testKey)
	const n, scripted = 40, 15
	for range scripted {
		srv.Respond(http.StatusCreated)
	}
	sender := srv.Sender()
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range n {
		wg.Go(func() {
			res, err := send(t, sender, srv.URL, `{}`)
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			statuses[res.Response.Status]++
			mu.Unlock()
		})
		srv.Requests()
	}
	wg.Wait()
	assert.Equal(t, map[int]int{http.StatusCreated: scripted, http.StatusOK: n - scripted}, statuses)
	keys := map[string]bool{}
	for _, r := range srv.Requests() {
		assert.True(t, r.SignatureValid)
		keys[r.IdempotencyKey] = true
	}
	assert.Len(t, keys, n)
}

func TestReceivedString(t *testing.T) {
	tests := []struct {
		name string
		r    webhooktest.Received
		want string
	}{
		{"valid", webhooktest.Received{Method: "POST", Path: "/a", RawQuery: "b=c", SignatureValid: true}, "POST /a?b=c (signature valid)"},
		{"invalid", webhooktest.Received{Method: "PUT", Path: "/a", SignatureErr: webhook.ErrInvalidSignature}, "PUT /a (webhook: invalid signature)"},
		{"made by hand", webhooktest.Received{Method: "GET", Path: "/"}, "GET / (signature not checked)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.r.String())
		})
	}
}
