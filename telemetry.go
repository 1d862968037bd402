package webhook

import (
	"context"
	"strconv"

	"github.com/liquidhook/webhook/internal/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// A Sender's traces and metrics, through OpenTelemetry's API (see the
// package doc's Observability section for what is reported).

// instruments are what a Sender reports through, made once per Sender
// from its providers.
type instruments struct {
	tracer    trace.Tracer
	startOpts []trace.SpanStartOption
	attempts  metric.Int64Counter
	duration  metric.Float64Histogram
}

func newInstruments(tp trace.TracerProvider, mp metric.MeterProvider) *instruments {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	in := &instruments{
		tracer:    tp.Tracer(telemetry.ScopeWebhook, trace.WithSchemaURL(semconv.SchemaURL)),
		startOpts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)},
	}
	meter := mp.Meter(telemetry.ScopeWebhook, metric.WithSchemaURL(semconv.SchemaURL))
	var err error
	in.attempts, err = meter.Int64Counter(telemetry.MetricAttempts,
		metric.WithUnit("{attempt}"),
		metric.WithDescription("Webhook attempts, by outcome and error type."))
	if err != nil {
		otel.Handle(err)
	}
	in.duration, err = meter.Float64Histogram(telemetry.MetricAttemptDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of webhook attempts, from the request to the end of the response body."),
		metric.WithExplicitBucketBoundaries(telemetry.DurationBuckets...))
	if err != nil {
		otel.Handle(err)
	}
	return in
}

// startAttempt starts the span of attempt n at p, a child of the span in
// ctx. Its attributes are computed only for a span that is recorded, so
// that a Sender without an SDK pays for none of them: a sampler does not
// see them.
func (in *instruments) startAttempt(ctx context.Context, p *preparedRequest, n int) (context.Context, trace.Span) {
	ctx, span := in.tracer.Start(ctx, p.method, in.startOpts...)
	if !span.IsRecording() {
		return ctx, span
	}
	span.SetAttributes(
		semconv.HTTPRequestMethodKey.String(p.method),
		semconv.ServerAddress(p.url.Hostname()),
		semconv.ServerPort(port(p.url.Scheme, p.url.Port())),
		semconv.URLFull(RedactURL(p.rawURL)))
	if p.key != "" {
		span.SetAttributes(telemetry.IdempotencyKey.String(p.key))
	}
	if n > 1 {
		span.SetAttributes(semconv.HTTPRequestResendCount(n - 1))
	}
	span.SetAttributes(telemetry.Attributes(ctx)...)
	return ctx, span
}

// endAttempt records attempt a at p: it ends the span started for it and
// adds it to the metrics.
func (in *instruments) endAttempt(ctx context.Context, span trace.Span, p *preparedRequest, a *Attempt) {
	errType := attemptErrorType(a)
	if span.IsRecording() {
		if a.Status != 0 {
			span.SetAttributes(semconv.HTTPResponseStatusCode(a.Status))
		}
		if errType != "" {
			span.SetAttributes(semconv.ErrorTypeKey.String(errType))
			msg := string(a.Class)
			if a.Err != nil {
				msg = a.Err.Error()
			}
			span.SetStatus(codes.Error, msg)
		}
	}
	span.End()

	if !in.attempts.Enabled(ctx) && !in.duration.Enabled(ctx) {
		return
	}
	outcome := telemetry.OutcomeDelivered
	if a.Class != "" {
		outcome = telemetry.OutcomeFailed
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(p.method),
		semconv.ServerAddress(p.url.Hostname()),
		semconv.ServerPort(port(p.url.Scheme, p.url.Port())),
		telemetry.Outcome.String(outcome))
	if a.Status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(a.Status))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	set := metric.WithAttributeSet(attribute.NewSet(attrs...))
	in.attempts.Add(ctx, 1, set)
	in.duration.Record(ctx, a.Duration.Seconds(), set)
}

// attemptErrorType is an attempt's error.type: the status code of a non-2xx
// response, as the HTTP semantic conventions have it, or its ErrorClass;
// "" when it was delivered.
func attemptErrorType(a *Attempt) string {
	switch {
	case a.Class == "":
		return ""
	case a.Class == ClassStatus && a.Status != 0:
		return strconv.Itoa(a.Status)
	}
	return string(a.Class)
}

// inject puts ctx's trace context into h with p, or with the global
// propagator when p is nil, which writes nothing unless the application
// has set one.
func inject(ctx context.Context, p propagation.TextMapPropagator, h map[string][]string) {
	if p == nil {
		p = otel.GetTextMapPropagator()
	}
	p.Inject(ctx, propagation.HeaderCarrier(h))
}

// port is the port a URL with scheme and port (maybe empty) is reached at.
func port(scheme, p string) int {
	if p == "" {
		if scheme == "https" {
			return 443
		}
		return 80
	}
	n, _ := strconv.Atoi(p)
	return n
}
