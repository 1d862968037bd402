package dialect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata files from the current behaviour")

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

const goldenFailures = "testdata/golden_failures.txt"

// goldenData decodes a case's data as the webhook package's ParseData
// does: integers that fit become int, other numbers float64.
func goldenData(t *testing.T, raw json.RawMessage) map[string]any {
	if len(raw) == 0 {
		return map[string]any{}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("data: %v", err)
	}
	var convert func(v any) any
	convert = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			if n, err := strconv.ParseInt(string(x), 10, strconv.IntSize); err == nil {
				return int(n)
			}
			f, _ := strconv.ParseFloat(string(x), 64)
			return f
		case map[string]any:
			for k, item := range x {
				x[k] = convert(item)
			}
		case []any:
			for i, item := range x {
				x[i] = convert(item)
			}
		}
		return v
	}
	for k, item := range v {
		v[k] = convert(item)
	}
	return v
}

// goldenOutcome renders c in one mode: ok says it matches the suite.
func goldenOutcome(t *testing.T, c goldenCase, lax bool) (ok bool, got string, err error) {
	tm, err := Compile(c.Template)
	if err == nil {
		opts := Options{Lax: lax, Timeout: 5 * time.Second}
		got, err = opts.NewRun(goldenData(t, c.Data)).Render(tm, nil)
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
	for _, r := range c.Results {
		if got == r {
			return true, got, nil
		}
	}
	return false, got, nil
}

type knownFailure struct{ mode, name, reason string }

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
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 {
			t.Fatalf("%s: %q is not mode<TAB>name<TAB>reason", goldenFailures, line)
		}
		known[parts[0]+"\t"+parts[1]] = knownFailure{parts[0], parts[1], parts[2]}
	}
	return known
}

// TestGoldenLiquid renders the Golden Liquid suite (Shopify's Liquid, the
// reference) in lax and in strict mode. Every case that fails is listed,
// with its reason, in testdata/golden_failures.txt; the test fails when a
// case not listed fails or a listed case passes. Cases that need partials
// (templates) are left out: templates never read files.
func TestGoldenLiquid(t *testing.T) {
	path := os.Getenv("LIQUIDHOOK_GOLDEN_LIQUID")
	if path == "" {
		t.Skip("LIQUIDHOOK_GOLDEN_LIQUID is not set: the Golden Liquid suite is not run")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join("..", "..", path) // relative to the repository's root
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests []goldenCase `json:"tests"`
	}
	if err := json.Unmarshal(raw, &suite); err != nil {
		t.Fatal(err)
	}
	known := readKnownFailures(t)
	type tally struct{ pass, total int }
	byTag := map[string]map[string]*tally{"lax": {}, "strict": {}}
	passes := map[string]int{}
	total := 0
	var failures []knownFailure
	for _, c := range suite.Tests {
		if len(c.Templates) > 0 {
			continue
		}
		total++
		for _, mode := range []string{"lax", "strict"} {
			ok, got, err := goldenOutcome(t, c, mode == "lax")
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
			key := mode + "\t" + c.Name
			k, listed := known[key]
			if ok {
				passes[mode]++
				if listed && !*update {
					t.Errorf("%s: %q passes but is listed as failing (%s)", mode, c.Name, k.reason)
				}
				continue
			}
			reason := k.reason
			if !listed {
				switch {
				case mode == "strict" && errors.Is(err, ErrMissingVariable):
					reason = "uses an undefined variable, which strict mode refuses"
				case *update:
					reason = "unexplained"
				default:
					want := "an error"
					if !c.Invalid {
						want = fmt.Sprintf("%q", c.Results)
						if c.Result != nil {
							want = strconv.Quote(*c.Result)
						}
					}
					t.Errorf("%s: %q fails: template %q gives %q, %v; want %s", mode, c.Name, c.Template, got, err, want)
				}
			}
			failures = append(failures, knownFailure{mode, c.Name, reason})
		}
	}
	for _, mode := range []string{"lax", "strict"} {
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
	if *update {
		var b strings.Builder
		b.WriteString("# Golden Liquid cases this dialect fails, one a line: mode<TAB>name<TAB>reason.\n")
		b.WriteString("# Cases with partials (templates) are not run: templates never read files.\n")
		for _, f := range failures {
			fmt.Fprintf(&b, "%s\t%s\t%s\n", f.mode, f.name, f.reason)
		}
		if err := os.WriteFile(goldenFailures, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
