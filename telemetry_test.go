package webhook_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	webhook "github.com/liquidhook/webhook"
)

// telemetry is an in-memory SDK: a span recorder and a metric reader.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newTelemetry() *telemetry {
	t := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	t.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(t.spans))
	t.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(t.reader))
	return t
}

// metric returns the metric named name, failing the test if there is none.
func (tel *telemetry) metric(t *testing.T, name string) metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// attrs returns a span's or a data point's attributes as a map of their
// values.
func attrs(kvs []attribute.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

// records is a slog.Handler that keeps every record.
type records struct {
	mu  sync.Mutex
	all []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *records) WithGroup(string) slog.Handler            { return h }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.all = append(h.all, r.Clone())
	return nil
}

func (h *records) get() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slog.Record(nil), h.all...)
}

// recordAttrs returns a record's attributes as a map of their values.
func recordAttrs(r slog.Record) map[string]any {
	m := map[string]any{}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.Resolve().Any()
		return true
	})
	return m
}

// TestSendTelemetry: each attempt is a client span, child of the caller's,
// with the HTTP semantic conventions' attributes, the URL redacted (its
// credentials were moved to the Authorization header, its token query
// value is replaced), and error.type and an Error status on the attempt
// that failed; the metrics count each attempt by outcome and error type
// and record its duration.
func TestSendTelemetry(t *testing.T) {
	const token = "qs-secret-4711"
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	host, portText, err := net.SplitHostPort(strings.TrimPrefix(rc.URL, "http://"))
	require.NoError(t, err)
	port, err := strconv.Atoi(portText)
	require.NoError(t, err)
	req, err := webhook.NewRequest("POST", "http://user:pw-secret-9@"+host+":"+portText+"/hook?token="+token+"&x=1").
		Body("application/json", []byte(leadBody)).
		IdempotencyKey("key-otel").
		Build()
	require.NoError(t, err)

	tel := newTelemetry()
	s := testSender(1)
	s.TracerProvider, s.MeterProvider = tel.tp, tel.mp
	ctx, parent := tel.tp.Tracer("test").Start(context.Background(), "parent")
	_, err = s.Send(ctx, req, nil)
	parent.End()
	require.NoError(t, err)

	spans := tel.spans.Ended()
	require.Len(t, spans, 3, "two attempts and the parent")
	wantURL := "http://" + host + ":" + portText + "/hook?token=REDACTED&x=1"
	for i, span := range spans[:2] {
		assert.Equal(t, "POST", span.Name())
		assert.Equal(t, trace.SpanKindClient, span.SpanKind())
		assert.Equal(t, parent.SpanContext().SpanID(), span.Parent().SpanID(), "a child of the caller's span")
		assert.Equal(t, parent.SpanContext().TraceID(), span.SpanContext().TraceID())
		got := attrs(span.Attributes())
		assert.Equal(t, "POST", got["http.request.method"])
		assert.Equal(t, host, got["server.address"])
		assert.Equal(t, int64(port), got["server.port"])
		assert.Equal(t, wantURL, got["url.full"])
		assert.Equal(t, "key-otel", got["liquidhook.idempotency_key"])
		if i == 0 {
			assert.Equal(t, int64(503), got["http.response.status_code"])
			assert.Equal(t, "503", got["error.type"])
			assert.NotContains(t, got, "http.request.resend_count")
			assert.Equal(t, codes.Error, span.Status().Code)
			assert.Equal(t, "webhook: unsuccessful status 503", span.Status().Description)
		} else {
			assert.Equal(t, int64(200), got["http.response.status_code"])
			assert.NotContains(t, got, "error.type")
			assert.Equal(t, int64(1), got["http.request.resend_count"])
			assert.Equal(t, codes.Unset, span.Status().Code)
		}
	}

	counts, ok := tel.metric(t, "liquidhook.attempts").(metricdata.Sum[int64])
	require.True(t, ok)
	assert.True(t, counts.IsMonotonic)
	byOutcome := map[string]int64{}
	for _, dp := range counts.DataPoints {
		got := attrs(dp.Attributes.ToSlice())
		assert.Equal(t, "POST", got["http.request.method"])
		assert.Equal(t, host, got["server.address"])
		assert.Equal(t, int64(port), got["server.port"])
		key := got["liquidhook.attempt.outcome"].(string)
		if e, ok := got["error.type"]; ok {
			key += " " + e.(string)
		}
		byOutcome[key] += dp.Value
	}
	assert.Equal(t, map[string]int64{"failed 503": 1, "delivered": 1}, byOutcome)

	durations, ok := tel.metric(t, "liquidhook.attempt.duration").(metricdata.Histogram[float64])
	require.True(t, ok)
	var n uint64
	for _, dp := range durations.DataPoints {
		n += dp.Count
		assert.Positive(t, dp.Sum)
		assert.Less(t, dp.Sum, 2.0, "seconds, within the timeout")
	}
	assert.Equal(t, uint64(2), n)
}

