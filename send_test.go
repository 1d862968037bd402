package webhook_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	webhook "github.com/liquidhook/webhook"
)

// cioCheckSignature is Customer.io's published Go CheckSignature, kept
// as the reference every test receiver verifies with: verbatim but for
// its two fmt.Println calls, which only print, and its name.
func cioCheckSignature(WebhookSigningSecret, XCIOSignature string, XCIOTimestamp int, RequestBody []byte) (bool, error) {
	signature, err := hex.DecodeString(XCIOSignature)
	if err != nil {
		return false, err
	}
	mac := hmac.New(sha256.New, []byte(WebhookSigningSecret))
	if _, err := mac.Write([]byte("v0:" + strconv.Itoa(XCIOTimestamp) + ":")); err != nil {
		return false, err
	}
	if _, err := mac.Write(RequestBody); err != nil {
		return false, err
	}
	computed := mac.Sum(nil)
	if !hmac.Equal(computed, signature) {
		return false, nil
	}
	return true, nil
}

const testKey = "test-signing-secret"

// received is what a test receiver recorded about one request.
type received struct {
	key       string
	timestamp string
	verified  bool
	body      []byte
	header    http.Header
}

// receiver is a test server that checks every request it gets with the
// cioCheckSignature before handing it to the test's handler.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
	n    atomic.Int32
}

func newReceiver(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		ts, _ := strconv.Atoi(r.Header.Get(webhook.HeaderTimestamp))
		ok, _ := cioCheckSignature(testKey, r.Header.Get(webhook.HeaderSignature), ts, body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{
			key:       r.Header.Get(webhook.HeaderIdempotencyKey),
			timestamp: r.Header.Get(webhook.HeaderTimestamp),
			verified:  ok,
			body:      body,
			header:    r.Header.Clone(),
		})
		rc.mu.Unlock()
		h(w, r, int(rc.n.Add(1)))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) seen() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

// requireSigned checks that the receiver saw want requests, each verified
// by cioCheckSignature, with body and the same idempotency key key.
func (rc *receiver) requireSigned(t *testing.T, want int, key string, body []byte) {
	t.Helper()
	reqs := rc.seen()
	require.Len(t, reqs, want, "requests the receiver saw")
	for i, r := range reqs {
		assert.True(t, r.verified, "attempt %d does not verify with cioCheckSignature", i+1)
		assert.Equal(t, key, r.key, "attempt %d idempotency key", i+1)
		assert.Equal(t, string(body), string(r.body), "attempt %d body", i+1)
	}
}

// fast retries quickly, so tests never sleep for a real backoff.
func fast(retries int) webhook.RetryPolicy {
	return webhook.Exponential{Retries: retries, FirstWait: time.Millisecond, Jitter: -1}
}

func testSender(retries int) *webhook.Sender {
	return &webhook.Sender{Key: []byte(testKey), AllowPrivate: true, RetryPolicy: fast(retries), Timeout: 2 * time.Second}
}

const leadBody = `{"name":"Acme","contacts":[{"name":"Ada Lovelace","emails":[{"type":"office","email":"ada@example.com"}]}]}`

func leadRequest(t *testing.T, url string) *webhook.Request {
	t.Helper()
	r, err := webhook.NewRequest("POST", url).
		Body("application/json", []byte(leadBody)).
		IdempotencyKey("key-123").
		Build()
	require.NoError(t, err)
	return r
}

func status(code int) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(code) }
}

// TestSendStatuses sends against every status class and checks the
// outcome and the number of attempts: retried statuses are tried 1+2
// times, final ones once.
func TestSendStatuses(t *testing.T) {
	retried := []int{408, 409, 429, 500, 501, 502, 503, 504, 599}
	final := []int{400, 401, 403, 404, 405, 410, 413, 415, 422}
	delivered := []int{200, 201, 202, 204}
	redirects := []int{301, 302, 303, 307, 308}

	type tc struct {
		code      int
		attempts  int
		class     webhook.ErrorClass
		wantErr   error
		delivered bool
	}
	var cases []tc
	for _, c := range retried {
		cases = append(cases, tc{c, 3, webhook.ClassStatus, webhook.ErrStatus, false})
	}
	for _, c := range final {
		cases = append(cases, tc{c, 1, webhook.ClassStatus, webhook.ErrStatus, false})
	}
	for _, c := range delivered {
		cases = append(cases, tc{c, 1, "", nil, true})
	}
	for _, c := range redirects {
		cases = append(cases, tc{c, 1, webhook.ClassRedirect, webhook.ErrRedirect, false})
	}
	for _, c := range cases {
		t.Run(strconv.Itoa(c.code), func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if c.code/100 == 3 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(c.code)
			})
			req := leadRequest(t, rc.URL)
			res, err := testSender(2).Send(context.Background(), req, nil)
			require.NotNil(t, res)
			assert.Equal(t, c.delivered, res.Delivered())
			require.Len(t, res.Attempts, c.attempts)
			last := res.Attempts[len(res.Attempts)-1]
			assert.Equal(t, c.class, last.Class)
			assert.Equal(t, c.code, last.Status)
			require.NotNil(t, res.Response)
			assert.Equal(t, c.code, res.Response.Status)
			if c.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, c.wantErr)
				var se *webhook.SendError
				require.ErrorAs(t, err, &se)
				assert.Len(t, se.Attempts, c.attempts)
			}
			for i, a := range res.Attempts {
				assert.Equal(t, i+1, a.Number)
			}
			rc.requireSigned(t, c.attempts, "key-123", []byte(leadBody))
		})
	}
}

