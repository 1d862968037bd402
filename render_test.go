package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedNow is the clock every dialect test uses: 2021-02-25 23:30 in
// Auckland, which is still the 25th in UTC.
var fixedNow = time.Date(2021, 2, 26, 12, 30, 0, 0, time.FixedZone("NZDT", 13*3600))

func fixedClock() time.Time { return fixedNow }

// renderText compiles src as the field "body" with c and renders it over
// data, the way an Action does.
func renderText(t *testing.T, c Compiler, src string, data map[string]any) (string, error) {
	t.Helper()
	if c.Now == nil {
		c.Now = fixedClock
	}
	e := c.engine()
	tm, err := e.compile("body", src)
	if err != nil {
		return "", err
	}
	out, err := executeTemplate(e, tm, data)
	if tm.prog != nil {
		// A template the dialect renders itself must come out exactly as
		// the engine renders it, errors included.
		engineOnly := *tm
		engineOnly.prog = nil
		want, wantErr := executeTemplate(e, &engineOnly, data)
		require.Equal(t, want, out, "program and engine disagree on %q", src)
		require.Equal(t, fmt.Sprint(wantErr), fmt.Sprint(err), "program and engine disagree on %q", src)
	}
	return out, err
}

func executeTemplate(e *engine, tm *tmpl, data map[string]any) (string, error) {
	run := e.newRun(data, "", nil)
	defer run.release()
	if err := tm.execute(&run.st, &run.sc, &run.body); err != nil {
		return "", err
	}
	return string(run.body.buf), nil
}

// responseTexts renders a's response templates and collects their texts;
// nil when a maps nothing.
func responseTexts(a *Action, data map[string]any, response any) (map[string]string, error) {
	var texts map[string]string
	err := a.renderResponse(data, response, func(name, text string) {
		if texts == nil {
			texts = make(map[string]string)
		}
		texts[name] = text
	})
	return texts, err
}

// mustData decodes a JSON data document as ParseData does.
func mustData(t *testing.T, doc string) map[string]any {
	t.Helper()
	d, err := ParseData([]byte(doc))
	require.NoError(t, err)
	return d
}

const customerDoc = `{
  "customer": {
    "id": "c1",
    "email": "ann@example.com",
    "first_name": "Ann",
    "empty": "",
    "spaces": "   ",
    "nothing": null,
    "tags": ["vip", "beta"],
    "no_tags": [],
    "address": {"city": "Köln", "zip": "50667"},
    "no_address": null,
    "quote": "say \"hi\"\\n\tnow é ✓",
    "created_at": 1700000000,
    "amount": 100,
    "price": 12.5,
    "ratio": 0.1,
    "big": 12345678901234567,
    "neg": -42,
    "active": true
  },
  "event": {"name": "signup", "timestamp": 1614265384, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 3}]}
}`

type dialectCase struct {
	name    string
	src     string
	want    string
	wantErr error
	errHas  string // text the error must contain
	line    int    // the TemplateError line, when wantErr is set and line > 0
}

func runDialect(t *testing.T, c Compiler, data map[string]any, cases []dialectCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := renderText(t, c, tc.src, data)
			if tc.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.wantErr)
				var te *TemplateError
				require.ErrorAs(t, err, &te)
				assert.Equal(t, "body", te.Field)
				if tc.line > 0 {
					assert.Equal(t, tc.line, te.Line, "line of %v", err)
				}
				if tc.errHas != "" {
					assert.Contains(t, err.Error(), tc.errHas)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestLoopsAndTags(t *testing.T) {
	data := mustData(t, customerDoc)
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "for with forloop", src: "{% for i in event.items %}{{ forloop.index }}:{{ i.sku }}x{{ i.qty }}{% unless forloop.last %},{% endunless %}{% endfor %}", want: "1:ax2,2:bx3"},
		{name: "object iterates in key order", src: "{% for pair in customer.address %}{{ pair[0] }}={{ pair[1] }};{% endfor %}", want: "city=Köln;zip=50667;"},
		{name: "limit, offset, reversed", src: "{% for i in (1..10) limit: 3 offset: 2 %}{{ i }}{% endfor %}|{% for i in (1..3) reversed %}{{ i }}{% endfor %}", want: "345|321"},
		{name: "modifiers after the map order filter", src: "{% for p in customer.address reversed %}{{ p[0] }}{% endfor %}", want: "zipcity"},
		{name: "for else", src: "{% for x in customer.no_tags %}{{ x }}{% else %}none{% endfor %}", want: "none"},
		{name: "break and continue", src: "{% for i in (1..9) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}", want: "13"},
		{name: "capture", src: "{% capture greeting %}Hi {{ customer.first_name }}{% endcapture %}{{ greeting | upcase }}", want: "HI ANN"},
		{name: "capture in a loop", src: "{% capture l %}{% endcapture %}{% for t in customer.tags %}{% capture l %}{{ l }}{{ t }};{% endcapture %}{% endfor %}{{ l }}", want: "vip;beta;"},
		{name: "break inside capture inside for", src: "{% for i in (1..5) %}{% capture c %}{{ i }}{% if i == 2 %}{% break %}{% endif %}{% endcapture %}{{ c }}{% endfor %}", want: "1"},
		{name: "whitespace control", src: "a  {{- customer.first_name -}}  b {%- if true -%}  c  {%- endif %}", want: "aAnnbc"},
		{name: "whitespace control in capture", src: "{% capture x -%}  v  {%- endcapture %}[{{ x }}]", want: "[v]"},
		{name: "raw keeps braces", src: "{% raw %}{{ not.a.variable }} {% if %}{% endraw %}", want: "{{ not.a.variable }} {% if %}"},
		{name: "comment", src: "a{% comment %}{{ nope }} {% if %}{% endcomment %}b", want: "ab"},
		{name: "cycle and tablerow", src: "{% for i in (1..3) %}{% cycle 'x', 'y' %}{% endfor %}|{% tablerow i in (1..2) %}{{ i }}{% endtablerow %}", want: `xyx|<tr class="row1"><td class="col1">1</td><td class="col2">2</td></tr>`},
		{name: "assign and case", src: "{% assign p = customer.tags.first %}{% case p %}{% when 'vip' %}V{% when 'x' %}X{% endcase %}", want: "V"},
		{name: "literal braces in text are refused", src: "a\nb {{ c", wantErr: ErrTemplateSyntax, line: 2, errHas: "{{ is not closed"},
		{name: "cycle outside a loop after clobbering forloop", src: "{% assign forloop = 1 %}{% cycle 'a', 'b' %}", wantErr: ErrTemplate},
		{name: "division by zero", src: "{{ 1 | divided_by: 0 }}", wantErr: ErrTemplate, errHas: "division by zero"},
		{name: "break outside a loop", src: "x{% break %}", wantErr: ErrTemplate},
	})
}

