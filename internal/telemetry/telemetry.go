// Package telemetry holds what the webhook and delivery packages share to
// report through OpenTelemetry: the names of liquidhook's own attributes
// and metrics, and the attributes that a caller of Sender.Send adds to the
// spans of its attempts through the context.
package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
)

// Scope names the instrumentation scope of each package's tracer and
// meter.
const (
	ScopeWebhook  = "github.com/liquidhook/webhook"
	ScopeDelivery = "github.com/liquidhook/webhook/delivery"
)

// Attribute keys of liquidhook's own, beside OpenTelemetry's semantic
// conventions.
const (
	// IdempotencyKey is the request's idempotency key.
	IdempotencyKey = attribute.Key("liquidhook.idempotency_key")
	// Outcome is an attempt's outcome: "delivered" or "failed".
	Outcome = attribute.Key("liquidhook.attempt.outcome")
	// DeliveryID is a delivery's id in the delivery log.
	DeliveryID = attribute.Key("liquidhook.delivery.id")
	// Series is the delivery's series of attempts: 1, then one more for
	// each re-send.
	Series = attribute.Key("liquidhook.delivery.series")
	// Attempt is an attempt's number within its series, from 1.
	Attempt = attribute.Key("liquidhook.delivery.attempt")
	// State is the state an attempt leaves its delivery in, or the final
	// state a delivery reached.
	State = attribute.Key("liquidhook.delivery.state")
)

// Outcomes of an attempt.
const (
	OutcomeDelivered = "delivered"
	OutcomeFailed    = "failed"
)

// Metric names.
const (
	// MetricAttempts counts the attempts a Sender made, by outcome and
	// error type.
	MetricAttempts = "liquidhook.attempts"
	// MetricAttemptDuration is the duration of an attempt, in seconds:
	// from the start of the request to the end of the response body.
	MetricAttemptDuration = "liquidhook.attempt.duration"
	// MetricDeliveries counts the deliveries that a delivery worker
	// brought to a final state, by that state.
	MetricDeliveries = "liquidhook.deliveries"
	// MetricQueueLag is how late an attempt of a delivery worker started,
	// in seconds: from when it was due to when it was sent.
	MetricQueueLag = "liquidhook.delivery.lag"
)

// DurationBuckets are the bucket boundaries, in seconds, of duration
// histograms: those the HTTP semantic conventions advise for request
// durations, up to the default attempt timeout and a little beyond.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// LagBuckets are the bucket boundaries, in seconds, of the queue lag
// histogram: from a busy worker's milliseconds to the hour of a backlog.
var LagBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

type attributesKey struct{}

// WithAttributes returns a context whose attempts' spans carry attrs too,
// after any that ctx already adds.
func WithAttributes(ctx context.Context, attrs ...attribute.KeyValue) context.Context {
	if prev := Attributes(ctx); len(prev) > 0 {
		attrs = append(append([]attribute.KeyValue(nil), prev...), attrs...)
	}
	return context.WithValue(ctx, attributesKey{}, attrs)
}

// Attributes returns the attributes that ctx adds to the spans of
// attempts, or nil.
func Attributes(ctx context.Context) []attribute.KeyValue {
	attrs, _ := ctx.Value(attributesKey{}).([]attribute.KeyValue)
	return attrs
}