// TestSendTelemetryErrorTypes: an attempt without a response has its
// ErrorClass as error.type and no status code.
func TestSendTelemetryErrorTypes(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + closed.Addr().String() + "/"
	closed.Close()
	open := newReceiver(t, status(200))

	for _, tc := range []struct {
		name         string
		url          string
		allowPrivate bool
		want         string
	}{
		{"connection refused", closedURL, true, "connection"},
		{"private address blocked", open.URL, false, "blocked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel := newTelemetry()
			s := &webhook.Sender{Key: []byte(testKey), AllowPrivate: tc.allowPrivate, RetryPolicy: webhook.NoRetry,
				TracerProvider: tel.tp, MeterProvider: tel.mp}
			_, err := s.Send(context.Background(), leadRequest(t, tc.url), nil)
			require.Error(t, err)
			spans := tel.spans.Ended()
			require.Len(t, spans, 1)
			got := attrs(spans[0].Attributes())
			assert.Equal(t, tc.want, got["error.type"])
			assert.NotContains(t, got, "http.response.status_code")
			assert.Equal(t, codes.Error, spans[0].Status().Code)
			counts := tel.metric(t, "liquidhook.attempts").(metricdata.Sum[int64])
			require.Len(t, counts.DataPoints, 1)
			point := attrs(counts.DataPoints[0].Attributes.ToSlice())
			assert.Equal(t, "failed", point["liquidhook.attempt.outcome"])
			assert.Equal(t, tc.want, point["error.type"])
		})
	}
}

// TestSendPropagation: without a propagator of the application's, a
// request carries no trace header; with one, it carries the attempt's own
// span context.
func TestSendPropagation(t *testing.T) {
	rc := newReceiver(t, status(200))
	tel := newTelemetry()
	s := testSender(0)
	s.TracerProvider = tel.tp
	_, err := s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.NoError(t, err)

	s.Propagator = propagation.TraceContext{}
	_, err = s.Send(context.Background(), leadRequest(t, rc.URL), nil)
	require.NoError(t, err)

	got := rc.seen()
	require.Len(t, got, 2)
	assert.Empty(t, got[0].header.Get("Traceparent"), "no trace header unless a propagator is set")
	spans := tel.spans.Ended()
	require.Len(t, spans, 2)
	sc := spans[1].SpanContext()
	assert.Equal(t, "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01", got[1].header.Get("Traceparent"))
	assert.True(t, got[1].verified, "the signature holds with the trace header")
}

// TestSendLogs: one record per attempt, at Warn for the one that failed
// and Debug for the one delivered, with the URL redacted and never a
// header value or the body.
func TestSendLogs(t *testing.T) {
	const (
		token   = "qs-secret-4711"
		auth    = "Bearer hdr-secret-555"
		private = "body-secret-321"
	)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	req, err := webhook.NewRequest("POST", rc.URL+"/hook?api_key="+token).
		Header("Authorization", auth).
		Body("application/json", []byte(`{"note": "`+private+`"}`)).
		IdempotencyKey("key-123").
		Build()
	require.NoError(t, err)
	logs := &records{}
	s := testSender(1)
	s.Logger = slog.New(logs)
	_, err = s.Send(context.Background(), req, nil)
	require.NoError(t, err)

	got := logs.get()
	require.Len(t, got, 2, "one record per attempt")
	assert.Equal(t, slog.LevelWarn, got[0].Level)
	assert.Equal(t, "webhook attempt failed", got[0].Message)
	assert.Equal(t, slog.LevelDebug, got[1].Level)
	assert.Equal(t, "webhook delivered", got[1].Message)
	first, second := recordAttrs(got[0]), recordAttrs(got[1])
	assert.Equal(t, "status", first["class"])
	assert.Equal(t, int64(502), first["status"])
	assert.Equal(t, "webhook: unsuccessful status 502", first["error"])
	assert.Equal(t, int64(2), second["attempt"])
	assert.Equal(t, "key-123", second["idempotency_key"])
	assert.Equal(t, rc.URL+"/hook?api_key=REDACTED", second["url"])
	for _, r := range got {
		r.Attrs(func(a slog.Attr) bool {
			for _, secret := range []string{token, auth, "hdr-secret-555", private} {
				assert.NotContains(t, a.Value.String(), secret, a.Key)
			}
			return true
		})
	}
}

// A Sender reports each attempt as a span, here to an SDK with a span
// recorder; an application installs its own SDK and exporter, usually as
// the global providers (otel.SetTracerProvider), which a Sender uses when
// its own are not set.
func ExampleSender_tracerProvider() {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer receiver.Close()

	spans := tracetest.NewSpanRecorder()
	sender := &webhook.Sender{
		Key:            []byte("signing-secret"),
		AllowPrivate:   true, // the receiver is on loopback
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
	}
	req, err := webhook.NewRequest("POST", receiver.URL+"/hook?token=secret").
		JSON(map[string]string{"event": "signup"}).
		IdempotencyKey("signup-42").
		Build()
	if err != nil {
		panic(err)
	}
	if _, err := sender.Send(context.Background(), req, nil); err != nil {
		panic(err)
	}

	for _, span := range spans.Ended() {
		fmt.Println(span.Name(), span.SpanKind())
		for _, kv := range span.Attributes() {
			switch kv.Key {
			case "url.full":
				fmt.Println(kv.Key, strings.TrimPrefix(kv.Value.AsString(), receiver.URL))
			case "server.port":
			default:
				fmt.Println(kv.Key, kv.Value.String())
			}
		}
	}
	// Output:
	// POST client
	// http.request.method POST
	// server.address 127.0.0.1
	// url.full /hook?token=REDACTED
	// liquidhook.idempotency_key signup-42
	// http.response.status_code 200
}