func TestSendRetriesThenDelivers(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"id":"lead_1"}`)
	})
	// A clock that moves a second per reading, so each attempt's timestamp
	// differs and the test can see each was signed afresh.
	var tick atomic.Int64
	s := testSender(5)
	s.Now = func() time.Time { return time.Unix(1_700_000_000+tick.Add(1), 0) }
	var hooked []webhook.Attempt
	s.OnAttempt = func(r *webhook.Request, a webhook.Attempt) { hooked = append(hooked, a) }

	res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.NoError(t, err)
	require.True(t, res.Delivered())
	require.Len(t, res.Attempts, 3)
	assert.Equal(t, []webhook.ErrorClass{webhook.ClassStatus, webhook.ClassStatus, ""},
		[]webhook.ErrorClass{res.Attempts[0].Class, res.Attempts[1].Class, res.Attempts[2].Class})
	assert.Equal(t, time.Millisecond, res.Attempts[0].Wait)
	assert.Equal(t, 2*time.Millisecond, res.Attempts[1].Wait)
	assert.Zero(t, res.Attempts[2].Wait)
	assert.Equal(t, `{"id":"lead_1"}`, string(res.Response.Body))
	assert.Equal(t, res.Attempts, hooked, "OnAttempt sees every attempt as recorded")

	rc.requireSigned(t, 3, "key-123", []byte(leadBody))
	stamps := map[string]bool{}
	for _, r := range rc.seen() {
		stamps[r.timestamp] = true
	}
	assert.Len(t, stamps, 3, "every attempt has its own timestamp")
}

func TestSendGeneratesIdempotencyKey(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	req := &webhook.Request{
		Method: "POST",
		URL:    rc.URL,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   []byte(leadBody),
	}
	res, err := testSender(1).Send(context.Background(), req, nil)
	require.NoError(t, err)
	assert.Len(t, res.IdempotencyKey, 36)
	assert.Empty(t, req.IdempotencyKey, "the caller's Request is not modified")
	rc.requireSigned(t, 2, res.IdempotencyKey, []byte(leadBody))

	res2, err := testSender(0).Send(context.Background(), req, nil)
	require.NoError(t, err)
	assert.NotEqual(t, res.IdempotencyKey, res2.IdempotencyKey, "each delivery gets a new key")
}

func TestSendTimeout(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		<-r.Context().Done() // never answers in time
	})
	s := testSender(1)
	s.Timeout = 100 * time.Millisecond
	res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, res.Attempts, 2)
	for _, a := range res.Attempts {
		assert.Equal(t, webhook.ClassTimeout, a.Class)
		assert.Zero(t, a.Status)
	}
	assert.Nil(t, res.Response)
	rc.requireSigned(t, 2, "key-123", []byte(leadBody))
}

// TestSendSlowDrip checks that the timeout covers the body: a receiver that
// answers at once but drips its body past the timeout fails the attempt.
func TestSendSlowDrip(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusOK)
		for i := 0; i < 200; i++ {
			if _, err := w.Write([]byte{'x'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	s := testSender(1)
	s.Timeout = 400 * time.Millisecond // well past the status line, well short of the body
	res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, res.Attempts, 2)
	for _, a := range res.Attempts {
		assert.Equal(t, webhook.ClassTimeout, a.Class)
		assert.Equal(t, 200, a.Status, "the status line arrived in time")
	}
	assert.Nil(t, res.Attributes)
}

func TestSendConnectionResetMidResponse(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"id\":")
		buf.Flush()
		conn.(*net.TCPConn).SetLinger(0) // close with RST
		conn.Close()
	})
	res, err := testSender(2).Send(context.Background(), leadRequest(t, rc.URL), nil)
	var se *webhook.SendError
	require.ErrorAs(t, err, &se)
	require.Len(t, res.Attempts, 3)
	for _, a := range res.Attempts {
		assert.Equal(t, webhook.ClassConnection, a.Class)
	}
	rc.requireSigned(t, 3, "key-123", []byte(leadBody))
}

func TestSendConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	res, err := testSender(2).Send(context.Background(), leadRequest(t, "http://"+addr+"/"), nil)
	require.Error(t, err)
	require.Len(t, res.Attempts, 3)
	assert.Equal(t, webhook.ClassConnection, res.Attempts[2].Class)
}

func TestSendResponseSize(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		chunked  bool
		gzipped  bool
		wantErr  error
		attempts int
	}{
		{"10240 bytes", 10240, false, false, nil, 1},
		{"10241 bytes", 10241, false, false, webhook.ErrResponseTooLarge, 1},
		{"10240 bytes chunked", 10240, true, false, nil, 1},
		{"10241 bytes chunked", 10241, true, false, webhook.ErrResponseTooLarge, 1},
		{"10240 bytes gzipped", 10240, false, true, nil, 1},
		{"10241 bytes gzipped", 10241, false, true, webhook.ErrResponseTooLarge, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := bytes.Repeat([]byte("a"), tc.size)
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				body := payload
				if tc.gzipped {
					w.Header().Set("Content-Encoding", "gzip")
					body = gzipped(t, payload)
				}
				if !tc.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				w.Write(body)
			})
			res, err := testSender(3).Send(context.Background(), leadRequest(t, rc.URL), nil)
			require.Len(t, res.Attempts, tc.attempts, "a response over the cap is not retried")
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Equal(t, webhook.ClassTooLarge, res.Attempts[0].Class)
				assert.Nil(t, res.Response.Body)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, payload, res.Response.Body)
		})
	}
}

// TestSendGzipBomb sends a response that decompresses to a gibibyte and
// checks the webhook fails without reading it.
func TestSendGzipBomb(t *testing.T) {
	bomb := gzipBomb(t, 1<<30)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(bomb)
	})
	var before, after runtimeMem
	before.read()
	res, err := testSender(3).Send(context.Background(), leadRequest(t, rc.URL), nil)
	after.read()
	require.ErrorIs(t, err, webhook.ErrResponseTooLarge)
	require.Len(t, res.Attempts, 1)
	assert.Equal(t, webhook.ClassTooLarge, res.Attempts[0].Class)
	// The whole process, server included, allocates far less than the
	// decompressed size.
	assert.Less(t, after.total-before.total, uint64(64<<20))
}

func TestSendRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	policy := webhook.Exponential{Retries: 1, FirstWait: time.Millisecond, Jitter: -1, MaxRetryAfter: 20 * time.Millisecond}
	for _, tc := range []struct {
		name           string
		header         string
		wantRetryAfter time.Duration
		wantWait       time.Duration
	}{
		{"huge", "99999999", 99999999 * time.Second, 20 * time.Millisecond},
		{"overflowing", "99999999999999999999999", time.Duration(1<<63 - 1), 20 * time.Millisecond},
		{"negative", "-5", 0, time.Millisecond},
		{"garbage", "soon, please", 0, time.Millisecond},
		{"fraction", "1.5", 0, time.Millisecond},
		{"zero", "0", 0, time.Millisecond},
		{"HTTP date", now.Add(2 * time.Hour).Format(http.TimeFormat), 2 * time.Hour, 20 * time.Millisecond},
		{"HTTP date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", tc.header)
					w.WriteHeader(http.StatusTooManyRequests)
				}
			})
			s := testSender(0)
			s.RetryPolicy = policy
			s.Now = func() time.Time { return now }
			res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
			require.NoError(t, err)
			require.Len(t, res.Attempts, 2)
			assert.Equal(t, tc.wantRetryAfter, res.Attempts[0].RetryAfter)
			assert.Equal(t, tc.wantWait, res.Attempts[0].Wait)
			rc.requireSigned(t, 2, "key-123", []byte(leadBody))
		})
	}
}

func TestSendRefusesPrivateAddresses(t *testing.T) {
	rc := newReceiver(t, status(200))
	port := rc.Listener.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		name    string
		url     string
		sender  webhook.Sender
		wantErr error
	}{
		{"hostname resolving to loopback", fmt.Sprintf("http://localhost:%d/", port), webhook.Sender{}, webhook.ErrBlockedAddress},
		{"loopback literal", rc.URL, webhook.Sender{}, webhook.ErrBlockedAddress},
		{"IPv4-mapped loopback", fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port), webhook.Sender{}, webhook.ErrBlockedAddress},
		{"link-local metadata", "http://169.254.169.254/latest/meta-data/", webhook.Sender{}, webhook.ErrBlockedAddress},
		{"private", "http://10.0.0.1/", webhook.Sender{}, webhook.ErrBlockedAddress},
		{"allowed prefix", rc.URL, webhook.Sender{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil},
		{"allow private", rc.URL, webhook.Sender{AllowPrivate: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rc.n.Load()
			s := tc.sender
			s.RetryPolicy = fast(3)
			res, err := s.Send(context.Background(), leadRequest(t, tc.url), nil)
			if tc.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, before+1, rc.n.Load())
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			var ae *webhook.AddressError
			require.ErrorAs(t, err, &ae)
			require.Len(t, res.Attempts, 1, "a refused address is not retried")
			assert.Equal(t, webhook.ClassBlocked, res.Attempts[0].Class)
			assert.Equal(t, before, rc.n.Load(), "nothing reached the receiver")
		})
	}
}

func TestSendCancel(t *testing.T) {
	t.Run("mid-backoff", func(t *testing.T) {
		rc := newReceiver(t, status(503))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := testSender(0)
		s.RetryPolicy = webhook.Exponential{FirstWait: time.Hour, Jitter: -1}
		s.OnAttempt = func(*webhook.Request, webhook.Attempt) { cancel() }
		res, err := s.Send(ctx, leadRequest(t, rc.URL), nil)
		require.ErrorIs(t, err, context.Canceled)
		require.Len(t, res.Attempts, 1)
		assert.Equal(t, time.Hour, res.Attempts[0].Wait, "the wait that was cut short")
		assert.Equal(t, int32(1), rc.n.Load())
	})
	t.Run("mid-attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			cancel()
			<-r.Context().Done()
		})
		res, err := testSender(5).Send(ctx, leadRequest(t, rc.URL), nil)
		require.ErrorIs(t, err, context.Canceled)
		require.Len(t, res.Attempts, 1, "a cancelled attempt is never retried")
		assert.Equal(t, webhook.ClassCanceled, res.Attempts[0].Class)
		assert.Zero(t, res.Attempts[0].Wait)
	})
	t.Run("mid-body", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `{"id":`)
			w.(http.Flusher).Flush()
			// The sender is blocked reading the body by now.
			time.Sleep(100 * time.Millisecond)
			cancel()
			<-r.Context().Done()
		})
		start := time.Now()
		res, err := testSender(5).Send(ctx, leadRequest(t, rc.URL), nil)
		require.ErrorIs(t, err, context.Canceled)
		require.Len(t, res.Attempts, 1)
		assert.Equal(t, webhook.ClassCanceled, res.Attempts[0].Class)
		assert.Equal(t, 200, res.Attempts[0].Status)
		assert.Less(t, time.Since(start), 1500*time.Millisecond, "well before the attempt's timeout")
	})
	t.Run("before the first attempt", func(t *testing.T) {
		rc := newReceiver(t, status(200))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := testSender(5).Send(ctx, leadRequest(t, rc.URL), nil)
		require.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, res.Attempts)
		assert.Zero(t, rc.n.Load())
	})
}

func TestSendRedirects(t *testing.T) {
	t.Run("other host drops credentials and signature", func(t *testing.T) {
		other := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { io.WriteString(w, "ok") })
		first := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			http.Redirect(w, r, other.URL+"/moved", http.StatusTemporaryRedirect)
		})
		s := testSender(0)
		s.FollowRedirects = true
		req := leadRequest(t, strings.Replace(first.URL, "http://", "http://user:hunter2@", 1)+"/?api_key=s3cret")
		res, err := s.Send(context.Background(), req, nil)
		require.NoError(t, err)
		assert.Equal(t, "ok", string(res.Response.Body))
		require.Len(t, first.seen(), 1)
		assert.NotEmpty(t, first.seen()[0].header.Get("Authorization"))
		got := other.seen()
		require.Len(t, got, 1)
		assert.Empty(t, got[0].header.Get("Authorization"))
		assert.Empty(t, got[0].header.Get(webhook.HeaderSignature))
		assert.Empty(t, got[0].header.Get("Referer"), "a Referer would carry the first URL and its api_key")
		assert.Equal(t, "key-123", got[0].key, "the idempotency key is not a credential")
		assert.Equal(t, leadBody, string(got[0].body), "a 307 keeps the body")
	})
	t.Run("same host keeps credentials", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				http.Redirect(w, r, "/moved", http.StatusPermanentRedirect)
			}
		})
		s := testSender(0)
		s.FollowRedirects = true
		req := leadRequest(t, strings.Replace(rc.URL, "http://", "http://user:hunter2@", 1))
		_, err := s.Send(context.Background(), req, nil)
		require.NoError(t, err)
		got := rc.seen()
		require.Len(t, got, 2)
		assert.NotEmpty(t, got[1].header.Get("Authorization"))
		assert.True(t, got[1].verified)
	})
	t.Run("destination rechecked", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			http.Redirect(w, r, "http://127.0.0.2:1/", http.StatusFound)
		})
		s := webhook.Sender{
			AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			FollowRedirects: true,
			RetryPolicy:     fast(2),
		}
		res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
		require.ErrorIs(t, err, webhook.ErrBlockedAddress)
		require.Len(t, res.Attempts, 1)
		assert.Equal(t, webhook.ClassBlocked, res.Attempts[0].Class)
	})
	t.Run("unparseable Location", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Location", "https://elsewhere.example/%zz?token=t0k")
			w.WriteHeader(http.StatusFound)
		})
		s := testSender(2)
		s.FollowRedirects = true
		res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
		require.Error(t, err)
		require.Len(t, res.Attempts, 1, "a bad Location is final")
		assert.Equal(t, webhook.ClassRedirect, res.Attempts[0].Class)
		assert.ErrorIs(t, err, webhook.ErrRedirect)
		assert.Equal(t, "webhook: POST "+rc.URL+": redirect refused: status 302 with a Location that is not a valid URL", res.Attempts[0].Err.Error())
	})
	t.Run("too many", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			http.Redirect(w, r, "/again/"+strconv.Itoa(n), http.StatusFound)
		})
		s := testSender(2)
		s.FollowRedirects = true
		res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
		require.Error(t, err)
		require.Len(t, res.Attempts, 1)
		assert.Equal(t, webhook.ClassRedirect, res.Attempts[0].Class)
		assert.ErrorIs(t, err, webhook.ErrRedirect)
		assert.Equal(t, http.StatusFound, res.Attempts[0].Status)
	})
	t.Run("https to http refused", func(t *testing.T) {
		plain := newReceiver(t, status(200))
		tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, plain.URL, http.StatusFound)
		}))
		defer tlsSrv.Close()
		s := testSender(0)
		s.FollowRedirects = true
		s.Transport = tlsSrv.Client().Transport
		res, err := s.Send(context.Background(), leadRequest(t, tlsSrv.URL), nil)
		require.Error(t, err)
		assert.Equal(t, webhook.ClassRedirect, res.Attempts[0].Class)
		assert.ErrorIs(t, err, webhook.ErrRedirect)
		assert.Zero(t, plain.n.Load())
	})
}

// TestSendMapsResponse sends a rendered action and checks the response
// becomes typed attributes, on a delivered response only.
func TestSendMapsResponse(t *testing.T) {
	action, err := webhook.Compile(webhook.Spec{
		URL:  "http://127.0.0.1/leads",
		Body: `{"email": "{{ customer.email }}"}`,
		Response: map[string]string{
			"lead_id": "{{ response.id }}",
			"score":   "{{ response.score }}",
			"zip":     "{{ response.zip }}",
			"vip":     "{{ response.vip }}",
			"email":   "{{ customer.email }}",
		},
	})
	require.NoError(t, err)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"id": "not this one"}`)
			return
		}
		io.WriteString(w, `{"id": "lead_42", "score": 97, "zip": "0123", "vip": true}`)
	})
	data := map[string]any{"customer": map[string]any{"email": "ada@example.com"}}
	req, err := action.Render(data)
	require.NoError(t, err)
	req.URL = rc.URL + "/leads"

	res, err := testSender(1).Send(context.Background(), req, action.Mapper(data))
	require.NoError(t, err)
	require.Len(t, res.Attempts, 2)
	assert.Equal(t, map[string]any{
		"lead_id": "lead_42",
		"score":   int64(97),
		"zip":     "0123",
		"vip":     true,
		"email":   "ada@example.com",
	}, res.Attributes)
}

