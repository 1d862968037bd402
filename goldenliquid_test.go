package webhook_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	webhook "github.com/liquidhook/webhook"
)

// goldenCase is a case of the Golden Liquid suite.
type goldenCase struct {
	Name      string            `json:"name"`
	Template  string            `json:"template"`
	Data      json.RawMessage   `json:"data"`
	Templates map[string]string `json:"templates"`
	Result    *string           `json:"result"`
	Results   []string          `json:"results"`
	Invalid   bool              `json:"invalid"`
	Tags      []string          `json:"tags"`
}

// goldenFailures lists the cases that fail, one a line:
// name<TAB>mode<TAB>reason.
const goldenFailures = "testdata/golden_failures.txt"

// strictRefusal is the reason of a case that passes in lax mode and fails
// in strict mode because it prints or uses a variable that is not in its
// data, as Customer.io's strict default refuses to.
const strictRefusal = "prints or uses an undefined variable, which strict mode refuses"

// goldenOutcome renders c through the public API in one mode: a Spec
// whose body is the template, sent as text/plain, rendered with the
// case's data as ParseData decodes it. ok says it matches the suite.
func goldenOutcome(c goldenCase, lax bool) (ok bool, got string, err error) {
	raw := []byte(c.Data)
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	data, err := webhook.ParseData(raw)
	if err != nil {
		return false, "", fmt.Errorf("data: %w", err)
	}
	a, err := (&webhook.Compiler{Lax: lax, Timeout: 5 * time.Second}).Compile(webhook.Spec{
		URL:     "https://example.com/",
		Headers: map[string]string{"Content-Type": "text/plain"},
		Body:    c.Template,
	})
	if err == nil {
		var r *webhook.Request
		if r, err = a.Render(data); err == nil {
			got = string(r.Body)
		}
	}
	if c.Invalid {
		return err != nil, got, err
	}
	if err != nil {
		return false, got, err
	}
	if c.Result != nil {
		return got == *c.Result, got, nil
	}
	for _, want := range c.Results {
		if got == want {
			return true, got, nil
		}
	}
	return false, got, nil
}

type knownFailure struct{ name, mode, reason string }

func readKnownFailures(t *testing.T) map[string]knownFailure {
	known := map[string]knownFailure{}
	f, err := os.Open(goldenFailures)
	if errors.Is(err, os.ErrNotExist) {
		return known
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 || (parts[1] != "lax" && parts[1] != "strict") || parts[2] == "" {
			t.Fatalf("%s: %q is not name<TAB>mode<TAB>reason", goldenFailures, line)
		}
		known[parts[0]+"\t"+parts[1]] = knownFailure{parts[0], parts[1], parts[2]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return known
}

// TestGoldenLiquid renders the Golden Liquid suite (Shopify's Liquid, the
// reference) through Compile and Render, in lax and in strict mode, and
// logs the passes by tag. Every case that fails is listed with its reason
// in testdata/golden_failures.txt; the test fails when a case not listed
// fails or a listed case passes, and when a case listed as a strict
// refusal is anything else. Cases with partials are refused by design
// (templates never read files) and counted apart. Run with -update to
// rewrite the list from the current behaviour, keeping its reasons.
func TestGoldenLiquid(t *testing.T) {
	path := os.Getenv("LIQUIDHOOK_GOLDEN_LIQUID")
	if path == "" {
		t.Skip("LIQUIDHOOK_GOLDEN_LIQUID is not set: the Golden Liquid suite is not run (.ci/run sets it)")
	}
	raw, err := os.ReadFile(path) // a relative path is relative to the repository's root
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests []goldenCase `json:"tests"`
	}
	if err := json.Unmarshal(raw, &suite); err != nil {
		t.Fatal(err)
	}
	update := flag.Lookup("update")
	updating := update != nil && update.Value.String() == "true"

	known := readKnownFailures(t)
	seen := map[string]bool{}
	type tally struct{ pass, total int }
	modes := []string{"lax", "strict"}
	byTag := map[string]map[string]*tally{"lax": {}, "strict": {}}
	passes := map[string]int{}
	total, partials := 0, 0
	var failures []knownFailure
	for _, c := range suite.Tests {
		if len(c.Templates) > 0 {
			partials++
			continue
		}
		total++
		laxOK := false
		for _, mode := range modes {
			ok, got, err := goldenOutcome(c, mode == "lax")
			if mode == "lax" {
				laxOK = ok
			}
			tags := c.Tags
			if len(tags) == 0 {
				tags = []string{"(untagged)"}
			}
			for _, tag := range tags {
				tl := byTag[mode][tag]
				if tl == nil {
					tl = &tally{}
					byTag[mode][tag] = tl
				}
				tl.total++
				if ok {
					tl.pass++
				}
			}
			key := c.Name + "\t" + mode
			seen[key] = true
			k, listed := known[key]
			refusal := mode == "strict" && laxOK && errors.Is(err, webhook.ErrMissingVariable)
			if ok {
				passes[mode]++
				if listed && !updating {
					t.Errorf("%s: %q passes but is listed as failing (%s)", mode, c.Name, k.reason)
				}
				continue
			}
			reason := k.reason
			switch {
			case listed && k.reason == strictRefusal && !refusal:
				t.Errorf("%s: %q is listed as a strict refusal but fails otherwise: template %q gives %q, %v", mode, c.Name, c.Template, got, err)
			case !listed && updating && refusal:
				reason = strictRefusal
			case !listed && updating:
				reason = "unexplained"
			case !listed:
				want := "an error"
				if !c.Invalid {
					want = fmt.Sprintf("%q", c.Results)
					if c.Result != nil {
						want = strconv.Quote(*c.Result)
					}
				}
				t.Errorf("%s: %q fails: template %q gives %q, %v; want %s", mode, c.Name, c.Template, got, err, want)
			}
			failures = append(failures, knownFailure{c.Name, mode, reason})
		}
	}
	for key, k := range known {
		if !seen[key] && !updating {
			t.Errorf("%s lists %q in %s mode, which is not a case of the suite without partials", goldenFailures, k.name, k.mode)
		}
	}
	t.Logf("%d cases without partials; %d with partials, refused by design: templates never read files", total, partials)
	for _, mode := range modes {
		t.Logf("%s: %d of %d pass", mode, passes[mode], total)
		tags := make([]string, 0, len(byTag[mode]))
		for tag := range byTag[mode] {
			tags = append(tags, tag)
		}
		sort.Strings(tags)
		var b strings.Builder
		for _, tag := range tags {
			fmt.Fprintf(&b, "%s %d/%d; ", tag, byTag[mode][tag].pass, byTag[mode][tag].total)
		}
		t.Logf("%s by tag: %s", mode, b.String())
	}
	if updating {
		var b strings.Builder
		b.WriteString("# Golden Liquid cases that fail, one a line: name<TAB>mode<TAB>reason.\n")
		b.WriteString("# Cases with partials (templates) are not run: templates never read files.\n")
		for _, f := range failures {
			fmt.Fprintf(&b, "%s\t%s\t%s\n", f.name, f.mode, f.reason)
		}
		if err := os.WriteFile(goldenFailures, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