func TestRangeBounds(t *testing.T) {
	data := mustData(t, customerDoc)
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "missing end", src: "a\n{% for i in (1..customer.nope) %}{{ i }}{% endfor %}", wantErr: ErrMissingVariable, errHas: "body: line 2: missing variable customer.nope", line: 2},
		{name: "missing start", src: "{% for i in (customer.nope..3) %}{{ i }}{% endfor %}", wantErr: ErrMissingVariable, errHas: "missing variable customer.nope"},
		{name: "attribute of a missing object", src: "{% for i in (1..customer.nope.count) %}{% endfor %}", wantErr: ErrMissingVariable, errHas: "missing variable customer.nope.count"},
		{name: "tablerow", src: "{% tablerow i in (1..customer.nope) %}{{ i }}{% endtablerow %}", wantErr: ErrMissingVariable, errHas: "missing variable customer.nope"},
		{name: "printed", src: "{{ (1..customer.nope) | join: ',' }}", wantErr: ErrMissingVariable, errHas: "missing variable customer.nope"},
		{name: "assigned", src: "{% assign r = (1..customer.nope) %}", wantErr: ErrMissingVariable, errHas: "missing variable customer.nope"},
		{name: "text", src: "{% for i in (1..customer.first_name) %}{% endfor %}", wantErr: ErrTemplate, errHas: "body: line 1: template error: range end customer.first_name is text, not a whole number"},
		{name: "null", src: "{% for i in (customer.nothing..2) %}{% endfor %}", wantErr: ErrTemplate, errHas: "range start customer.nothing is null, not a whole number"},
		{name: "a fraction", src: "{% for i in (1..customer.price) %}{% endfor %}", wantErr: ErrTemplate, errHas: "range end customer.price is a decimal number, not a whole number"},
		{name: "a list", src: "{% for i in (1..customer.tags) %}{% endfor %}", wantErr: ErrTemplate, errHas: "range end customer.tags is a list, not a whole number"},
		{name: "numbers", src: "{% for i in (customer.neg..-40) %}{{ i }};{% endfor %}{% for i in (1..customer.tags.size) %}{{ i }}{% endfor %}", want: "-42;-41;-40;12"},
		{name: "a loop variable", src: "{% for item in event.items %}{% for i in (1..item.qty) %}{{ item.sku }}{% endfor %}{% endfor %}", want: "aabbb"},
		{name: "an empty range keeps whitespace control", src: "a  {% for i in (1..customer.neg) %}x{% endfor %}{%- if true %}b{% endif %}", want: "ab"},
	})
	runDialect(t, Compiler{Lax: true}, data, []dialectCase{
		{name: "missing, lax", src: "{% for i in (1..customer.nope) %}{% endfor %}", wantErr: ErrTemplate, errHas: "range end customer.nope is missing, not a whole number"},
	})
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		name   string
		src    string
		line   int
		errHas string
	}{
		{name: "the typo in Customer.io's Zendesk body", src: cioZendeskBody, line: 5, errHas: `customer.firstName\"`},
		{name: "unknown filter", src: "a\nb\n{{ x | upcasee }}", line: 3, errHas: `unknown filter "upcasee"`},
		{name: "unknown filter in a tag", src: "{% if x %}\n{% assign y = x | nope: 1 %}{% endif %}", line: 2, errHas: `unknown filter "nope"`},
		{name: "unterminated if", src: "a\n{% if x %}\nb", line: 2, errHas: `unterminated "if" block`},
		{name: "unknown tag", src: "\n\n{% frobnicate %}", line: 3, errHas: "frobnicate"},
		{name: "endfor without for", src: "x\n{% endfor %}", line: 2},
		{name: "unclosed object", src: "{\n  \"a\": \"{{ customer.name\"\n}", line: 2, errHas: "{{ is not closed"},
		{name: "unclosed tag", src: "x {% if", line: 1, errHas: "{% does not start a tag"},
		{name: "include reads files", src: "x\n{% include 'secrets.txt' %}", line: 2, errHas: "cannot read files"},
		{name: "render reads files", src: "{% render 'partial' %}", line: 1, errHas: "cannot read files"},
		{name: "integer too large", src: "a\n\n{{ 99999999999999999999 }}", line: 3},
		{name: "integer too large in a tag", src: "a\n{% if x == 99999999999999999999 %}{% endif %}", line: 2},
		{name: "unterminated comment", src: "a\n{% comment %}\nb", line: 2, errHas: "endcomment"},
		{name: "unterminated raw", src: "{% raw %}\nb", line: 1, errHas: "endraw"},
		{name: "bad expression deep in a loop", src: "{% for i in (1..2) %}\n\n{% if i == %}{% endif %}\n{% endfor %}", line: 3},
		{name: "assign with dots", src: "{% assign a.b = 1 %}", line: 1},
		{name: "the internal node tag", src: "x {% liquidhook_node %}", line: 1, errHas: "unknown tag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderText(t, Compiler{}, tc.src, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrTemplateSyntax)
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, "body", te.Field)
			assert.Equal(t, tc.line, te.Line, "%v", err)
			assert.Contains(t, err.Error(), fmt.Sprintf("body: line %d: ", tc.line))
			if tc.errHas != "" {
				assert.Contains(t, err.Error(), tc.errHas)
			}
		})
	}
}

