package delivery

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// memoryTelemetry is an in-memory SDK: a span recorder and a metric
// reader.
type memoryTelemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newMemoryTelemetry() *memoryTelemetry {
	m := &memoryTelemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	m.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(m.spans))
	m.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(m.reader))
	return m
}

// points returns the data points of the metric named name, as their
// attributes' values with the point's value (a count for a histogram)
// under "value".
func (m *memoryTelemetry) points(t *testing.T, name string) []map[string]any {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, m.reader.Collect(context.Background(), &rm))
	var out []map[string]any
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			if metric.Name != name {
				continue
			}
			switch data := metric.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range data.DataPoints {
					p := attrValues(dp.Attributes.ToSlice())
					p["value"] = dp.Value
					out = append(out, p)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					p := attrValues(dp.Attributes.ToSlice())
					p["value"] = int64(dp.Count)
					p["sum"] = dp.Sum
					out = append(out, p)
				}
			default:
				t.Fatalf("%s: unexpected data %T", name, data)
			}
		}
	}
	return out
}

func attrValues(kvs []attribute.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

// logRecords is a slog.Handler that keeps every record.
type logRecords struct {
	mu  sync.Mutex
	all []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecords) WithGroup(string) slog.Handler            { return h }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.all = append(h.all, r.Clone())
	return nil
}

// attempts returns the records of attempts, as their message with their
// attributes' values.
func (h *logRecords) attempts() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for _, r := range h.all {
		if !strings.HasPrefix(r.Message, "delivery: attempt") {
			continue
		}
		m := map[string]any{"msg": r.Message, "level": r.Level}
		r.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.Resolve().Any()
			return true
		})
		out = append(out, m)
	}
	return out
}

// TestWorkerTelemetry: each job run is a span under the delivery's own
// trace (Delivery.TraceID), across retries and re-sends, with the Sender's
// client span of its attempt inside it carrying the delivery's id; the
// worker counts deliveries by final state and records the queue lag; and
// it logs each attempt, at Warn when it failed, with the URL redacted.
func TestWorkerTelemetry(t *testing.T) {
	t.Parallel()
	const (
		password = "pw-otel-31337"
		token    = "qs-otel-4242"
	)
	forEachBackend(t, func(t *testing.T, q *Queue) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, `{"id": "lead-1"}`)
		})
		target := strings.Replace(rc.URL, "http://", "http://user:"+password+"@", 1)
		action, err := webhook.Compile(webhook.Spec{
			URL:     target + "/hook?token=" + token,
			Body:    `{"email": "{{ customer.email }}"}`,
			Sending: webhook.SendingAutomatic,
		})
		require.NoError(t, err)
		d := mustEnqueue(t, q, action, customer("a@example.com"), nil)

		tel := newMemoryTelemetry()
		logs := &logRecords{}
		w := testWorker(3)
		w.TracerProvider, w.MeterProvider = tel.tp, tel.mp
		w.Logger = slog.New(logs)
		workUntilIdle(t, q, w)
		_, err = q.Resend(context.Background(), d.ID, nil)
		require.NoError(t, err)
		workUntilIdle(t, q, w)

		spans := tel.spans.Ended()
		var runs, clients []sdktrace.ReadOnlySpan
		for _, s := range spans {
			switch s.Name() {
			case "delivery attempt":
				runs = append(runs, s)
			case "POST":
				clients = append(clients, s)
			}
		}
		require.Len(t, runs, 3, "two attempts, then one after the re-send")
		require.Len(t, clients, 3)
		parent := deliveryParent(d.ID, d.IdempotencyKey)
		wantURL := rc.URL + "/hook?token=REDACTED"
		for i, run := range runs {
			assert.Equal(t, d.TraceID(), run.SpanContext().TraceID().String(), "one trace for the delivery")
			assert.Equal(t, parent.SpanID(), run.Parent().SpanID())
			got := attrValues(run.Attributes())
			assert.Equal(t, d.ID, got["liquidhook.delivery.id"])
			assert.Equal(t, d.IdempotencyKey, got["liquidhook.idempotency_key"])
			client := clients[i]
			assert.Equal(t, run.SpanContext().SpanID(), client.Parent().SpanID(), "the attempt's span is the run's child")
			assert.Equal(t, run.SpanContext().TraceID(), client.SpanContext().TraceID())
			c := attrValues(client.Attributes())
			assert.Equal(t, d.ID, c["liquidhook.delivery.id"])
			assert.Equal(t, wantURL, c["url.full"])
			assert.Equal(t, "127.0.0.1", c["server.address"])
		}
		first, second, resent := attrValues(runs[0].Attributes()), attrValues(runs[1].Attributes()), attrValues(runs[2].Attributes())
		assert.Equal(t, []any{int64(1), int64(1), "scheduled", "503"},
			[]any{first["liquidhook.delivery.series"], first["liquidhook.delivery.attempt"], first["liquidhook.delivery.state"], first["error.type"]})
		assert.Equal(t, codes.Error, runs[0].Status().Code)
		assert.Equal(t, []any{int64(1), int64(2), "delivered", nil},
			[]any{second["liquidhook.delivery.series"], second["liquidhook.delivery.attempt"], second["liquidhook.delivery.state"], second["error.type"]})
		assert.Equal(t, codes.Unset, runs[1].Status().Code)
		assert.Equal(t, []any{int64(2), int64(1), "delivered"},
			[]any{resent["liquidhook.delivery.series"], resent["liquidhook.delivery.attempt"], resent["liquidhook.delivery.state"]})

		assert.Equal(t, []map[string]any{{"liquidhook.delivery.state": "delivered", "value": int64(2)}},
			tel.points(t, "liquidhook.deliveries"), "delivered twice: once, and once re-sent")
		lag := tel.points(t, "liquidhook.delivery.lag")
		require.Len(t, lag, 1)
		assert.Equal(t, int64(3), lag[0]["value"], "one lag per attempt sent")
		assert.GreaterOrEqual(t, lag[0]["sum"], 0.0)
		var byOutcome []string
		for _, p := range tel.points(t, "liquidhook.attempts") {
			byOutcome = append(byOutcome, p["liquidhook.attempt.outcome"].(string)+" "+itoa(int(p["value"].(int64))))
		}
		assert.ElementsMatch(t, []string{"failed 1", "delivered 2"}, byOutcome, "the Sender's metrics went to the Worker's provider")

		records := logs.attempts()
		require.Len(t, records, 3)
		assert.Equal(t, slog.LevelWarn, records[0]["level"])
		assert.Equal(t, "delivery: attempt failed", records[0]["msg"])
		assert.Equal(t, d.ID, records[0]["delivery_id"])
		assert.Equal(t, int64(503), records[0]["status"])
		assert.Equal(t, "status", records[0]["class"])
		assert.Equal(t, "scheduled", records[0]["state"])
		assert.Equal(t, wantURL, records[0]["url"])
		assert.Equal(t, slog.LevelDebug, records[1]["level"])
		assert.Equal(t, "delivery: attempt", records[1]["msg"])
		assert.Equal(t, int64(2), records[1]["attempt"])
		assert.Equal(t, "delivered", records[1]["state"])
		for _, r := range records {
			for k, v := range r {
				if s, ok := v.(string); ok {
					assert.NotContains(t, s, password, k)
					assert.NotContains(t, s, token, k)
				}
			}
		}
	})
}

