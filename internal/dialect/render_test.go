package dialect

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedNow is the clock every test uses: 2021-02-25 23:30 in Auckland,
// which is still the 25th in UTC.
var fixedNow = time.Date(2021, 2, 26, 12, 30, 0, 0, time.FixedZone("NZDT", 13*3600))

func fixedClock() time.Time { return fixedNow }

// renderText compiles src and renders it over data with opts.
func renderText(t *testing.T, opts Options, src string, data map[string]any) (string, error) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedClock
	}
	tm, err := Compile(src)
	if err != nil {
		return "", err
	}
	return opts.NewRun(data).Render(tm, nil)
}

// mustData decodes a JSON data document as the webhook package's
// ParseData does: integers that fit become int, other numbers float64.
func mustData(t *testing.T, doc string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.UseNumber()
	var v map[string]any
	require.NoError(t, dec.Decode(&v))
	var convert func(v any) any
	convert = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			if n, err := strconv.ParseInt(string(x), 10, strconv.IntSize); err == nil {
				return int(n)
			}
			f, err := strconv.ParseFloat(string(x), 64)
			require.NoError(t, err)
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
	return convert(v).(map[string]any)
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
	line    int    // the error's line, when wantErr is set and line > 0
}

func runDialect(t *testing.T, opts Options, data map[string]any, cases []dialectCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := renderText(t, opts, tc.src, data)
			if tc.wantErr != nil {
				require.Error(t, err, "rendered %q", got)
				assert.ErrorIs(t, err, tc.wantErr)
				var e *Error
				require.ErrorAs(t, err, &e)
				if tc.line > 0 {
					assert.Equal(t, tc.line, e.Line, "line of %v", err)
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

func TestLimits(t *testing.T) {
	small := Options{MaxIterations: 1000, MaxOutput: 4096}
	cases := []struct {
		name   string
		opts   Options
		src    string
		errHas string
	}{
		{name: "a huge range", opts: small, src: "{% for i in (1..1000000000) %}{% endfor %}", errHas: "more than 1000 loop iterations"},
		{name: "nested loops", opts: small, src: "{% for i in (1..100) %}{% for j in (1..100) %}{% endfor %}{% endfor %}", errHas: "more than 1000 loop iterations"},
		{name: "tablerow", opts: Options{MaxIterations: 1000}, src: "{% tablerow i in (1..1000000000) %}{% endtablerow %}", errHas: "more than 1000 loop iterations"},
		{name: "output", opts: small, src: "{% for i in (1..900) %}0123456789{% endfor %}", errHas: "output larger than 4096 bytes"},
		{name: "output in raw", opts: small, src: "{% for i in (1..900) %}{% raw %}0123456789{% endraw %}{% endfor %}", errHas: "output larger than 4096 bytes"},
		{name: "a string doubled with append", opts: small, src: `{% assign s = "ab" %}{% for i in (1..64) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}`, errHas: "output larger"},
		{name: "a string doubled with capture", opts: small, src: `{% assign s = "ab" %}{% for i in (1..64) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}`, errHas: "output larger"},
		{name: "text in a capture in a loop", opts: small, src: `{% capture s %}{% for i in (1..900) %}0123456789{% endfor %}{% endcapture %}`, errHas: "output larger"},
		{name: "a string multiplied with replace", opts: small, src: `{% assign s = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" %}{{ s | replace: "a", s | replace: "a", s }}`, errHas: "output larger"},
		{name: "an array doubled with concat", opts: small, src: `{% assign a = "x,y" | split: "," %}{% for i in (1..64) %}{% assign a = a | concat: a %}{% endfor %}`, errHas: "array larger than 1000"},
		{name: "a huge range given to a filter", opts: small, src: `{{ (1..1000000000) | join: "," }}`, errHas: "larger than 1000"},
		{name: "a huge range reversed", opts: small, src: `{{ (1..1000000000) | reverse | first }}`, errHas: "larger than 1000"},
		{name: "a huge range as a filter argument", opts: small, src: `{{ "x" | split: "," | concat: (1..1000000000) }}`, errHas: "larger than 1000"},
		{name: "a huge range sliced", opts: small, src: `{{ (1..1000000000) | slice: 0, 2 }}`, errHas: "larger than 1000"},
		{name: "a huge range in json", opts: small, src: `{{ (1..1000000000) | json }}`, errHas: "larger than"},
		{name: "a strftime width bomb", opts: small, src: `{{ 'now' | date: "%1000000Y%1000000Y" }}`, errHas: "output larger"},
		{name: "a long join", opts: small, src: `{% assign a = "x" | split: "," %}{% for i in (1..9) %}{% assign a = a | concat: a %}{% endfor %}{% assign s = "0123456789" %}{% for i in (1..9) %}{% assign s = s | append: s %}{% endfor %}{{ a | join: s }}`, errHas: "output larger"},
		{name: "the deadline", opts: Options{Timeout: time.Millisecond, MaxIterations: 1 << 30}, src: `{% for i in (1..1000000000) %}{% assign x = i | plus: 1 %}{% endfor %}`, errHas: "took longer than 1ms"},
		{name: "a static text over the cap", opts: Options{MaxOutput: 3}, src: "four", errHas: "output larger than 3 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderText(t, tc.opts, tc.src, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrLimitExceeded)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Contains(t, err.Error(), tc.errHas)
		})
	}
}

// A Run's templates share one budget: the iterations one spends are gone
// for the next, and a limit hit fails every later render of the Run.
func TestRunSharesOneBudget(t *testing.T) {
	loop, err := Compile("{% for i in (1..60) %}x{% endfor %}")
	require.NoError(t, err)
	run := Options{MaxIterations: 100}.NewRun(nil)
	out, err := run.Render(loop, nil)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("x", 60), out)
	_, err = run.Render(loop, nil)
	require.ErrorIs(t, err, ErrLimitExceeded)
	static, err := Compile("plain")
	require.NoError(t, err)
	_, err = run.Render(static, nil)
	assert.ErrorIs(t, err, ErrLimitExceeded, "a Run that ran out stays out")

	// A new Run has a new budget.
	_, err = Options{MaxIterations: 100}.NewRun(nil).Render(loop, nil)
	assert.NoError(t, err)
}

// Variables set with Set sit beside the data and hide a data key of the
// same name; assigns stay within the template that made them.
func TestRunVariables(t *testing.T) {
	run := Options{}.NewRun(map[string]any{"customer": map[string]any{"id": 7}, "response": "data"})
	run.Set("response", map[string]any{"id": "r1"})
	tm, err := Compile(`{{ response.id }}-{{ customer.id }}{% assign x = 1 %}`)
	require.NoError(t, err)
	out, err := run.Render(tm, nil)
	require.NoError(t, err)
	assert.Equal(t, "r1-7", out)
	other, err := Compile(`{{ x | default: "unset" }}`)
	require.NoError(t, err)
	out, err = run.Render(other, nil)
	require.NoError(t, err)
	assert.Equal(t, "unset", out)
}

func TestLiteral(t *testing.T) {
	for src, want := range map[string]bool{"https://example.com/x": true, "": true, "a { b } %": true, "{{ x }}": false, "{% if x %}{% endif %}": false} {
		tm, err := Compile(src)
		require.NoError(t, err)
		text, ok := tm.Literal()
		assert.Equal(t, want, ok, src)
		if ok {
			assert.Equal(t, src, text)
		}
	}
}

func TestDataIsNotModified(t *testing.T) {
	data := mustData(t, customerDoc)
	before, err := json.Marshal(data)
	require.NoError(t, err)
	_, err = renderText(t, Options{}, "{% assign customer = 1 %}{% capture event %}x{% endcapture %}{% increment created %}{% for t in data %}{% endfor %}", data)
	require.NoError(t, err)
	after, err := json.Marshal(data)
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after))
}

