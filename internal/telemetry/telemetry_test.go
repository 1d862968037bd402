package telemetry

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel/attribute"
)

// TestWithAttributes: attributes added through nested contexts come out in
// order, and adding to one context leaves its parent's and its siblings'
// alone.
func TestWithAttributes(t *testing.T) {
	assert.Nil(t, Attributes(context.Background()))
	parent := WithAttributes(context.Background(), DeliveryID.Int64(7))
	a := WithAttributes(parent, Series.Int(1))
	b := WithAttributes(parent, Series.Int(2), Attempt.Int(3))
	assert.Equal(t, []attribute.KeyValue{DeliveryID.Int64(7)}, Attributes(parent))
	assert.Equal(t, []attribute.KeyValue{DeliveryID.Int64(7), Series.Int(1)}, Attributes(a))
	assert.Equal(t, []attribute.KeyValue{DeliveryID.Int64(7), Series.Int(2), Attempt.Int(3)}, Attributes(b))
}

// TestBucketsAscend: histogram boundaries must increase.
func TestBucketsAscend(t *testing.T) {
	for name, buckets := range map[string][]float64{"duration": DurationBuckets, "lag": LagBuckets} {
		for i := 1; i < len(buckets); i++ {
			assert.Less(t, buckets[i-1], buckets[i], "%s bucket %d", name, i)
		}
	}
}
