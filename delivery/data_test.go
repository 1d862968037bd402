package delivery

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeDataRendersWhatTheWorkerWill(t *testing.T) {
	t.Parallel()
	type plan struct {
		Name  string `json:"name"`
		Seats int    `json:"seats"`
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   map[string]any
		want map[string]any
	}{
		{"nil is an empty object", nil, map[string]any{}},
		{"numbers as the CLI decodes them", map[string]any{"n": int64(7), "f": 2.5, "big": 1e21},
			map[string]any{"n": 7, "f": 2.5, "big": 1e21}},
		{"structs and times become JSON", map[string]any{"plan": plan{"team", 5}, "at": at},
			map[string]any{"plan": map[string]any{"name": "team", "seats": 5}, "at": "2025-03-01T12:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored, decoded, err := encodeData(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, decoded)
			again, err := decodeData([]byte(stored))
			require.NoError(t, err)
			assert.Equal(t, decoded, again, "what is stored decodes to what was checked")
		})
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "dial tcp: refused", "dial tcp: refused"},
		{"NUL removed", "a\x00b", "ab"},
		{"invalid UTF-8 replaced", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, cleanText(tt.in))
		})
	}
	long := cleanText("x" + strings.Repeat("é", 1000)) // 2,001 bytes; 1 KiB splits an é
	assert.Len(t, long, 1023)
	assert.True(t, utf8.ValidString(long))
}