// TestPrintHook: the hook sees each value printed into the template's own
// output, with what came before it and the last filter, and can replace
// it or fail the render; captures are not its business.
func TestPrintHook(t *testing.T) {
	data := mustData(t, `{"c": {"id": "a/b c", "n": 5, "tags": ["x", "y"]}}`)
	type seen struct {
		text, output, filter string
		value                any
	}
	var calls []seen
	escape := func(p Print) (string, error) {
		calls = append(calls, seen{p.Text, string(p.Output), p.Filter, p.Value})
		if p.Filter == "url_encode" {
			return p.Text, nil
		}
		if p.Text == "refuse" {
			return "", errors.New("refused")
		}
		return strings.ReplaceAll(p.Text, "/", "%2F"), nil
	}
	tm, err := Compile(`/people/{{ c.id }}?n={{ c.n }}&q={{ c.id | url_encode }}{% capture x %}{{ c.id }}{% endcapture %}&x={{ x | upcase }}{% echo c.tags %}`)
	require.NoError(t, err)
	out, err := Options{}.NewRun(data).Render(tm, escape)
	require.NoError(t, err)
	assert.Equal(t, `/people/a%2Fb c?n=5&q=a%2Fb+c&x=A%2FB Cxy`, out)
	require.Len(t, calls, 5)
	assert.Equal(t, seen{"a/b c", "/people/", "", "a/b c"}, calls[0])
	assert.Equal(t, seen{"5", "/people/a%2Fb c?n=", "", 5}, calls[1])
	assert.Equal(t, seen{"a%2Fb+c", "/people/a%2Fb c?n=5&q=", "url_encode", "a%2Fb+c"}, calls[2])
	assert.Equal(t, "upcase", calls[3].filter, "the capture's own print is not seen")
	assert.Equal(t, "xy", calls[4].text)
	var sources []string
	source := func(p Print) (string, error) { sources = append(sources, p.Source); return p.Text, nil }
	_, err = Options{}.NewRun(data).Render(tm, source)
	require.NoError(t, err)
	assert.Equal(t, []string{"c.id", "c.n", "c.id | url_encode", "x | upcase", "c.tags"}, sources)

	// cycle and ifchanged print what they print through the hook too.
	sources = nil
	tags, err := Compile(`{% cycle c.id, 'b' %}{% ifchanged %}{{ c.id }}{% endifchanged %}`)
	require.NoError(t, err)
	out, err = Options{}.NewRun(data).Render(tags, escape)
	require.NoError(t, err)
	assert.Equal(t, "a%2Fb ca%2Fb c", out)
	_, err = Options{}.NewRun(data).Render(tags, source)
	require.NoError(t, err)
	assert.Equal(t, []string{"cycle", "ifchanged"}, sources)

	refuse, err := Compile("a\n{{ 'refuse' }}")
	require.NoError(t, err)
	_, err = Options{}.NewRun(nil).Render(refuse, escape)
	require.Error(t, err)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 2, e.Line)
	assert.Contains(t, err.Error(), "refused")
}
