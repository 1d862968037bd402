package delivery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envBrowser names the variable that holds the path of a Chromium binary
// (/usr/bin/chromium): it switches the browser test on.
const envBrowser = "LIQUIDHOOK_TEST_BROWSER"

// envScreenshots, if set, names a folder where the browser test leaves a
// screenshot of each page it checks, to look at.
const envScreenshots = "LIQUIDHOOK_TEST_SCREENSHOTS"

// TestSentTabInBrowser drives the Sent tab in a real headless Chromium, as
// a person would, with a worker sending to a local receiver: it opens the
// list, opens a draft and releases it, then re-sends a delivered delivery
// and sees the new attempt appear. The pages reload themselves while work
// is running; that is what the test waits on.
func TestSentTabInBrowser(t *testing.T) {
	browser := os.Getenv(envBrowser)
	if browser == "" {
		t.Skip(envBrowser + " is unset: skipping the browser test (set it to a Chromium binary, such as /usr/bin/chromium)")
	}
	q, _ := openSQLiteTest(t)
	rc := newReceiver(t, nil)
	sent := enqueueOne(t, q, rc.URL)
	draft := mustEnqueue(t, q, testAction(t, rc.URL, webhook.SendingDraft), customer("b@example.com"), &EnqueueOptions{
		Metadata: map[string]string{"person": "grace"},
	})

	workCtx, stopWork := context.WithCancel(context.Background())
	worked := make(chan error, 1)
	go func() { worked <- q.Work(workCtx, testWorker(3)) }()
	t.Cleanup(func() {
		stopWork()
		require.NoError(t, <-worked)
	})

	mux := http.NewServeMux()
	mux.Handle("/sent/", http.StripPrefix("/sent", NewHandler(q, &HandlerOptions{Refresh: time.Second})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // as root, and inside the test's own throwaway profile
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// A bound for a browser that hangs; every wait below ends on a
	// change in the page.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)

	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err)
		return strings.TrimSpace(s)
	}
	shot := func(name string) {
		t.Helper()
		dir := os.Getenv(envScreenshots)
		if dir == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
	}
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
	row := func(d *Delivery) string { return "#delivery-" + itoa(int(d.ID)) }

	// The list: the worker delivers the first while the page reloads.
	do(chromedp.Navigate(srv.URL+"/sent/"),
		visible(row(sent)+" .st-delivered"),
		visible(row(draft)+" .st-draft"))
	shot("list")

	// The draft's page: release it, and watch it be delivered.
	do(click(row(draft)+" td.id a"), visible(".title h1"))
	assert.Equal(t, "Delivery #"+itoa(int(draft.ID)), text(".title h1"))
	do(click(`form[action$="/release"] button`), visible(".banner.done"))
	assert.Contains(t, text(".banner.done"), "Released")
	do(visible(".title .st-delivered"), visible("#attempt-1-1 .s-ok"))
	shot("released")

	// Back to the list, then re-send the first delivery.
	do(click(".back a"),
		visible(row(draft)+" .st-delivered"),
		click(row(sent)+" td.id a"),
		visible("#attempt-1-1"),
		click(`form[action$="/resend"] button`),
		visible("#attempt-2-1 .s-ok"),
		visible(".title .st-delivered"))
	assert.Equal(t, "200", text("#attempt-2-1 .status"))
	location, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, srv.URL+"/sent/deliveries/"+itoa(int(sent.ID))+"?done=resend", location)
	shot("resent")

	seen := rc.seen()
	require.Len(t, seen, 3, "the first delivery, the released draft, the re-send")
	assert.Equal(t, sent.IdempotencyKey, seen[0].Key)
	assert.Equal(t, draft.IdempotencyKey, seen[1].Key)
	assert.Equal(t, sent.IdempotencyKey, seen[2].Key, "the re-send carried the original key")
	assert.True(t, strings.Contains(seen[1].Body, "b@example.com"))
}