// TestWorkerTelemetryFailed: a delivery that fails for good is counted as
// failed, and its attempts are logged by the Worker, not by its Sender's
// logger.
func TestWorkerTelemetryFailed(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusBadRequest)
	})
	enqueueOne(t, q, rc.URL)
	tel := newMemoryTelemetry()
	senderLogs, workerLogs := &logRecords{}, &logRecords{}
	w := testWorker(3)
	w.MeterProvider = tel.mp
	w.Sender.Logger = slog.New(senderLogs)
	w.Logger = slog.New(workerLogs)
	workUntilIdle(t, q, w)
	assert.Equal(t, []map[string]any{{"liquidhook.delivery.state": "failed", "value": int64(1)}},
		tel.points(t, "liquidhook.deliveries"))
	assert.Empty(t, senderLogs.attempts())
	senderLogs.mu.Lock()
	assert.Empty(t, senderLogs.all, "the Sender's logger hears nothing")
	senderLogs.mu.Unlock()
	records := workerLogs.attempts()
	require.Len(t, records, 1, "a 400 is final")
	assert.Equal(t, "failed", records[0]["state"])
	assert.Equal(t, int64(400), records[0]["status"])
}

// TestDeliveryTraceID: the trace id is 32 hex digits, the same for a
// delivery whatever else changes, and another for another delivery or key.
func TestDeliveryTraceID(t *testing.T) {
	a := &Delivery{ID: 7, IdempotencyKey: "key-1", State: StateDelivered}
	b := &Delivery{ID: 7, IdempotencyKey: "key-1", State: StateScheduled, Series: 3}
	assert.Regexp(t, `^[0-9a-f]{32}$`, a.TraceID())
	assert.Equal(t, a.TraceID(), b.TraceID())
	assert.NotEqual(t, a.TraceID(), (&Delivery{ID: 8, IdempotencyKey: "key-1"}).TraceID())
	assert.NotEqual(t, a.TraceID(), (&Delivery{ID: 7, IdempotencyKey: "key-2"}).TraceID())
	p := deliveryParent(7, "key-1")
	assert.True(t, p.IsValid())
	assert.True(t, p.IsRemote())
	assert.True(t, p.IsSampled())
}
