package dialect

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// FuzzTemplate: any template compiles or fails with a syntax error, and
// renders within its limits or fails with one of the package's errors; it
// never panics.
func FuzzTemplate(f *testing.F) {
	for _, src := range []string{
		"{{ customer.name }}",
		"{{ customer | replace: \"=>\", \":\" }}",
		"{% for i in (1..1000000) %}{{ i }}{% endfor %}",
		"{% assign s = 'ab' %}{% for i in (1..64) %}{% assign s = s | append: s %}{% endfor %}",
		"{% capture s %}{{ s }}{{ s }}{% endcapture %}",
		"{% if customer.x != blank and customer.tags.size > 0 or x contains 'a' %}{{ customer.tags | join: ',' }}{% endif %}",
		"{{ 'now' | date: '%F' }} {{ customer.created_at | date: '%s', 360 }}",
		"{{ (1..100000000) | json }}",
		"{% raw %}{{ x }}{% endraw %}{% comment %}x{% endcomment %}{% # note %}{% doc %}d{% enddoc %}",
		"{%- if a -%} {{- b -}} {%- endif -%}",
		"{% case customer.plan %}{% when 'a', 'b' %}x{% else %}y{% endcase %}",
		"{% tablerow t in customer.tags cols: 2 %}{{ t }}{% endtablerow %}",
		"{% liquid\nfor t in customer.tags\necho t | upcase\nendfor\n%}",
		"{% cycle 'a', 'b' %}{% increment n %}{% ifchanged %}x{% endifchanged %}{% break %}",
		"{{ customer.tags | where_exp: 't', 't contains \"a\"' | sort | uniq | first }}",
		"{{ 1234.5 | currency: 'de' }} {{ 5 | format_number }} {{ '{\"a\":[1]}' | from_json | json }}",
		"{% for i in (1..3) offset: continue limit: 2 reversed %}{{ forloop.parentloop.index }}{% endfor %}",
		cioZendeskBody,
	} {
		f.Add(src)
	}
	opts := Options{Timeout: 250 * time.Millisecond, MaxIterations: 2000, MaxOutput: 16 << 10, Now: fixedClock}
	lax := opts
	lax.Lax = true
	data := map[string]any{"customer": map[string]any{"name": "Ann", "tags": []any{"a", "b"}, "created_at": 1700000000, "plan": "a", "x": ""}}
	sentinels := []error{ErrMissingVariable, ErrLimitExceeded, ErrTemplate}
	f.Fuzz(func(t *testing.T, src string) {
		tm, err := Compile(src)
		if err != nil {
			if !errors.Is(err, ErrTemplateSyntax) {
				t.Fatalf("compile %q: %v", src, err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 {
				t.Fatalf("compile %q: %v has no line", src, err)
			}
			return
		}
		for _, o := range []Options{opts, lax} {
			out, err := o.NewRun(data).Render(tm, nil)
			if err != nil {
				if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
					t.Fatalf("render %q: %v", src, err)
				}
				continue
			}
			if len(out) > o.MaxOutput {
				t.Fatalf("render %q: %d bytes, over the %d allowed", src, len(out), o.MaxOutput)
			}
		}
	})
}