// cioZendeskBody is the Zendesk body exactly as Customer.io publishes it.
const cioZendeskBody = `{
"ticket": {
"subject": "{{customer.company_name}} has canceled their account.",
"comment": { "body":"{{event.feedback}}" },
"requester": { "name":"{{customer.firstName"}} {{customer.lastName"}},"email":"{{customer.email}}"
}
}
}`

func TestLimits(t *testing.T) {
	small := Compiler{MaxIterations: 1000, MaxOutput: 4096}
	cases := []struct {
		name   string
		c      Compiler
		src    string
		errHas string
	}{
		{name: "a huge range", c: small, src: "{% for i in (1..1000000000) %}{% endfor %}", errHas: "more than 1000 loop iterations"},
		{name: "nested loops", c: small, src: "{% for i in (1..100000) %}{% for j in (1..100000) %}{% for k in (1..100000) %}{% endfor %}{% endfor %}{% endfor %}", errHas: "loop iterations"},
		{name: "tablerow", c: Compiler{MaxIterations: 1000}, src: "{% tablerow i in (1..1000000000) %}{% endtablerow %}", errHas: "loop iterations"},
		{name: "output", c: small, src: "{% for i in (1..900) %}0123456789{% endfor %}", errHas: "output larger than 4096 bytes"},
		{name: "output in raw", c: small, src: "{% for i in (1..900) %}{% raw %}0123456789{% endraw %}{% endfor %}", errHas: "output larger than 4096 bytes"},
		{name: "a string doubled with append", c: small, src: `{% assign s = "ab" %}{% for i in (1..64) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}`, errHas: "output larger"},
		{name: "a string doubled with capture", c: small, src: `{% assign s = "ab" %}{% for i in (1..64) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}`, errHas: "output larger"},
		{name: "text in a capture in a loop", c: small, src: `{% capture s %}{% for i in (1..900) %}0123456789{% endfor %}{% endcapture %}`, errHas: "output larger"},
		{name: "a string multiplied with replace", c: small, src: `{% assign s = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" %}{{ s | replace: "a", s | replace: "a", s }}`, errHas: "output larger"},
		{name: "an array doubled with concat", c: small, src: `{% assign a = "x,y" | split: "," %}{% for i in (1..64) %}{% assign a = a | concat: a %}{% endfor %}`, errHas: "array larger than 1000"},
		{name: "a huge range given to a filter", c: small, src: `{{ (1..1000000000) | join: "," }}`, errHas: "range larger than 1000"},
		{name: "a huge range given to a standard filter", c: small, src: `{{ (1..1000000000) | reverse | first }}`, errHas: "larger than 1000"},
		{name: "a huge range as a filter argument", c: small, src: `{{ "x" | split: "," | concat: (1..1000000000) }}`, errHas: "larger than 1000"},
		{name: "a huge range sliced", c: small, src: `{{ (1..1000000000) | slice: 0, 2 }}`, errHas: "larger than 1000"},
		{name: "a huge range in json", c: small, src: `{{ (1..1000000000) | json }}`, errHas: "larger than 1000"},
		{name: "a strftime width bomb", c: small, src: `{{ 'now' | date: "%1000000Y%1000000Y" }}`, errHas: "output larger"},
		{name: "a long join", c: small, src: `{% assign a = "x" | split: "," %}{% for i in (1..9) %}{% assign a = a | concat: a %}{% endfor %}{% assign s = "0123456789" %}{% for i in (1..9) %}{% assign s = s | append: s %}{% endfor %}{{ a | join: s }}`, errHas: "output larger"},
		{name: "the deadline", c: Compiler{Timeout: time.Millisecond, MaxIterations: 1 << 30}, src: `{% for i in (1..1000000000) %}{% assign x = i | plus: 1 %}{% endfor %}`, errHas: "took longer than 1ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			_, err := renderText(t, tc.c, tc.src, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrLimitExceeded)
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			assert.Contains(t, err.Error(), tc.errHas)
			assert.LessOrEqual(t, runtime.NumGoroutine(), before, "a render must not leave goroutines behind")
		})
	}
}

