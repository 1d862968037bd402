package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSentTab(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, pw, filepath.Join(t.TempDir(), "deliveries.db"), "127.0.0.1:0")
		pw.Close()
	}()

	// Read what it prints up to the page's URL.
	var printed strings.Builder
	urlLine := regexp.MustCompile(`^http://127\.0\.0\.1:\d+/$`)
	sc := bufio.NewScanner(pr)
	page := ""
	for page == "" && sc.Scan() {
		printed.WriteString(sc.Text() + "\n")
		if urlLine.MatchString(sc.Text()) {
			page = sc.Text()
		}
	}
	require.NotEmpty(t, page, "no URL printed; printed:\n%s", printed.String())
	go io.Copy(io.Discard, pr)
	assert.Contains(t, printed.String(), "queued: delivery 4 for kathy (draft)")

	get := func(path string) string {
		resp, err := http.Get(page + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	list := get("")
	for _, want := range []string{
		`all <span class="count">4</span>`,
		`draft <span class="count">1</span>`,
		`delivered <span class="count">2</span>`,
		`failed <span class="count">1</span>`,
	} {
		assert.Contains(t, list, want)
	}
	billing := get("deliveries/2")
	assert.Contains(t, billing, `<tr id="attempt-1-1">`, "the 503")
	assert.Contains(t, billing, `<tr id="attempt-1-2">`, "the retry that delivered")
	assert.Contains(t, billing, "inv_1", "the mapped attribute")
	for _, secret := range []string{"billing-password", "billing-query-key", "billing-header-key"} {
		assert.NotContains(t, billing, secret)
	}
	assert.Contains(t, get("deliveries/3"), `<tr id="attempt-1-3">`, "the failure, after its retries")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the example did not stop")
	}
}
