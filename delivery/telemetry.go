package delivery

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"strconv"

	"github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/internal/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// A worker's spans, metrics and log records (see the package doc's
// Observability section).

// TraceID returns the id of the trace that holds the spans of d's attempts,
// in hex, as tracing backends show it. It is derived from the delivery's
// id and idempotency key, so every attempt of a delivery, whichever worker
// makes it and across retries, restarts and re-sends, lands in this one
// trace without the trace being stored anywhere.
func (d *Delivery) TraceID() string {
	return deliveryParent(d.ID, d.IdempotencyKey).TraceID().String()
}

// deliveryParent is the span context under which the spans of a delivery's
// attempts are made: a remote parent, marked sampled, whose trace id and
// span id are derived from the delivery's id and idempotency key. No span
// is ever recorded with its span id: the trace's root is this parent.
func deliveryParent(id int64, key string) trace.SpanContext {
	sum := sha256.Sum256([]byte("liquidhook delivery\x00" + strconv.FormatInt(id, 10) + "\x00" + key))
	var (
		tid trace.TraceID
		sid trace.SpanID
	)
	copy(tid[:], sum[:16])
	copy(sid[:], sum[16:24])
	// All zeros is the one invalid id of each kind.
	if !tid.IsValid() {
		tid[15] = 1
	}
	if !sid.IsValid() {
		sid[7] = 1
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    tid,
		SpanID:     sid,
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
}

// workerTelemetry reports a runner's attempts.
type workerTelemetry struct {
	tracer     trace.Tracer
	deliveries metric.Int64Counter
	lag        metric.Float64Histogram
	logger     *slog.Logger
}

// newWorkerTelemetry makes w's instruments, and gives its providers to the
// runner's copy of the Sender where the Sender has none of its own, so
// that the spans and metrics of the attempts go where the worker's go.
// The copy logs nothing: the worker logs each attempt itself, with the
// delivery's id and the attempt's number within its series.
func newWorkerTelemetry(w *Worker, sender *webhook.Sender, logger *slog.Logger) *workerTelemetry {
	if sender.TracerProvider == nil {
		sender.TracerProvider = w.TracerProvider
	}
	if sender.MeterProvider == nil {
		sender.MeterProvider = w.MeterProvider
	}
	sender.Logger = nil
	tp, mp := w.TracerProvider, w.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &workerTelemetry{
		tracer: tp.Tracer(telemetry.ScopeDelivery, trace.WithSchemaURL(semconv.SchemaURL)),
		logger: logger,
	}
	meter := mp.Meter(telemetry.ScopeDelivery, metric.WithSchemaURL(semconv.SchemaURL))
	var err error
	t.deliveries, err = meter.Int64Counter(telemetry.MetricDeliveries,
		metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries that a worker brought to a final state, by that state."))
	if err != nil {
		otel.Handle(err)
	}
	t.lag, err = meter.Float64Histogram(telemetry.MetricQueueLag,
		metric.WithUnit("s"),
		metric.WithDescription("How late attempts started: from when each was due to when it was sent."),
		metric.WithExplicitBucketBoundaries(telemetry.LagBuckets...))
	if err != nil {
		otel.Handle(err)
	}
	return t
}

// start starts the span of one job run at a claimed delivery, under the
// delivery's own parent (see TraceID), and records how late the attempt
// is. The returned context carries the span, and the attributes that the
// Sender adds to the span of the attempt it makes. End the span with end.
func (t *workerTelemetry) start(ctx context.Context, claim *claimOp) context.Context {
	c := &claim.c
	number := c.seriesAttempts + 1
	ctx = trace.ContextWithRemoteSpanContext(ctx, deliveryParent(c.id, c.key))
	ctx, _ = t.tracer.Start(ctx, "delivery attempt", trace.WithAttributes(
		telemetry.DeliveryID.Int64(c.id),
		telemetry.IdempotencyKey.String(c.key),
		telemetry.Series.Int(c.series),
		telemetry.Attempt.Int(number)))
	ctx = telemetry.WithAttributes(ctx, telemetry.DeliveryID.Int64(c.id),
		telemetry.Series.Int(c.series), telemetry.Attempt.Int(number))
	if c.interruptedAt == 0 && c.nextAt > 0 {
		t.lag.Record(ctx, max(claim.now.Sub(fromMicros(c.nextAt)), 0).Seconds())
	}
	return ctx
}

// end ends the span that start started.
func (t *workerTelemetry) end(ctx context.Context) { trace.SpanFromContext(ctx).End() }

// recorded reports an attempt that finish recorded, to url (before
// redaction; "" when the request was never made): on the span, in the
// log, at Debug or at Warn when it failed, and in the deliveries metric
// when it left its delivery in a final state.
func (t *workerTelemetry) recorded(ctx context.Context, c *claimed, f *finishOp, url string) {
	a := &f.attempt
	span := trace.SpanFromContext(ctx)
	if !f.lost {
		span.SetAttributes(telemetry.State.String(string(f.state)))
	}
	level, msg := slog.LevelDebug, "delivery: attempt"
	if a.Class != "" {
		level, msg = slog.LevelWarn, "delivery: attempt failed"
		errType := string(a.Class)
		if a.Class == webhook.ClassStatus && a.Status != 0 {
			errType = strconv.Itoa(a.Status)
		}
		span.SetAttributes(semconv.ErrorTypeKey.String(errType))
		span.SetStatus(codes.Error, a.Error)
	}
	if t.logger.Enabled(ctx, level) {
		attrs := []slog.Attr{
			slog.Int64("delivery_id", c.id),
			slog.Int("series", a.Series),
			slog.Int("attempt", a.Number),
			slog.String("idempotency_key", c.key),
		}
		if url != "" {
			attrs = append(attrs, slog.String("url", webhook.RedactURL(url)))
		}
		attrs = append(attrs, slog.Duration("duration", a.Duration))
		if a.Status != 0 {
			attrs = append(attrs, slog.Int("status", a.Status))
		}
		if a.Class != "" {
			attrs = append(attrs, slog.String("class", string(a.Class)), slog.String("error", a.Error))
		}
		if !f.lost {
			attrs = append(attrs, slog.String("state", string(f.state)))
			if f.state == StateScheduled {
				attrs = append(attrs, slog.Duration("retry_in", a.Wait))
			}
		}
		t.logger.LogAttrs(ctx, level, msg, attrs...)
	}
	if !f.lost && (f.state == StateDelivered || f.state == StateFailed) {
		t.finished(ctx, f.state)
	}
}

// orphaned reports a delivery failed because its job ended without
// recording an outcome.
func (t *workerTelemetry) orphaned(ctx context.Context, o *orphan) {
	t.logger.WarnContext(ctx, "delivery: failed", "delivery_id", o.id, "state", string(StateFailed), "error", o.why())
	t.finished(ctx, StateFailed)
}

// finished counts a delivery that reached final state s.
func (t *workerTelemetry) finished(ctx context.Context, s State) {
	t.deliveries.Add(ctx, 1, metric.WithAttributes(telemetry.State.String(string(s))))
}
