package webhooktest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/webhooktest"
)

func TestNewRequestVerifies(t *testing.T) {
	cioKey := []byte("test-signing-key")
	stdKey := []byte("0123456789abcdef01234567")
	body := []byte(`{"customer":{"id":"42"}}`)
	tests := []struct {
		name    string
		signer  webhook.Signer
		v       *webhook.Verifier
		at      time.Time
		wantErr error
	}{
		{"cio now", webhook.CIOSigner{Key: cioKey}, &webhook.Verifier{Keys: [][]byte{cioKey}}, time.Now(), nil},
		{"standard now", webhook.StandardSigner{Keys: [][]byte{stdKey}}, &webhook.Verifier{Keys: [][]byte{stdKey}, Scheme: webhook.SchemeStandard}, time.Now(), nil},
		{"cio stale", webhook.CIOSigner{Key: cioKey}, &webhook.Verifier{Keys: [][]byte{cioKey}}, time.Now().Add(-time.Hour), webhook.ErrTimestampTooOld},
		{"standard ahead", webhook.StandardSigner{Keys: [][]byte{stdKey}}, &webhook.Verifier{Keys: [][]byte{stdKey}, Scheme: webhook.SchemeStandard}, time.Now().Add(time.Hour), webhook.ErrTimestampTooNew},
		{"other key", webhook.CIOSigner{Key: []byte("other")}, &webhook.Verifier{Keys: [][]byte{cioKey}}, time.Now(), webhook.ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := webhooktest.NewRequestAt(http.MethodPost, "/hooks", body, tt.signer, tt.at)
			assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
			key := req.Header.Get(webhook.HeaderIdempotencyKey)
			assert.Len(t, key, 36)

			var rejected error
			tt.v.OnReject = func(_ *http.Request, err error) { rejected = err }
			var got webhook.Verified
			var gotBody []byte
			h := tt.v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = webhook.VerifiedFromContext(r.Context())
				gotBody, _ = io.ReadAll(r.Body)
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if tt.wantErr != nil {
				assert.Equal(t, http.StatusUnauthorized, rec.Code)
				assert.ErrorIs(t, rejected, tt.wantErr)
				return
			}
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, body, gotBody)
			assert.Equal(t, key, got.IdempotencyKey)
			assert.Equal(t, tt.at.Unix(), got.Timestamp.Unix())
		})
	}
}

func TestNewRequestSignsNow(t *testing.T) {
	before := time.Now().Unix()
	req := webhooktest.NewRequest(http.MethodPost, "/", nil, webhook.CIOSigner{Key: []byte("k")})
	ts := req.Header.Get(webhook.HeaderTimestamp)
	require.NotEmpty(t, ts)
	v := &webhook.Verifier{Keys: [][]byte{[]byte("k")}, Tolerance: time.Second,
		Now: func() time.Time { return time.Unix(before, 0) }}
	_, err := v.Verify(req.Header, nil)
	assert.NoError(t, err, "NewRequest must sign with the current time")
}

func TestNewRequestPanicsOnBadSigner(t *testing.T) {
	assert.PanicsWithValue(t, "webhooktest: signing: webhook: no signing key", func() {
		webhooktest.NewRequest(http.MethodPost, "/", nil, webhook.CIOSigner{})
	})
	assert.Panics(t, func() { webhooktest.NewRequest(http.MethodPost, "/", nil, nil) })
}