func TestSendNoAttributesOnFailure(t *testing.T) {
	action, err := webhook.Compile(webhook.Spec{
		URL:      "http://127.0.0.1/",
		Body:     `{}`,
		Response: map[string]string{"lead_id": "{{ response.id }}"},
	})
	require.NoError(t, err)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"id": "lead_42"}`)
	})
	req, err := action.Render(map[string]any{})
	require.NoError(t, err)
	req.URL = rc.URL
	res, err := testSender(3).Send(context.Background(), req, action.Mapper(map[string]any{}))
	require.ErrorIs(t, err, webhook.ErrStatus)
	assert.Nil(t, res.Attributes)
	assert.Len(t, res.Attempts, 1)
	assert.Equal(t, `{"id": "lead_42"}`, string(res.Response.Body), "the caller can still see the answer")
}

func TestSendInvalidRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     *webhook.Request
		wantErr error
	}{
		{"nil", nil, webhook.ErrInvalidURL},
		{"bad method", &webhook.Request{Method: "TRACE", URL: "http://127.0.0.1/"}, webhook.ErrInvalidMethod},
		{"relative URL", &webhook.Request{Method: "POST", URL: "/x"}, webhook.ErrInvalidURL},
		{"header with CRLF", &webhook.Request{Method: "POST", URL: "http://127.0.0.1/", Header: http.Header{"X-A": {"a\r\nX-B: b"}}}, webhook.ErrInvalidHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := testSender(3).Send(context.Background(), tc.req, nil)
			require.ErrorIs(t, err, tc.wantErr)
			var se *webhook.SendError
			require.ErrorAs(t, err, &se)
			require.NotNil(t, res)
			assert.Empty(t, res.Attempts, "nothing is sent half-made")
		})
	}
}

// TestSendRechecksChangedRequests: Render and Build check a request once,
// and Send relies on that only while the request is as it was checked. A
// request changed afterwards, by assignment or in place, is checked again
// and refused before anything is sent.
func TestSendRechecksChangedRequests(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		io.WriteString(w, `{"id": "lead_1"}`)
	})
	action, err := webhook.Compile(closeLead(rc.URL + "/lead"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		change  func(r *webhook.Request)
		wantErr error
	}{
		{"body changed in place", func(r *webhook.Request) { r.Body[0] = 'x' }, webhook.ErrInvalidBody},
		{"body truncated", func(r *webhook.Request) { r.Body = r.Body[:len(r.Body)-1] }, webhook.ErrInvalidBody},
		{"body emptied", func(r *webhook.Request) { r.Body = []byte{} }, webhook.ErrInvalidBody},
		{"body replaced", func(r *webhook.Request) { r.Body = []byte(`{"a":`) }, webhook.ErrInvalidBody},
		{"content type changed", func(r *webhook.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Body = []byte("a=%zz")
		}, webhook.ErrInvalidBody},
		{"method changed", func(r *webhook.Request) { r.Method = "TRACE" }, webhook.ErrInvalidMethod},
		{"credentials put in the URL", func(r *webhook.Request) { r.URL = strings.Replace(r.URL, "http://", "http://u:p@", 1) }, webhook.ErrInvalidURL},
		{"relative URL", func(r *webhook.Request) { r.URL = "/lead" }, webhook.ErrInvalidURL},
		{"header value with CRLF", func(r *webhook.Request) { r.Header.Set("X-Team", "a\r\nX-Evil: 1") }, webhook.ErrInvalidHeader},
		{"header name invalid", func(r *webhook.Request) { r.Header["Bad Name"] = []string{"v"} }, webhook.ErrInvalidHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := action.Render(sampleCustomer())
			require.NoError(t, err)
			tc.change(req)
			res, err := testSender(0).Send(context.Background(), req, nil)
			require.ErrorIs(t, err, tc.wantErr)
			assert.Empty(t, res.Attempts, "nothing is sent half-made")
		})
	}
	assert.Zero(t, rc.n.Load(), "no request reached the receiver")

	// Unchanged, or changed into another valid request, it is sent as it
	// now is.
	req, err := action.Render(sampleCustomer())
	require.NoError(t, err)
	_, err = testSender(0).Send(context.Background(), req, nil)
	require.NoError(t, err)
	req.Body = []byte(`{"replaced": true}`)
	req.Header.Set("X-Team", "blue")
	_, err = testSender(0).Send(context.Background(), req, nil)
	require.NoError(t, err)
	got := rc.seen()
	require.Len(t, got, 2)
	assert.True(t, got[1].verified)
	assert.Equal(t, `{"replaced": true}`, string(got[1].body))
	assert.Equal(t, "blue", got[1].header.Get("X-Team"))
}

// A custom transport that breaks the RoundTripper contract gets the
// answer http.Client would give it, not a crash.
func TestSendTransportContract(t *testing.T) {
	req := leadRequest(t, "http://127.0.0.1:1/")
	for _, tc := range []struct {
		name      string
		rt        roundTripFunc
		delivered bool
	}{
		{"nil response and nil error", func(*http.Request) (*http.Response, error) { return nil, nil }, false},
		{"a declared body that is missing", func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: 5, Request: r}, nil
		}, false},
		{"no body, none declared", func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{}, Request: r}, nil
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &webhook.Sender{Transport: tc.rt, RetryPolicy: webhook.NoRetry}
			res, err := s.Send(context.Background(), req, nil)
			require.Len(t, res.Attempts, 1)
			if tc.delivered {
				require.NoError(t, err)
				assert.Empty(t, res.Response.Body)
				return
			}
			require.Error(t, err)
			assert.Equal(t, webhook.ClassConnection, res.Attempts[0].Class)
		})
	}
}

func TestSendSignerError(t *testing.T) {
	rc := newReceiver(t, status(200))
	s := testSender(3)
	errBroken := errors.New("broken signer")
	s.Signer = signerFunc(func(http.Header, string, int64, []byte) error { return errBroken })
	res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.ErrorIs(t, err, errBroken)
	require.Len(t, res.Attempts, 1)
	assert.Equal(t, webhook.ClassInvalid, res.Attempts[0].Class)
	assert.Zero(t, rc.n.Load())
}

type signerFunc func(h http.Header, id string, ts int64, body []byte) error

func (f signerFunc) SignHeader(h http.Header, id string, ts int64, body []byte) error {
	return f(h, id, ts, body)
}

// TestSenderZeroValue checks that var s Sender works: it signs nothing,
// and refuses the loopback test server as a private address.
func TestSenderZeroValue(t *testing.T) {
	rc := newReceiver(t, status(200))
	var s webhook.Sender
	res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.ErrorIs(t, err, webhook.ErrBlockedAddress)
	assert.Len(t, res.Attempts, 1)

	allowed := webhook.Sender{AllowPrivate: true}
	_, err = allowed.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.NoError(t, err)
	got := rc.seen()
	require.Len(t, got, 1)
	assert.Empty(t, got[0].header.Get(webhook.HeaderSignature), "no key, no signature")
	assert.Equal(t, "key-123", got[0].key)
}

// TestSenderString: a Sender printed with any verb, by value, by pointer
// or inside another struct, never shows its key.
func TestSenderString(t *testing.T) {
	key := []byte("sender-key-777")
	s := webhook.Sender{Key: key, Timeout: time.Second}
	type config struct{ Sender webhook.Sender }
	for _, tc := range []struct {
		name string
		text string
		want string
	}{
		{"value", fmt.Sprint(s), "webhook.Sender{Key: REDACTED}"},
		{"pointer", fmt.Sprint(&s), "webhook.Sender{Key: REDACTED}"},
		{"plus", fmt.Sprintf("%+v", s), "webhook.Sender{Key: REDACTED}"},
		{"Go syntax", fmt.Sprintf("%#v", s), "webhook.Sender{Key: REDACTED}"},
		{"in a struct", fmt.Sprintf("%+v", config{s}), "{Sender:webhook.Sender{Key: REDACTED}}"},
		{"no key", fmt.Sprint(webhook.Sender{}), "webhook.Sender{}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.text)
		})
	}
}

// TestSendNoSecretsLeak fails deliveries in every way that produces an
// error or a log line and checks that no credential appears in them.
func TestSendNoSecretsLeak(t *testing.T) {
	const (
		user, pass = "leaky-user", "hunter2-pass"
		token      = "tok-987654321"
		headerTok  = "Bearer hdr-secret-555"
	)
	secrets := []string{pass, token, headerTok, "hdr-secret-555", testKey,
		base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	closed.Close()

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// Anything on the default logger would be a leak too: nothing should
	// go there at all.
	var defaultLogs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&defaultLogs, nil)))
	defer slog.SetDefault(old)

	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.URL.Path {
		case "/redirect":
			w.Header().Set("Location", "https://user:"+pass+"@elsewhere.example/?token="+token)
			w.WriteHeader(http.StatusFound)
		case "/bad-location":
			w.Header().Set("Location", "https://user:"+pass+"@elsewhere.example/%zz?token="+token)
			w.WriteHeader(http.StatusFound)
		case "/slow":
			<-r.Context().Done()
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	hostPort := strings.TrimPrefix(rc.URL, "http://")

	for _, tc := range []struct {
		name   string
		url    string
		sender webhook.Sender
	}{
		{"status", "http://" + user + ":" + pass + "@" + hostPort + "/status?token=" + token, webhook.Sender{AllowPrivate: true}},
		{"redirect", "http://" + user + ":" + pass + "@" + hostPort + "/redirect?token=" + token, webhook.Sender{AllowPrivate: true}},
		{"redirect followed", "http://" + user + ":" + pass + "@" + hostPort + "/redirect?token=" + token, webhook.Sender{AllowPrivate: true, FollowRedirects: true}},
		{"unparseable Location followed", "http://" + user + ":" + pass + "@" + hostPort + "/bad-location?token=" + token, webhook.Sender{AllowPrivate: true, FollowRedirects: true}},
		{"timeout", "http://" + user + ":" + pass + "@" + hostPort + "/slow?token=" + token, webhook.Sender{AllowPrivate: true, Timeout: 50 * time.Millisecond}},
		{"refused", "http://" + user + ":" + pass + "@" + closedAddr + "/?api_key=" + token, webhook.Sender{AllowPrivate: true}},
		{"blocked", "http://" + user + ":" + pass + "@" + hostPort + "/?token=" + token, webhook.Sender{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := webhook.NewRequest("POST", tc.url).
				Header("Authorization-Extra", headerTok).
				Body("application/json", []byte(`{}`)).
				Build()
			require.NoError(t, err)
			var hooked []string
			spans := tracetest.NewSpanRecorder()
			s := tc.sender
			s.Key = []byte(testKey)
			s.Logger = logger
			s.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			s.RetryPolicy = fast(1)
			s.OnAttempt = func(r *webhook.Request, a webhook.Attempt) {
				if a.Err != nil {
					hooked = append(hooked, a.Err.Error())
				}
				hooked = append(hooked, r.String(), fmt.Sprint(a))
			}
			res, err := s.Send(context.Background(), req, nil)
			require.Error(t, err)
			texts := append(hooked, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprint(res.Attempts))
			require.NotEmpty(t, spans.Ended())
			for _, span := range spans.Ended() {
				texts = append(texts, span.Name(), span.Status().Description)
				for _, kv := range span.Attributes() {
					texts = append(texts, kv.Value.String())
				}
			}
			for _, text := range texts {
				for _, secret := range secrets {
					assert.NotContains(t, text, secret)
				}
			}
		})
	}
	require.NotEmpty(t, logs.String(), "the logger was used")
	for _, secret := range secrets {
		assert.NotContains(t, logs.String(), secret)
	}
	assert.Empty(t, defaultLogs.String(), "nothing logged without a Logger")
}

// TestSendAfterServerClosesIdle: a receiver that closes idle connections
// after a few milliseconds, as many do after seconds, never costs an
// attempt: requests sent just before, as, and after it closes each
// succeed at the first attempt.
func TestSendAfterServerClosesIdle(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, `{"id":"lead_1"}`)
	}))
	srv.Config.IdleTimeout = 20 * time.Millisecond
	srv.Start()
	defer srv.Close()

	s := &webhook.Sender{Key: []byte(testKey), AllowPrivate: true, RetryPolicy: webhook.NoRetry}
	req := leadRequest(t, srv.URL)
	const n = 60
	for i := range n {
		res, err := s.Send(context.Background(), req, nil)
		require.NoError(t, err, "send %d", i)
		require.Len(t, res.Attempts, 1)
		// Waits around the idle timeout, and past the transport's check.
		time.Sleep(time.Duration(10+i%25) * time.Millisecond)
		if i%10 == 9 {
			time.Sleep(150 * time.Millisecond)
		}
	}
	assert.Equal(t, int64(n), served.Load())
}

// TestSendReusesConnections sends 3,000 requests at concurrency 300 (what a
// delivery worker runs by default) after warming 300 connections, and
// counts the connections the server accepts meanwhile: the default
// transport keeps enough idle ones to need none.
func TestSendReusesConnections(t *testing.T) {
	const conc, total = 300, 3000
	var newConns, closed atomic.Int64
	var warm sync.WaitGroup
	warm.Add(conc)
	var warming atomic.Bool
	warming.Store(true)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if warming.Load() {
			// Hold every warm-up request until all are in flight, so each
			// has its own connection.
			warm.Done()
			warm.Wait()
		}
		io.WriteString(w, `{"id":"lead_1"}`)
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			newConns.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	s := &webhook.Sender{Key: []byte(testKey), AllowPrivate: true, RetryPolicy: webhook.NoRetry}
	req := leadRequest(t, srv.URL)
	sendN := func(n int) {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range conc {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					if _, err := s.Send(context.Background(), req, nil); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	sendN(conc)
	warming.Store(false)
	require.Equal(t, int64(conc), newConns.Load(), "warm-up connections")

	sendN(total)
	// A connection the pool has no room for is closed once its request
	// is done, and the next request dials again: without room for the
	// whole concurrency, about one in thirty requests does. With room,
	// none is closed and none is dialed: net/http puts a connection back
	// in the pool before the body that reached its end returns, so each
	// goroutine finds one idle for its next request.
	fresh := newConns.Load() - conc
	t.Logf("%d new connections and %d closed per %d warm requests at concurrency %d", fresh, closed.Load(), total, conc)
	assert.Zero(t, closed.Load(), "connections closed while warm")
	assert.Zero(t, fresh, "new connections per %d warm requests", total)
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// gzipBomb returns a small gzip stream that decompresses to size zero
// bytes: one compressed MiB of zeros, repeated as gzip members.
func gzipBomb(t testing.TB, size int) []byte {
	t.Helper()
	var member bytes.Buffer
	zw, err := gzip.NewWriterLevel(&member, gzip.BestCompression)
	require.NoError(t, err)
	_, err = zw.Write(make([]byte, 1<<20))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return bytes.Repeat(member.Bytes(), size/(1<<20))
}

type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.total = ms.TotalAlloc
}

// closeLead is Customer.io's "Create a Lead in Close" action, pointed at url.
func closeLead(url string) webhook.Spec {
	return webhook.Spec{
		Method: "POST",
		URL:    url,
		Body: `{
  "name": "{{customer.company}}",
  "url": "{% if customer.company_url.size > 0 %}{{customer.company_url}}{%else %}mycompany.com{% endif %}",
  "description": "{{customer.bio}}",
  "contacts": [
    {
      "name": "{{customer.first_name}} {{customer.last_name}}",
      "title": "{{customer.jobTitle}}",
      "emails": [{"type": "office", "email": "{{customer.email}}"}],
      "phones": [{"type": "office", "phone": "{{customer.phone}}"}]
    }
  ],
  "custom": {
    "Source": "{% if customer.source.size > 0 %}{{customer.source}}{%else %}Unknown{% endif %}"
  },
  "addresses": ["{{customer.address}}"]
}`,
		Response: map[string]string{"close_lead_id": "{{ response.id }}"},
		Sending:  webhook.SendingAutomatic,
	}
}

func sampleCustomer() map[string]any {
	return map[string]any{"customer": map[string]any{
		"company":     "Analytical Engines Ltd",
		"company_url": "https://engines.example",
		"bio":         "Builds difference engines.",
		"first_name":  "Ada",
		"last_name":   "Lovelace",
		"jobTitle":    "CTO",
		"email":       "ada@engines.example",
		"phone":       "+44 20 7946 0000",
		"source":      "signup",
		"address":     "12 St James's Square, London",
	}}
}

// benchServer answers every request with a small JSON body and counts the
// connections it accepts. While warming it holds each request until conc
// are in flight, so the client opens exactly conc connections.
type benchServer struct {
	*httptest.Server
	conns   atomic.Int64
	warming atomic.Bool
	warm    sync.WaitGroup
}

func newBenchServer(b *testing.B) *benchServer {
	s := &benchServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if s.warming.Load() {
			s.warm.Done()
			s.warm.Wait()
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"lead_EQ9nP2yXk4","status_id":"stat_1"}`)
	}))
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	b.Cleanup(s.Close)
	return s
}

