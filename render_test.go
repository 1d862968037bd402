package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/liquidhook/webhook/internal/dialect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedNow is the clock every dialect test uses: 2021-02-25 23:30 in
// Auckland, which is still the 25th in UTC.
var fixedNow = time.Date(2021, 2, 26, 12, 30, 0, 0, time.FixedZone("NZDT", 13*3600))

func fixedClock() time.Time { return fixedNow }

// renderText compiles src as the text body of an Action with c and
// renders it over data.
func renderText(t *testing.T, c Compiler, src string, data map[string]any) (string, error) {
	t.Helper()
	if c.Now == nil {
		c.Now = fixedClock
	}
	a, err := c.Compile(Spec{URL: "https://example.com/", Headers: map[string]string{"Content-Type": "text/plain"}, Body: src})
	if err != nil {
		return "", err
	}
	r, err := a.Render(data)
	if err != nil {
		return "", err
	}
	return string(r.Body), nil
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

// cioZendeskBody is the Zendesk body exactly as Customer.io publishes it.
const cioZendeskBody = `{
"ticket": {
"subject": "{{customer.company_name}} has canceled their account.",
"comment": { "body":"{{event.feedback}}" },
"requester": { "name":"{{customer.firstName"}} {{customer.lastName"}},"email":"{{customer.email}}"
}
}
}`

// TestSentinelsAreTheDialects: the package's template errors are the
// dialect's own values, so errors.Is finds them whichever the caller names.
func TestSentinelsAreTheDialects(t *testing.T) {
	for _, pair := range [][2]error{
		{ErrTemplateSyntax, dialect.ErrTemplateSyntax},
		{ErrMissingVariable, dialect.ErrMissingVariable},
		{ErrLimitExceeded, dialect.ErrLimitExceeded},
		{ErrTemplate, dialect.ErrTemplate},
	} {
		assert.True(t, pair[0] == pair[1], "%v", pair[0])
		assert.True(t, strings.HasPrefix(pair[0].Error(), "webhook: "), "%v", pair[0])
	}
	_, err := renderText(t, Compiler{}, "a\n{{ customer.nope }}", mustData(t, customerDoc))
	var te *TemplateError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, TemplateError{Field: "body", Line: 2, Err: te.Err}, *te)
	assert.ErrorIs(t, err, dialect.ErrMissingVariable)
	assert.EqualError(t, err, "webhook: body: line 2: missing variable customer.nope")
}

// TestCompilerLimits: each of Compiler's limits bounds a render, which
// fails with ErrLimitExceeded naming the field, and leaves nothing running.
func TestCompilerLimits(t *testing.T) {
	cases := []struct {
		name   string
		c      Compiler
		src    string
		errHas string
	}{
		{name: "MaxIterations", c: Compiler{MaxIterations: 1000}, src: "{% for i in (1..1000000000) %}{% endfor %}", errHas: "more than 1000 loop iterations"},
		{name: "MaxIterations bounds arrays", c: Compiler{MaxIterations: 1000}, src: `{{ (1..1000000000) | join: "," }}`, errHas: "larger than 1000"},
		{name: "MaxOutput", c: Compiler{MaxOutput: 4096}, src: "{% for i in (1..900) %}0123456789{% endfor %}", errHas: "output larger than 4096 bytes"},
		{name: "MaxOutput bounds captures", c: Compiler{MaxOutput: 4096}, src: `{% assign s = "ab" %}{% for i in (1..64) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}`, errHas: "output larger than 4096 bytes"},
		{name: "Timeout", c: Compiler{Timeout: time.Millisecond, MaxIterations: 1 << 30}, src: `{% for i in (1..1000000000) %}{% assign x = i | plus: 1 %}{% endfor %}`, errHas: "took longer than 1ms"},
		{name: "the defaults", c: Compiler{}, src: "{% for i in (1..1000000000) %}{% endfor %}", errHas: "more than 100000 loop iterations"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			_, err := renderText(t, tc.c, tc.src, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrLimitExceeded)
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, "body", te.Field)
			assert.Contains(t, err.Error(), tc.errHas)
			assert.LessOrEqual(t, runtime.NumGoroutine(), before, "a render must not leave goroutines behind")
		})
	}
}

// TestDataIsNotModified: whatever the templates assign, capture, count
// or loop over, the caller's data is as it was, after a Render and after
// a response mapping.
func TestDataIsNotModified(t *testing.T) {
	data := mustData(t, customerDoc)
	before, err := json.Marshal(data)
	require.NoError(t, err)
	mutate := "{% assign customer = 1 %}{% capture event %}x{% endcapture %}{% increment amount %}{% for t in customer.tags %}{% endfor %}"
	a, err := Compile(Spec{
		URL:      "https://example.com/" + mutate,
		Headers:  map[string]string{"X-A": mutate, "Content-Type": "text/plain"},
		Body:     mutate + "{{ customer }}",
		Response: map[string]string{"a": mutate + "{% assign response = 2 %}{{ response }}"},
	})
	require.NoError(t, err)
	r, err := a.Render(data)
	require.NoError(t, err)
	assert.Equal(t, "01", string(r.Body), "the counter, then the assigned customer")
	attrs, err := a.Mapper(data).MapResponse(&Response{Status: 200, Body: []byte(`{"id": 1}`)})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": "02"}, attrs)
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

// From 32 goroutines, every Request and every mapping keeps what was
// rendered for it, after any number of later renders.
func TestRenderAndMapConcurrently(t *testing.T) {
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
// POST refuses and a text body sends.
func TestEmptyRenderedBodyIsNotNone(t *testing.T) {
	a, err := Compile(Spec{URL: "https://x.example", Body: "{% if false %}{}{% endif %}"})
	require.NoError(t, err)
	_, err = a.Render(nil)
	require.ErrorIs(t, err, ErrInvalidBody)
	text, err := Compile(Spec{URL: "https://x.example", Headers: map[string]string{"Content-Type": "text/plain"}, Body: "{% if false %}x{% endif %}"})
	require.NoError(t, err)
	r, err := text.Render(nil)
	require.NoError(t, err)
	assert.NotNil(t, r.Body)
	assert.Empty(t, r.Body)
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

	// The baseline writes into a buffer sized for the body up front.
	hint := len(spec.Body) + len(spec.Body)/2 + 64

	b.Run("impl=liquid/part=body", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// As Render does: one run, and a body the caller owns.
			s, err := a.body.render(a.opts.NewRun(data), nil)
			if err != nil {
				b.Fatal(err)
			}
			_ = []byte(s)
		}
	})
	b.Run("impl=text_template/part=body", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			body := bytes.NewBuffer(make([]byte, 0, hint))
			if err := tt.Execute(body, data); err != nil {
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
			body := bytes.NewBuffer(make([]byte, 0, hint))
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

// BenchmarkCompile is the cost Render does not pay: parsing the Help
// Scout action.
func BenchmarkCompile(b *testing.B) {
	spec := helpScoutSpec(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(spec); err != nil {
			b.Fatal(err)
		}
	}
}
