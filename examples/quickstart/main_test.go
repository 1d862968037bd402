package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
)

func TestQuickstart(t *testing.T) {
	t.Setenv("LIQUIDHOOK_SIGNING_KEY", "")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	got := out.String()
	assert.Contains(t, got, "sender:   attempt 1: status 503, failed (status)")
	assert.Contains(t, got, "retrying in 1s (Retry-After 1s)")
	assert.Contains(t, got, "sender:   attempt 2: status 201, delivered")
	assert.Contains(t, got, `attributes {"close_lead_id":"lead_EQ9nP2yXk4","close_status":"Potential"}`)
	assert.NotContains(t, got, "refused")
	assert.NotContains(t, got, "YOUR-API-KEY", "the URL's credentials are never printed")

	// Both attempts carried the same idempotency key.
	keys := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`).FindAllString(got, -1)
	require.Len(t, keys, 2)
	assert.Equal(t, keys[0], keys[1])
}

// TestQuickstartReceiverRefusesForgeries checks the receiver's middleware:
// a request signed with another key never reaches the handler.
func TestQuickstartReceiverRefusesForgeries(t *testing.T) {
	var out bytes.Buffer
	addr, stop, err := startReceiver(&out, []byte("the-real-key"))
	require.NoError(t, err)
	defer stop()

	body := []byte(`{"name": "Mallory Inc"}`)
	req, err := http.NewRequest("POST", "http://"+addr+"/api/v1/lead/", bytes.NewReader(body))
	require.NoError(t, err)
	webhook.CIOSigner{Key: []byte("a-guessed-key")}.SignHeader(req.Header, "", time.Now().Unix(), body)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, out.String(), "receiver: refused")
	assert.NotContains(t, out.String(), "created a lead")
}
