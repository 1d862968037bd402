package webhook

import (
	"crypto/tls"
	"net/http"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDefaultTransport: what a Sender's own transport is made of, from its
// settings. The environment's proxy variables are not read unless Proxy
// says so.
func TestDefaultTransport(t *testing.T) {
	cfg := &tls.Config{ServerName: "api.example.com"}
	s := &Sender{Timeout: 3 * time.Second, TLSConfig: cfg}
	rt := s.defaultTransport(s.state())
	tr, ok := rt.(*http.Transport)
	require.True(t, ok, "without a Proxy, the transport itself")
	assert.Nil(t, tr.Proxy, "no proxy, from the environment or elsewhere")
	assert.True(t, tr.ForceAttemptHTTP2)
	assert.Equal(t, 3*time.Second, tr.TLSHandshakeTimeout)
	assert.Equal(t, 3*time.Second, tr.ResponseHeaderTimeout)
	assert.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 300, "a delivery worker's concurrency")
	assert.NotZero(t, tr.MaxIdleConns, "bounded for all hosts")
	assert.NotZero(t, tr.IdleConnTimeout)
	assert.Equal(t, int64(1<<20), tr.MaxResponseHeaderBytes)
	require.NotNil(t, tr.TLSClientConfig)
	assert.NotSame(t, cfg, tr.TLSClientConfig, "cloned")
	assert.Equal(t, "api.example.com", tr.TLSClientConfig.ServerName)
	assert.Same(t, rt, s.defaultTransport(s.state()), "made once")

	proxied := &Sender{Proxy: http.ProxyFromEnvironment}
	_, isTransport := proxied.defaultTransport(proxied.state()).(*http.Transport)
	assert.False(t, isTransport, "with a Proxy, behind the route that tells the proxy's dial apart")
}

// TestDefaultTransportGoesWithItsSender: the transport of a Sender that is
// no longer reachable is dropped, so the map of senders holds no more
// than the Senders alive.
func TestDefaultTransportGoesWithItsSender(t *testing.T) {
	s := &Sender{}
	s.defaultTransport(s.state())
	key := weak.Make(s)
	_, ok := senders.Load(key)
	require.True(t, ok)
	s = nil
	for i := 0; i < 100 && ok; i++ {
		runtime.GC()
		runtime.Gosched()
		_, ok = senders.Load(key)
	}
	assert.False(t, ok, "still held after the Sender was collected")
}
