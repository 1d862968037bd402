package main

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadLimited(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr error
	}{
		{"under the limit", writeFile(t, dir, "short", "abc"), "abc", nil},
		{"at the limit", writeFile(t, dir, "exact", "abcd"), "abcd", nil},
		{"one byte over", writeFile(t, dir, "long", "abcde"), "", errTooLarge},
		{"missing", filepath.Join(dir, "nope"), "", fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readFileLimited(tt.path, 4)
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.want, string(got))
		})
	}
	_, err := readLimited(strings.NewReader(strings.Repeat("x", 5)), 4)
	require.ErrorIs(t, err, errTooLarge, "standard input is bounded too")
}
