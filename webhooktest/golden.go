package webhooktest

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	webhook "github.com/liquidhook/webhook"
)

// updateFlag names the flag that makes AssertRender rewrite golden files.
const updateFlag = "update"

// AssertRender renders action with data and compares the request with the
// golden file at path (by convention testdata/NAME.golden): the method and
// the URL, redacted as webhook.RedactURL redacts it, on the first line, then
// the headers sorted by name with secret values redacted, a blank line, and
// the body as rendered. Signature and idempotency headers, which change on
// every attempt, are not part of it. It returns the rendered Request.
//
// A render error fails the test with FailNow. A difference fails it with a
// line diff, golden lines marked - and rendered ones +, and the test goes
// on. With the test binary's -update flag set, AssertRender writes the file
// instead. The flag is read by name, so that it is the one the test package
// already defines for its other golden files, or a new one:
//
//	var _ = flag.Bool("update", false, "rewrite golden files")
func AssertRender(tb testing.TB, action *webhook.Action, data map[string]any, path string) *webhook.Request {
	tb.Helper()
	req, err := action.Render(data)
	if err != nil {
		tb.Fatalf("webhooktest: rendering for %s: %v", path, err)
		return nil
	}
	got := goldenText(req)
	update, defined := updateRequested()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatalf("webhooktest: writing %s: %v", path, err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tb.Fatalf("webhooktest: writing %s: %v", path, err)
		}
		tb.Logf("webhooktest: wrote %s", path)
		return req
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Errorf("webhooktest: golden file: %v; %s", err, howToUpdate("write", defined))
		return req
	}
	if diff := lineDiff(string(want), got); diff != "" {
		tb.Errorf("webhooktest: the render differs from %s (-golden +render):\n%s%s",
			path, diff, howToUpdate("rewrite", defined))
	}
	return req
}

// updateRequested reads the -update flag, if the test binary defines one.
func updateRequested() (update, defined bool) {
	f := flag.Lookup(updateFlag)
	if f == nil {
		return false, false
	}
	update, _ = strconv.ParseBool(f.Value.String())
	return update, true
}

// howToUpdate tells how to write or rewrite a golden file.
func howToUpdate(verb string, defined bool) string {
	if defined {
		return "run go test with -update to " + verb + " it"
	}
	return `define the flag in the test package, var _ = flag.Bool("update", false, "rewrite golden files"), ` +
		"and run go test with -update to " + verb + " it"
}

// goldenText is a golden file's text for r: a request line, headers, a
// blank line and the body, then a newline, so that the file ends as text
// files do whatever the body's last byte.
func goldenText(r *webhook.Request) string {
	var b strings.Builder
	b.WriteString(r.Method + " " + webhook.RedactURL(r.URL) + "\n")
	h := r.RedactedHeader()
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			b.WriteString(name + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(r.Body)
	b.WriteString("\n")
	return b.String()
}