// concurrently runs op b.N times from conc goroutines.
func concurrently(b *testing.B, conc, n int, op func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkSend measures a whole delivery (client=sender: render, sign,
// send, read the response, map it) beside a raw net/http POST of the same
// bytes and headers to the same local server (client=raw), at several
// concurrencies; client=prebuilt is the Sender alone (sign, send, read) on
// a request built once, without templates, reporting to OpenTelemetry's
// global providers, which record nothing, and client=prebuilt-sdk the same
// with an SDK that records every span (exported in batches to nowhere)
// and the metrics. Compare with benchstat -col /client. Each also reports the connections the server accepted per
// 1,000 requests once warm, and the CPU time the process (client and
// server) spent per request.
func BenchmarkSend(b *testing.B) {
	for _, conc := range []int{1, 16, 64} {
		for _, client := range []string{"raw", "prebuilt", "prebuilt-sdk", "sender"} {
			b.Run(fmt.Sprintf("conc=%d/client=%s", conc, client), func(b *testing.B) {
				srv := newBenchServer(b)
				action, err := webhook.Compile(closeLead(srv.URL + "/api/v1/lead/"))
				require.NoError(b, err)
				data := sampleCustomer()
				rendered, err := action.Render(data)
				require.NoError(b, err)
				body := rendered.Body
				// The raw client sends the same bytes: the same body and
				// the headers a signed attempt carries.
				header := rendered.Header.Clone()
				header.Set(webhook.HeaderIdempotencyKey, webhook.NewIdempotencyKey())
				require.NoError(b, webhook.CIOSigner{Key: []byte(testKey)}.SignHeader(header, "", time.Now().Unix(), body))

				var op func() error
				switch client {
				case "raw":
					// An *http.Transport set up as the Sender's own is.
					tr := http.DefaultTransport.(*http.Transport).Clone()
					tr.Proxy = nil
					tr.DisableCompression = true
					tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 4096, 1024
					tr.TLSHandshakeTimeout, tr.ResponseHeaderTimeout = webhook.DefaultTimeout, webhook.DefaultTimeout
					hc := &http.Client{Transport: tr}
					b.Cleanup(tr.CloseIdleConnections)
					op = func() error {
						req, err := http.NewRequestWithContext(context.Background(), "POST", srv.URL+"/api/v1/lead/", bytes.NewReader(body))
						if err != nil {
							return err
						}
						req.Header = header.Clone()
						resp, err := hc.Do(req)
						if err != nil {
							return err
						}
						defer resp.Body.Close()
						if _, err := io.ReadAll(resp.Body); err != nil {
							return err
						}
						if resp.StatusCode != 200 {
							return fmt.Errorf("status %d", resp.StatusCode)
						}
						return nil
					}
				case "prebuilt", "prebuilt-sdk":
					// The Sender's own part: sign, send, read; no templates.
					s := &webhook.Sender{Key: []byte(testKey), AllowPrivate: true, RetryPolicy: webhook.NoRetry}
					if client == "prebuilt-sdk" {
						tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
						mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
						b.Cleanup(func() {
							tp.Shutdown(context.Background())
							mp.Shutdown(context.Background())
						})
						s.TracerProvider, s.MeterProvider = tp, mp
					}
					plain, err := webhook.NewRequest("POST", srv.URL+"/api/v1/lead/").Body("application/json", body).Build()
					require.NoError(b, err)
					op = func() error {
						_, err := s.Send(context.Background(), plain, nil)
						return err
					}
				case "sender":
					s := &webhook.Sender{Key: []byte(testKey), AllowPrivate: true, RetryPolicy: webhook.NoRetry}
					op = func() error {
						req, err := action.Render(data)
						if err != nil {
							return err
						}
						res, err := s.Send(context.Background(), req, action.Mapper(data))
						if err != nil {
							return err
						}
						if res.Attributes["close_lead_id"] != "lead_EQ9nP2yXk4" {
							return fmt.Errorf("attributes %v", res.Attributes)
						}
						return nil
					}
				}

				srv.warming.Store(true)
				srv.warm.Add(conc)
				concurrently(b, conc, conc, op)
				srv.warming.Store(false)
				warm := srv.conns.Load()

				b.ReportAllocs()
				cpu := processCPU()
				b.ResetTimer()
				concurrently(b, conc, b.N, op)
				b.StopTimer()
				b.ReportMetric(float64(srv.conns.Load()-warm)*1000/float64(b.N), "newconns/1000req")
				if cpu > 0 {
					b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e3, "cpu-µs/op")
				}
			})
		}
	}
}

// TestSendMappingFails: a delivered response that a mapping cannot use
// fails the webhook, names what is missing, sets no attributes and is not
// retried (the receiver has already acted on it).
func TestSendMappingFails(t *testing.T) {
	action, err := webhook.Compile(webhook.Spec{
		URL:      "http://127.0.0.1/",
		Body:     `{}`,
		Response: map[string]string{"lead_id": "{{ response.lead.id }}", "tags": "{{ response.tags | json }}"},
	})
	require.NoError(t, err)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		io.WriteString(w, `{"tags": ["a", 1]}`)
	})
	req, err := action.Render(map[string]any{})
	require.NoError(t, err)
	req.URL = rc.URL
	res, err := testSender(3).Send(context.Background(), req, action.Mapper(map[string]any{}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "response.lead.id")
	require.Len(t, res.Attempts, 1)
	assert.Equal(t, webhook.ClassMapping, res.Attempts[0].Class)
	assert.Equal(t, 200, res.Attempts[0].Status)
	assert.False(t, res.Delivered())
	assert.Nil(t, res.Attributes)
	assert.Equal(t, `{"tags": ["a", 1]}`, string(res.Response.Body))
}