func TestDataIsNotModified(t *testing.T) {
	data := mustData(t, customerDoc)
	before, err := json.Marshal(data)
	require.NoError(t, err)
	_, err = renderText(t, Compiler{}, "{% assign customer = 1 %}{% capture event %}x{% endcapture %}{% for t in data %}{% endfor %}", data)
	require.NoError(t, err)
	after, err := json.Marshal(data)
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after))
}

func TestRenderConcurrently(t *testing.T) {
	a, err := (&Compiler{Now: fixedClock}).Compile(Spec{
		URL:     "https://api.example.com/people/{{ customer.id }}?n={{ customer.n }}",
		Headers: map[string]string{"X-Person": "{{ customer.name | upcase }}"},
		Body:    `{"name": {{ customer.name | json }}, "tags": [{% for t in customer.tags %}{{ t | json }}{% unless forloop.last %},{% endunless %}{% endfor %}], "at": "{{ 'now' | date: '%F' }}"}`,
	})
	require.NoError(t, err)
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("person %d", i)
			data := map[string]any{"customer": map[string]any{"id": i, "n": i * 10, "name": name, "tags": []any{"t", i}}}
			for range 50 {
				r, err := a.Render(data)
				if err != nil {
					errs <- err
					return
				}
				want := fmt.Sprintf(`{"name": %q, "tags": ["t",%d], "at": "2021-02-25"}`, name, i)
				if string(r.Body) != want || r.URL != fmt.Sprintf("https://api.example.com/people/%d?n=%d", i, i*10) || r.Header.Get("X-Person") != strings.ToUpper(name) {
					errs <- fmt.Errorf("goroutine %d got %s %s %q", i, r.URL, r.Body, r.Header.Get("X-Person"))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Renders share pooled scratch space: from 32 goroutines, with templates
// the dialect renders itself and others the engine renders, every Request
// and every mapping must keep what was rendered for it, after any number
// of later renders.
func TestRenderPooledConcurrently(t *testing.T) {
	a, err := (&Compiler{Now: fixedClock}).Compile(Spec{
		URL:     "https://api.example.com/people/{{ customer.id }}",
		Headers: map[string]string{"X-Person": "{{ customer.name | upcase }}", "X-Loop": "{% for t in customer.tags %}{{ t }}{% endfor %}"},
		Body:    `{"name": {{ customer.name | json }}, {% assign n = customer.n %}"big": {% if n >= 100 %}true{% else %}false{% endif %}}`,
		Response: map[string]string{
			"id":   "{{ response.id }}-{{ customer.id }}",
			"loop": "{% for t in response.tags %}{{ t }}{% endfor %}",
		},
	})
	require.NoError(t, err)
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			data := map[string]any{"customer": map[string]any{"id": i, "n": i * 10, "name": fmt.Sprintf("p%d", i), "tags": []any{"t", i}}}
			var kept []*Request
			var mapped []map[string]any
			for j := range 40 {
				r, err := a.Render(data)
				if err != nil {
					errs <- err
					return
				}
				attrs, err := a.Mapper(data).MapResponse(&Response{Status: 200, Body: fmt.Appendf(nil, `{"id": "r%d", "tags": [%d, %d]}`, j, i, j)})
				if err != nil {
					errs <- err
					return
				}
				kept, mapped = append(kept, r), append(mapped, attrs)
			}
			big := "false"
			if i*10 >= 100 {
				big = "true"
			}
			for j, r := range kept {
				if got, want := string(r.Body), fmt.Sprintf(`{"name": "p%d", "big": %s}`, i, big); got != want {
					errs <- fmt.Errorf("goroutine %d request %d: body %s, want %s", i, j, got, want)
					return
				}
				if r.Header.Get("X-Person") != fmt.Sprintf("P%d", i) || r.Header.Get("X-Loop") != fmt.Sprintf("t%d", i) || r.URL != fmt.Sprintf("https://api.example.com/people/%d", i) {
					errs <- fmt.Errorf("goroutine %d request %d: %s %v", i, j, r.URL, r.Header)
					return
				}
				if want := map[string]any{"id": fmt.Sprintf("r%d-%d", j, i), "loop": fmt.Sprintf("%d%d", i, j)}; fmt.Sprint(mapped[j]) != fmt.Sprint(typedAttrs(want)) {
					errs <- fmt.Errorf("goroutine %d mapping %d: %v, want %v", i, j, mapped[j], want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A body template that renders nothing gives an empty body, which a JSON
// POST refuses, whether or not the render's pooled buffer is new (two
// collections empty the pool).
func TestEmptyRenderedBodyIsNotNone(t *testing.T) {
	a, err := Compile(Spec{URL: "https://x.example", Body: "{% if false %}{}{% endif %}"})
	require.NoError(t, err)
	text, err := Compile(Spec{URL: "https://x.example", Headers: map[string]string{"Content-Type": "text/plain"}, Body: "{% if false %}x{% endif %}"})
	require.NoError(t, err)
	for i := range 3 {
		if i < 2 {
			runtime.GC()
			runtime.GC()
		}
		_, err = a.Render(nil)
		require.ErrorIs(t, err, ErrInvalidBody, "render %d", i)
		r, err := text.Render(nil)
		require.NoError(t, err)
		assert.NotNil(t, r.Body, "render %d", i)
		assert.Empty(t, r.Body)
	}
}

// typedAttrs types text attributes as MapResponse does.
func typedAttrs(texts map[string]any) map[string]any {
	out := make(map[string]any, len(texts))
	for k, v := range texts {
		out[k] = typedValue(v.(string))
	}
	return out
}

func TestRenderResponse(t *testing.T) {
	a, err := Compile(Spec{
		URL: "https://crm.example.com/leads",
		Response: map[string]string{
			"lead_id": "{{ response.id }}",
			"score":   "{{ response.score | plus: customer.bonus }}",
			"label":   "{{ response.labels | join: '/' }}",
		},
	})
	require.NoError(t, err)
	data := map[string]any{"customer": map[string]any{"bonus": 2}}
	got, err := responseTexts(a, data, map[string]any{"id": "lead_42", "score": 5, "labels": []any{"a", "b"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"lead_id": "lead_42", "score": "7", "label": "a/b"}, got)

	_, err = responseTexts(a, data, map[string]any{"score": 1, "labels": []any{}})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrMissingVariable)
	var te *TemplateError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "response.lead_id", te.Field)
	assert.Contains(t, err.Error(), "missing variable response.id")

	_, err = responseTexts(a, data, "plain text body")
	assert.ErrorIs(t, err, ErrMissingVariable)

	none, err := Compile(Spec{URL: "https://x.example"})
	require.NoError(t, err)
	got, err = responseTexts(none, data, nil)
	require.NoError(t, err)
	assert.Nil(t, got)
}

func FuzzRender(f *testing.F) {
	for _, src := range []string{
		"{{ customer.name }}",
		"{{ customer | replace: \"=>\", \":\" }}",
		"{% for i in (1..1000000) %}{{ i }}{% endfor %}",
		"{% assign s = 'ab' %}{% for i in (1..64) %}{% assign s = s | append: s %}{% endfor %}",
		"{% capture s %}{{ s }}{{ s }}{% endcapture %}",
		"{% if customer.x != blank and customer.tags.size > 0 %}{{ customer.tags | join: ',' }}{% endif %}",
		"{{ 'now' | date: '%F' }} {{ customer.created_at | date: '%s' }}",
		"{{ (1..100000000) | json }}",
		"{% raw %}{{ x }}{% endraw %}{% comment %}x{% endcomment %}",
		"{%- if a -%} {{- b -}} {%- endif -%}",
		"{% case customer.plan %}{% when 'a', 'b' %}x{% else %}y{% endcase %}",
		"{% case customer.x %}{% when 'a' or blank %}b{% when empty %}e{% endcase %}",
		"{% tablerow t in customer.tags cols: 2 %}{{ t }}{% endtablerow %}",
		"{{ customer.tags[0] | upcase | prepend: customer.name | default: 'x' }}",
		"{% cycle 'a' %}{% break %}{{ x | divided_by: 0 }}",
		cioZendeskBody,
	} {
		f.Add(src, []byte(`{"customer": {"name": "Ann", "tags": ["a", "b"], "created_at": 1700000000, "plan": "a", "x": ""}}`))
	}
	f.Add("{{ a.b.c }}", []byte(`{"a": {"b": null}}`))
	f.Add("{% for p in a %}{{ p[0] }}{% endfor %}", []byte(`{"a": {"z": 1, "y": [1, {"q": 2.5}]}}`))

	c := Compiler{Timeout: 250 * time.Millisecond, MaxIterations: 2000, MaxOutput: 16 << 10, Now: fixedClock}
	lax := c
	lax.Lax = true
	fallback := map[string]any{"customer": map[string]any{"name": "x"}}
	sentinels := []error{ErrMissingVariable, ErrLimitExceeded, ErrTemplate}
	f.Fuzz(func(t *testing.T, src string, doc []byte) {
		data, err := ParseData(doc)
		if err != nil {
			data = fallback
		}
		for _, comp := range []*Compiler{&c, &lax} {
			a, err := comp.Compile(Spec{URL: "https://example.com/x", Headers: map[string]string{"Content-Type": "text/plain"}, Body: src, Response: map[string]string{"r": src}})
			if err != nil {
				var te *TemplateError
				require.ErrorAs(t, err, &te)
				if !errors.Is(err, ErrTemplateSyntax) && !errors.Is(err, ErrLimitExceeded) {
					t.Fatalf("compile: %v", err)
				}
				return
			}
			r, err := a.Render(data)
			if err == nil {
				assert.LessOrEqual(t, len(r.Body), c.MaxOutput)
			} else {
				var te *TemplateError
				require.ErrorAs(t, err, &te)
				if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
					t.Fatalf("render: %v", err)
				}
			}
			if _, err := responseTexts(a, data, data); err != nil {
				require.True(t, slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }), "response: %v", err)
			}
		}
	})
}

// programCases are templates the dialect renders without the engine,
// each with data that exercises it.
var programCases = []struct {
	name, src, data string
}{
	{"text and paths", `{"a": "{{ c.name }}", "n": {{ c.n }}, "f": {{ c.f }}, "big": {{ c.big }}}`, `{"c": {"name": "Ann", "n": 3, "f": 2.5, "big": 12345678901234567890}}`},
	{"objects and arrays print as the engine prints them", `{{ c }}|{{ c.tags }}|{{ c.tags[1] }}|{{ c.tags.size }}|{{ c.tags.first }}|{{ c.tags.last }}`, `{"c": {"tags": ["a", 2, null, true], "x": {"y": null}}}`},
	{"filters", `{{ c.name | upcase | append: "!" | prepend: c.id }} {{ c.missing | default: "none" }} {{ c | json }}`, `{"c": {"name": "ann", "id": 7}}`},
	{"if on a size", `{% if c.url.size > 0 %}{{ c.url }}{% else %}none{% endif %}`, `{"c": {"url": "https://x"}}`},
	{"if on an empty size", `{% if c.url.size > 0 %}{{ c.url }}{% else %}none{% endif %}`, `{"c": {"url": ""}}`},
	{"if on a missing value", `{% if c.url.size > 0 %}{{ c.url }}{% else %}none{% endif %}`, `{"c": {}}`},
	{"elsif", `{% if c.n < 0 %}neg{% elsif c.n == 0 %}zero{% elsif c.n >= 10 %}big{% else %}small{% endif %}`, `{"c": {"n": 0}}`},
	{"elsif big", `{% if c.n < 0 %}neg{% elsif c.n == 0 %}zero{% elsif c.n >= 10 %}big{% else %}small{% endif %}`, `{"c": {"n": 10.5}}`},
	{"unless", `{% unless c.vip and c.n != 1 %}not both{% else %}vip-n{% endunless %}`, `{"c": {"vip": true, "n": 1}}`},
	{"unless false", `{% unless c.vip %}regular{% endunless %}`, `{"c": {"vip": false}}`},
	{"and or from the left", `{% if c.a and c.b or c.c %}yes{% else %}no{% endif %}|{% if c.c or c.a and c.b %}yes{% else %}no{% endif %}`, `{"c": {"a": false, "b": true, "c": true}}`},
	{"comparisons across types", `{% if c.s == "1" %}a{% endif %}{% if c.n == 1 %}b{% endif %}{% if c.n == 1.0 %}c{% endif %}{% if c.s > "0" %}d{% endif %}{% if c.n > "0" %}e{% endif %}{% if c.none == nil %}f{% endif %}{% if c.missing == nil %}g{% endif %}{% if c.arr == c.arr2 %}h{% endif %}{% if c.t == true %}i{% endif %}{% if c.z <= 0 %}j{% endif %}`, `{"c": {"s": "1", "n": 1, "none": null, "arr": [1, "a"], "arr2": [1, "a"], "t": true, "z": -0.5}}`},
	{"truth of values", `{% if c.zero %}0{% endif %}{% if c.empty %}e{% endif %}{% if c.none %}n{% endif %}{% if c.f %}f{% endif %}{% if c.missing %}m{% endif %}{% if "x" %}x{% endif %}{% if nil %}nil{% endif %}`, `{"c": {"zero": 0, "empty": "", "none": null, "f": false}}`},
	{"assign", `{% assign who = c.name | upcase %}{% assign n = c.n %}{{ who }} {{ n }}{% if n > 1 %} many{% endif %}{% assign c = "shadow" %} {{ c }}`, `{"c": {"name": "ann", "n": 2}}`},
	{"assign in a branch", `{% if c.n %}{% assign x = "set" %}{% endif %}{{ x | default: "unset" }}`, `{"c": {"n": 1}}`},
	{"indexes and quoted keys", `{{ c.items[0].name }} {{ c.items[-1].name }} {{ c["first name"] }}`, `{"c": {"items": [{"name": "a"}, {"name": "b"}], "first name": "Ann"}}`},
	{"keys and indexes read from paths", `{% assign k = "name" %}{{ c.items[c.i][k] }} {{ c[c.f] | default: "-" }}{% if c[c.none] %}x{% endif %}`, `{"c": {"items": [{"name": "a"}, {"name": "b"}], "i": 1, "f": "items", "none": null}}`},
	{"missing variable fails", `{{ c.nope }}`, `{"c": {}}`},
	{"output over the cap fails", `{{ c.s }}{{ c.s }}{{ c.s }}`, `{"c": {"s": "` + strings.Repeat("x", 700) + `"}}`},
	{"date", `{{ 'now' | date: "%F" }} {{ c.at | date: "%Y" }}`, `{"c": {"at": 1700000000}}`},
}

// TestProgramsMatchTheEngine renders templates that compile to programs
// both ways: renderText fails unless the program renders exactly what the
// engine does, errors included.
func TestProgramsMatchTheEngine(t *testing.T) {
	c := Compiler{MaxOutput: 2000}
	for _, tc := range programCases {
		t.Run(tc.name, func(t *testing.T) {
			tm, err := c.engine().compile("body", tc.src)
			require.NoError(t, err)
			require.NotNil(t, tm.prog, "the template compiles to a program")
			_, _ = renderText(t, c, tc.src, mustData(t, tc.data))
			lax := c
			lax.Lax = true
			_, _ = renderText(t, lax, tc.src, mustData(t, tc.data))
		})
	}
	// What a program cannot render in the same way is left to the engine.
	for _, src := range []string{
		"{%- if a -%} x {%- endif -%}",
		"{% for i in (1..3) %}{{ i }}{% endfor %}",
		"{% if c.tags contains 'a' %}x{% endif %}",
		"{% if (c.a or c.b) and c.c %}x{% endif %}",
		"{% if c.name | upcase %}x{% endif %}",
		"{% if c.name == blank %}x{% endif %}",
		"{% capture x %}{{ c }}{% endcapture %}{{ x }}",
		"{% case c %}{% when 1 %}x{% endcase %}",
		"{% raw %}{{ x }}{% endraw %}",
		"{{ c.name | split: ',' }}",
		"{% assign x = c.a == c.b %}{{ x }}",
	} {
		tm, err := c.engine().compile("body", src)
		require.NoError(t, err, src)
		assert.Nil(t, tm.prog, "%q needs the engine", src)
	}
}

// Values the engine does not hold as they are (pointers it dereferences,
// structs) make a program give way to the engine, which then renders them
// its way.
func TestProgramGivesWayToTheEngine(t *testing.T) {
	f := false
	s := "text"
	data := map[string]any{"c": map[string]any{"pf": &f, "ps": &s, "st": struct{ A int }{1}}}
	for _, src := range []string{
		`{% if c.pf %}true{% else %}false{% endif %}`,
		`{% if c.ps == "text" %}equal{% else %}different{% endif %}`,
		`{% assign x = c.st %}{% if x %}set{% endif %}`,
	} {
		got, err := renderText(t, Compiler{}, src, data)
		require.NoError(t, err, src)
		var c Compiler
		tm, err := c.engine().compile("body", src)
		require.NoError(t, err)
		engineOnly := *tm
		engineOnly.prog = nil
		want, err := executeTemplate(tm.eng, &engineOnly, data)
		require.NoError(t, err)
		assert.Equal(t, want, got, src)
	}
}

// TestGeneratedProgramsMatchTheEngine renders thousands of generated
// templates, conditions above all, over data of every kind, as programs
// and through the engine: the two must agree on every one.
func TestGeneratedProgramsMatchTheEngine(t *testing.T) {
	doc := `{"c": {"i": 1, "z": 0, "neg": -2, "f": 1.5, "fi": 1.0, "s": "1", "t": "text", "e": "", "n": null,
		"b": true, "no": false, "arr": [1, "1", null], "empty": [], "m": {"i": 1, "s": "x"}, "em": {}, "big": 12345678901234567890}}`
	data := mustData(t, doc)
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var numbers map[string]any
	require.NoError(t, dec.Decode(&numbers))

	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	operand := func() string {
		return pick("c.i", "c.z", "c.neg", "c.f", "c.fi", "c.s", "c.t", "c.e", "c.n", "c.b", "c.no", "c.arr", "c.empty",
			"c.m", "c.em", "c.big", "c.missing", "c.arr.size", "c.t.size", "c.m.i", "c.arr[0]", "c.arr[-1]", "c.arr.first",
			"c.m.size", "c.arr[c.i]", "c.arr[c.f]", "c.m[c.m.s]", "c[c.t]", "c.m[x]", "x", "0", "1", "-1", "1.5", "1.0", `"1"`, `"text"`, `""`, "'x'", "true", "false", "nil", "c")
	}
	rel := func() string {
		if rng.IntN(3) == 0 {
			return operand()
		}
		return operand() + " " + pick("==", "!=", "<", ">", "<=", ">=") + " " + operand()
	}
	cond := func() string {
		c := rel()
		for rng.IntN(3) == 0 {
			c += " " + pick("and", "or") + " " + rel()
		}
		return c
	}
	output := func() string {
		return "{{ " + operand() + pick("", "", " | json", " | upcase", ` | default: "d"`, ` | append: "!"`) + " }}"
	}
	var block func(depth int) string
	block = func(depth int) string {
		var b strings.Builder
		for range 1 + rng.IntN(3) {
			switch k := rng.IntN(5); {
			case k == 0:
				b.WriteString(pick("a", " ", "-", "\n"))
			case k == 1:
				b.WriteString(output())
			case k == 2:
				b.WriteString("{% assign x = " + operand() + pick("", " | upcase", ` | default: 2`) + " %}")
			case depth < 2:
				tag := pick("if", "if", "unless")
				b.WriteString("{% " + tag + " " + cond() + " %}" + block(depth+1))
				if tag == "if" {
					for rng.IntN(2) == 0 {
						b.WriteString("{% elsif " + cond() + " %}" + block(depth+1))
					}
				}
				if rng.IntN(2) == 0 {
					b.WriteString("{% else %}" + block(depth+1))
				}
				b.WriteString("{% end" + tag + " %}")
			}
		}
		return b.String()
	}

	programs := 0
	for _, c := range []Compiler{{}, {Lax: true}} {
		e := c.engine()
		for range 700 {
			src := block(0)
			tm, err := e.compile("body", src)
			require.NoError(t, err, src)
			if tm.prog == nil {
				continue
			}
			programs++
			engineOnly := *tm
			engineOnly.prog = nil
			for _, d := range []map[string]any{data, numbers} {
				got, gotErr := executeTemplate(e, tm, d)
				want, wantErr := executeTemplate(e, &engineOnly, d)
				if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Fatalf("program and engine disagree on %q (lax %v):\nprogram %q, %v\nengine  %q, %v", src, c.Lax, got, gotErr, want, wantErr)
				}
			}
		}
	}
	assert.Greater(t, programs, 1150, "most generated templates compile to programs")
}

// FuzzProgram: for any template that compiles to a program and any data,
// the program renders what the engine renders.
func FuzzProgram(f *testing.F) {
	for _, tc := range programCases {
		f.Add(tc.src, []byte(tc.data))
	}
	f.Add(`{% if a > b %}x{% elsif a == b or c %}{{ a }}{% else %}{{ b }}{% endif %}`, []byte(`{"a": 1, "b": "1", "c": [1]}`))
	f.Add(`{% unless a.size >= 2 and a[0] != nil %}{{ a | json }}{% endunless %}`, []byte(`{"a": [null, 2.5e3, {"k": "v"}]}`))
	f.Add(`{% assign a = b | default: c %}{% if a <= 3 %}{{ a | plus: 1 }}{% endif %}`, []byte(`{"b": null, "c": 2}`))
	f.Add(`{{ a.size }}{{ a.first }}{{ a["size"] }}`, []byte(`{"a": {"size": 9, "first": 1}}`))
	f.Add(`{% assign k = b[0] %}{{ a[k] }}{{ b[a.i] | default: a[b[1]] }}`, []byte(`{"a": {"x": 1, "i": 1}, "b": ["x", "y"]}`))
	c := Compiler{Timeout: 250 * time.Millisecond, MaxIterations: 2000, MaxOutput: 4 << 10, Now: fixedClock}
	lax := c
	lax.Lax = true
	f.Fuzz(func(t *testing.T, src string, doc []byte) {
		data, err := ParseData(doc)
		if err != nil {
			return
		}
		// The same data with numbers left as json.Number, which the engine
		// treats as text.
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var numbers map[string]any
		_ = dec.Decode(&numbers)
		for _, comp := range []Compiler{c, lax} {
			e := comp.engine()
			tm, err := e.compile("body", src)
			if err != nil || tm.prog == nil {
				continue
			}
			engineOnly := *tm
			engineOnly.prog = nil
			for _, d := range []map[string]any{data, numbers} {
				got, gotErr := executeTemplate(e, tm, d)
				want, wantErr := executeTemplate(e, &engineOnly, d)
				if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Fatalf("program and engine disagree on %q over %s (lax %v):\nprogram %q, %v\nengine  %q, %v", src, doc, comp.Lax, got, gotErr, want, wantErr)
				}
			}
		}
	})
}

// helpScoutCustomer is a 30-attribute customer for the Help Scout template.
func helpScoutCustomer() map[string]any {
	c := map[string]any{
		"id": "4471", "email": "kenji.watanabe@example.jp", "firstName": "Kenji", "lastName": "Watanabe",
		"comment": "Support took three days to answer my billing question.", "NPS_rating": 4,
	}
	for i := len(c); i < 30; i++ {
		c[fmt.Sprintf("attr_%02d", i)] = fmt.Sprintf("value %d", i)
	}
	return map[string]any{"customer": c}
}

func helpScoutSpec(b testing.TB) Spec {
	doc, err := os.ReadFile("examples/helpscout/action.json")
	if err != nil {
		b.Fatal(err)
	}
	s, err := ParseSpec(doc)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// helpScoutTextTemplate translates the Help Scout body to text/template.
func helpScoutTextTemplate(body string) string {
	r := strings.NewReplacer(
		"{{customer.", "{{.customer.",
		`{% assign current_time = 'now' %}{{current_time | date: "%F"}}`, `{{date "2006-01-02"}}`,
	)
	return r.Replace(body)
}

func BenchmarkRender(b *testing.B) {
	spec := helpScoutSpec(b)
	data := helpScoutCustomer()
	now := func() time.Time { return time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC) }
	a, err := (&Compiler{Now: now}).Compile(spec)
	if err != nil {
		b.Fatal(err)
	}
	funcs := template.FuncMap{"date": func(layout string) string { return now().UTC().Format(layout) }}
	tt := template.Must(template.New("body").Option("missingkey=error").Funcs(funcs).Parse(helpScoutTextTemplate(spec.Body)))

	// The two must agree, or the comparison means nothing.
	r, err := a.Render(data)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tt.Execute(&buf, data); err != nil {
		b.Fatal(err)
	}
	if buf.String() != string(r.Body) {
		b.Fatalf("text/template and Liquid disagree:\n%s\n%s", buf.String(), r.Body)
	}

	b.Run("impl=liquid/part=body", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// As Render does: into a pooled buffer, then a copy the
			// caller owns (the baseline allocates its buffer).
			run := a.eng.newRun(data, "", nil)
			if err := a.body.execute(&run.st, &run.sc, &run.body); err != nil {
				b.Fatal(err)
			}
			_ = bytes.Clone(run.body.buf)
			run.release()
		}
	})
	b.Run("impl=text_template/part=body", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf := bytes.NewBuffer(make([]byte, 0, a.bodyHint))
			if err := tt.Execute(buf, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=liquid/part=request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Render(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=text_template/part=request", func(b *testing.B) {
		// The URL and header have no markup, so only the body is executed:
		// the baseline gets every advantage.
		b.ReportAllocs()
		for b.Loop() {
			body := bytes.NewBuffer(make([]byte, 0, a.bodyHint))
			if err := tt.Execute(body, data); err != nil {
				b.Fatal(err)
			}
			r, err := newRequest(spec.Method, spec.URL, http.Header{"Content-Type": {spec.Headers["Content-Type"]}}, body.Bytes())
			if err != nil {
				b.Fatal(err)
			}
			r.IdempotencyKey = NewIdempotencyKey()
		}
	})
}

// BenchmarkCompile is the cost Render does not pay: parsing and
// instrumenting the Help Scout action.
func BenchmarkCompile(b *testing.B) {
	spec := helpScoutSpec(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(spec); err != nil {
			b.Fatal(err)
		}
	}
}
