package tbtest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunRecords(t *testing.T) {
	tests := []struct {
		name         string
		f            func(t testing.TB)
		wantReturned bool
		wantErrors   []string
		wantLogs     []string
	}{
		{"passes", func(t testing.TB) { t.Log("a", 1) }, true, nil, []string{"a 1"}},
		{"errors and goes on", func(t testing.TB) {
			t.Errorf("one %d", 1)
			t.Error("two")
			t.Logf("after")
		}, true, []string{"one 1", "two"}, []string{"after"}},
		{"fatal stops", func(t testing.TB) {
			t.Fatalf("stop %s", "here")
			t.Log("never")
		}, false, []string{"stop here"}, nil},
		{"FailNow stops", func(t testing.TB) {
			t.FailNow()
			t.Error("never")
		}, false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := New()
			defer tb.Finish()
			assert.Equal(t, tt.wantReturned, tb.Run(tt.f))
			assert.Equal(t, !tt.wantReturned, tb.Stopped())
			assert.Equal(t, tt.wantErrors, tb.Errors())
			assert.Equal(t, tt.wantLogs, tb.Logs())
			assert.Equal(t, len(tt.wantErrors) > 0 || !tt.wantReturned, tb.Failed())
		})
	}
}

func TestFinishRunsCleanupsLastFirst(t *testing.T) {
	tb := New()
	var order []string
	var dir string
	tb.Run(func(t testing.TB) {
		dir = t.TempDir()
		t.Cleanup(func() {
			order = append(order, "first")
			assert.Error(t, t.Context().Err(), "the context ends before cleanups run")
		})
		t.Cleanup(func() {
			order = append(order, "second")
			t.Cleanup(func() { order = append(order, "added by a cleanup") })
			t.Fatal("a cleanup's Fatal ends that cleanup only")
		})
	})
	require.DirExists(t, dir)
	require.NoError(t, tb.Context().Err())
	tb.Finish()
	assert.Equal(t, []string{"second", "added by a cleanup", "first"}, order)
	assert.NoDirExists(t, dir)
	assert.Equal(t, []string{"a cleanup's Fatal ends that cleanup only"}, tb.Errors())
}

func TestExamplePrintsFailures(t *testing.T) {
	var out strings.Builder
	runPrinting(&out, func(t testing.TB) {
		t.Cleanup(func() { t.Error("in cleanup") })
		t.Fatal("stopped")
	})
	assert.Equal(t, "FAIL: stopped\nFAIL: in cleanup\n", out.String())
}