// TestSendMapsJSONValues: a mapping that prints JSON gives a typed value.
func TestSendMapsJSONValues(t *testing.T) {
	action, err := webhook.Compile(webhook.Spec{
		URL:  "http://127.0.0.1/",
		Body: `{}`,
		Response: map[string]string{
			"tags":  "{{ response.tags | json }}",
			"owner": "{{ response.owner | json }}",
			"count": "{{ response.tags | size }}",
		},
	})
	require.NoError(t, err)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		io.WriteString(w, `{"tags": ["vip", 2], "owner": {"name": "Ada", "zip": "0123"}}`)
	})
	req, err := action.Render(map[string]any{})
	require.NoError(t, err)
	req.URL = rc.URL
	res, err := testSender(0).Send(context.Background(), req, action.Mapper(map[string]any{}))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"tags":  []any{"vip", int64(2)},
		"owner": map[string]any{"name": "Ada", "zip": "0123"},
		"count": int64(2),
	}, res.Attributes)
}

// discardSpans is a span exporter that drops every span.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkSendSteps isolates what BenchmarkSend's client=sender does that
// a raw POST does not, without the network: rendering the request, signing
// one attempt, mapping the response, and the whole Send (render, sign,
// send, read, map) over an in-memory transport, beside the raw client's
// own work over the same transport, so that only the library's CPU is
// measured.
func BenchmarkSendSteps(b *testing.B) {
	const url = "http://127.0.0.1:1/api/v1/lead/"
	const respBody = `{"id":"lead_EQ9nP2yXk4","status_id":"stat_1"}`
	action, err := webhook.Compile(closeLead(url))
	require.NoError(b, err)
	data := sampleCustomer()
	req, err := action.Render(data)
	require.NoError(b, err)
	resp := &webhook.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(respBody)}
	memory := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			r.Body.Close()
		}
		return &http.Response{
			StatusCode:    200,
			Header:        http.Header{"Content-Type": {"application/json"}},
			Body:          io.NopCloser(strings.NewReader(respBody)),
			ContentLength: int64(len(respBody)),
			Request:       r,
		}, nil
	})

	b.Run("step=render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := action.Render(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("step=sign", func(b *testing.B) {
		signer := webhook.CIOSigner{Key: []byte(testKey)}
		h := make(http.Header)
		b.ReportAllocs()
		for b.Loop() {
			if err := signer.SignHeader(h, req.IdempotencyKey, 1614265384, req.Body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("step=map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			attrs, err := action.Mapper(data).MapResponse(resp)
			if err != nil || attrs["close_lead_id"] != "lead_EQ9nP2yXk4" {
				b.Fatal(attrs, err)
			}
		}
	})
	b.Run("step=raw", func(b *testing.B) {
		// What BenchmarkSend's raw client does, over the same transport.
		hc := &http.Client{Transport: memory}
		header := req.Header.Clone()
		require.NoError(b, webhook.CIOSigner{Key: []byte(testKey)}.SignHeader(header, "", 1614265384, req.Body))
		header.Set(webhook.HeaderIdempotencyKey, req.IdempotencyKey)
		b.ReportAllocs()
		for b.Loop() {
			hr, err := http.NewRequestWithContext(context.Background(), "POST", url, bytes.NewReader(req.Body))
			if err != nil {
				b.Fatal(err)
			}
			hr.Header = header.Clone()
			resp, err := hc.Do(hr)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadAll(resp.Body); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
	})
	b.Run("step=send_prebuilt", func(b *testing.B) {
		s := &webhook.Sender{Key: []byte(testKey), Transport: memory, RetryPolicy: webhook.NoRetry}
		plain, err := webhook.NewRequest("POST", url).Body("application/json", req.Body).Build()
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Send(context.Background(), plain, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("step=all", func(b *testing.B) {
		s := &webhook.Sender{Key: []byte(testKey), Transport: memory, RetryPolicy: webhook.NoRetry}
		b.ReportAllocs()
		for b.Loop() {
			r, err := action.Render(data)
			if err != nil {
				b.Fatal(err)
			}
			res, err := s.Send(context.Background(), r, action.Mapper(data))
			if err != nil || res.Attributes["close_lead_id"] != "lead_EQ9nP2yXk4" {
				b.Fatal(res, err)
			}
		}
	})
}

// headerSigner sets one header, as a Signer of an application's own might.
type headerSigner struct{ name, value string }

func (s headerSigner) SignHeader(h http.Header, _ string, _ int64, _ []byte) error {
	h[s.name] = []string{s.value}
	return nil
}

// TestSendChecksSignerHeaders: a header a custom Signer sets with a line
// break or a bad name fails the attempt as invalid, is not retried, and
// nothing is sent; the error names the header, not its value.
func TestSendChecksSignerHeaders(t *testing.T) {
	for _, signer := range []headerSigner{
		{"X-Sig", "secret-part\r\nX-Injected: yes"},
		{"X-Bad Name", "secret-part"},
	} {
		rc := newReceiver(t, status(200))
		s := testSender(3)
		s.Signer = signer
		res, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
		require.ErrorIs(t, err, webhook.ErrInvalidHeader, signer.name)
		require.Len(t, res.Attempts, 1)
		assert.Equal(t, webhook.ClassInvalid, res.Attempts[0].Class)
		assert.Zero(t, rc.n.Load(), "nothing is sent")
		assert.NotContains(t, err.Error(), "secret-part")
	}
}

// TestSendChecksIdempotencyKey: a key with a line break is refused before
// anything is sent, rather than sent with the break turned into a space.
func TestSendChecksIdempotencyKey(t *testing.T) {
	rc := newReceiver(t, status(200))
	req := leadRequest(t, rc.URL)
	req.IdempotencyKey = "key\r\nX-Injected: yes"
	res, err := testSender(3).Send(context.Background(), req, nil)
	require.ErrorIs(t, err, webhook.ErrInvalidHeader)
	assert.Contains(t, err.Error(), webhook.HeaderIdempotencyKey)
	assert.Empty(t, res.Attempts, "nothing was sent")
	assert.Zero(t, rc.n.Load())
}
