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

	"github.com/osteele/tuesday"
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
	st := e.newState()
	w := &outWriter{max: e.maxOutput, st: st, eng: e}
	if err := tm.execute(st, bindings(data, st, "", nil), w); err != nil {
		return "", err
	}
	return string(w.buf), nil
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

func TestPrinting(t *testing.T) {
	data := mustData(t, customerDoc)
	data["go"] = map[string]any{
		"float":    float64(1.7e9),
		"small":    1e-7,
		"jnum":     json.Number("12345678901234567890"),
		"int64":    int64(9007199254740993),
		"uint":     uint8(7),
		"bytes":    []byte("raw"),
		"strings":  []string{"x", "y"},
		"nested":   []any{"a", []any{"b", "c"}, map[string]any{"k": 1}},
		"strmap":   map[string]string{"b": "2", "a": "1"},
		"time":     time.Date(2021, 2, 25, 15, 3, 4, 0, time.FixedZone("X", 3600)),
		"inf":      float32(2.5),
		"ctrl":     "a\x01b\x7fc\u2028d#{e}",
		"invalid":  "x\xffy",
		"trillion": 1e21,
	}
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "string", src: "{{ customer.first_name }}", want: "Ann"},
		{name: "integer from JSON", src: "{{ customer.created_at }}", want: "1700000000"},
		{name: "float from JSON", src: "{{ customer.price }}", want: "12.5"},
		{name: "large integer exact", src: "{{ customer.big }}", want: "12345678901234567"},
		{name: "negative", src: "{{ customer.neg }}", want: "-42"},
		{name: "boolean", src: "{{ customer.active }}", want: "true"},
		{name: "null prints nothing", src: "[{{ customer.nothing }}]", want: "[]"},
		{name: "float64 Unix time has no exponent", src: "{{ go.float }}", want: "1700000000"},
		{name: "tiny float has no exponent", src: "{{ go.small }}", want: "0.0000001"},
		{name: "huge float has no exponent", src: "{{ go.trillion }}", want: "1000000000000000000000"},
		{name: "json.Number prints as written", src: "{{ go.jnum }}", want: "12345678901234567890"},
		{name: "int64 beyond 2^53", src: "{{ go.int64 }}", want: "9007199254740993"},
		{name: "uint8", src: "{{ go.uint }}", want: "7"},
		{name: "float32", src: "{{ go.inf }}", want: "2.5"},
		{name: "bytes print as text", src: "{{ go.bytes }}", want: "raw"},
		{name: "array prints its items run together", src: "{{ customer.tags }}", want: "vipbeta"},
		{name: "nested array flattens, objects inspect", src: "{{ go.nested }}", want: `abc{"k"=>1}`},
		{name: "typed slice", src: "{{ go.strings }}", want: "xy"},
		{name: "time in UTC", src: "{{ go.time }}", want: "2021-02-25 14:03:04 +0000"},
		{name: "object in Ruby hash style, keys sorted", src: "{{ customer.address }}", want: `{"city"=>"Köln", "zip"=>"50667"}`},
		{name: "typed map", src: "{{ go.strmap }}", want: `{"a"=>"1", "b"=>"2"}`},
		{name: "whole object", src: `{{ event }}`, want: `{"items"=>[{"qty"=>2, "sku"=>"a"}, {"qty"=>3, "sku"=>"b"}], "name"=>"signup", "timestamp"=>1614265384}`},
		{name: "escapes like Ruby inspect", src: `{{ go }}`, errHas: "", want: `{"bytes"=>"raw", "ctrl"=>"a\u0001b\u007Fc\u2028d\#{e}", "float"=>1700000000, "inf"=>2.5, "int64"=>9007199254740993, "invalid"=>"x\xFFy", "jnum"=>12345678901234567890, "nested"=>["a", ["b", "c"], {"k"=>1}], "small"=>0.0000001, "strings"=>["x", "y"], "strmap"=>{"a"=>"1", "b"=>"2"}, "time"=>"2021-02-25 14:03:04 +0000", "trillion"=>1000000000000000000000, "uint"=>7}`},
		{name: "quotes, backslashes, newlines, non-ASCII in a hash", src: `{{ customer.tags | map: "x" | size }}{{ customer.quote }}|{{ customer.address | replace: "=>", ":" }}`, want: "2say \"hi\"\\n\tnow é ✓|{\"city\":\"Köln\", \"zip\":\"50667\"}"},
		{name: "index and first/last/size", src: "{{ customer.tags[0] }} {{ customer.tags[-1] }} {{ customer.tags.first }} {{ customer.tags.last }} {{ customer.tags.size }} {{ customer.first_name.size }} {{ customer.address.size }}", want: "vip beta vip beta 2 3 2"},
		{name: "quoted key", src: `{{ customer["first_name"] }}`, want: "Ann"},
		{name: "arithmetic on JSON numbers", src: "{{ customer.amount | plus: 12.5 }} {{ customer.amount | times: 3 }} {{ customer.price | minus: 0.5 }} {{ customer.created_at | plus: 1 }}", want: "112.5 300 12 1700000001"},
		{name: "comparisons on JSON numbers", src: "{% if customer.amount > 99 and customer.price < 13 and customer.amount == 100 %}yes{% endif %}", want: "yes"},
		{name: "a number in a range", src: "{% for i in (1..customer.tags.size) %}{{ i }}{% endfor %}", want: "12"},
		{name: "numbers where text is expected stay exact", src: "{{ go.float | append: '!' }} {{ 'x' | prepend: go.float }} {{ go.float | upcase }}", want: "1700000000! 1700000000x 1700000000"},
		{name: "the seed's replace idiom yields JSON", src: `{{ customer.address | replace: "=>", ":" }}`, want: `{"city":"Köln", "zip":"50667"}`},
	})
}

func TestObjectPrintsLikeCustomerIO(t *testing.T) {
	got, err := renderText(t, Compiler{}, "{{ customer }}", mustData(t, `{"customer": {"n": null, "id": "1"}}`))
	require.NoError(t, err)
	assert.Equal(t, `{"id"=>"1", "n"=>nil}`, got)
}

func TestReplaceIdiomIsJSON(t *testing.T) {
	data := mustData(t, `{"customer": {"id": "1", "n": 3, "f": 2.5, "ok": true, "tags": ["a", "b"], "addr": {"city": "Zürich", "line": "5 \"Main\" St\\\\2\nnext"}}}`)
	got, err := renderText(t, Compiler{}, `{{ customer | replace: "=>", ":" }}`, data)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal([]byte(got), &back), got)
	assert.Equal(t, "5 \"Main\" St\\\\2\nnext", back["addr"].(map[string]any)["line"])
	assert.Equal(t, 3.0, back["n"])
}

func TestJSONFilter(t *testing.T) {
	data := mustData(t, customerDoc)
	data["go"] = map[string]any{"nan": []any{1.5}, "html": "<a href=\"x\">&</a>", "sep": "a\u2028b", "bad": "x\xffy", "when": time.Date(2021, 2, 25, 15, 3, 4, 5, time.UTC)}
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "string", src: "{{ customer.quote | json }}", want: `"say \"hi\"\\n\tnow é ✓"`},
		{name: "no HTML escaping", src: "{{ go.html | json }}", want: `"<a href=\"x\">&</a>"`},
		{name: "line separators escaped, bad UTF-8 replaced", src: "{{ go.sep | json }} {{ go.bad | json }}", want: `"a\u2028b" "x\ufffdy"`},
		{name: "object with sorted keys", src: "{{ customer.address | json }}", want: `{"city":"Köln","zip":"50667"}`},
		{name: "numbers", src: "{{ customer.created_at | json }} {{ customer.price | json }} {{ go.nan | json }}", want: "1700000000 12.5 [1.5]"},
		{name: "null", src: "{{ customer.nothing | json }}", want: "null"},
		{name: "time", src: "{{ go.when | json }}", want: `"2021-02-25T15:03:04.000000005Z"`},
		{name: "range", src: "{{ (1..3) | json }}", want: "[1,2,3]"},
		{name: "missing with default", src: `{{ customer.nope | default: "n/a" | json }}`, want: `"n/a"`},
		{name: "missing without default fails", src: `{{ customer.nope | json }}`, wantErr: ErrMissingVariable, errHas: "customer.nope"},
	})
	got, err := renderText(t, Compiler{}, "{{ customer | json }}", data)
	require.NoError(t, err)
	assert.True(t, json.Valid([]byte(got)), got)
}

func TestDates(t *testing.T) {
	data := mustData(t, `{"event": {"ts": 1614265384, "ts_text": "1614265384", "ts_float": 1614265384.5, "iso": "2021-02-25T16:03:04+01:00", "day": "2021-02-25", "junk": "not a date", "nothing": null}}`)
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "now in UTC", src: `{{ 'now' | date: "%F" }}`, want: "2021-02-25"},
		{name: "the seed's Help Scout idiom", src: `{% assign current_time = 'now' %}{{current_time | date: "%F"}}`, want: "2021-02-25"},
		{name: "today", src: `{{ "today" | date: "%Y-%m-%d %H:%M" }}`, want: "2021-02-25 23:30"},
		{name: "Unix seconds", src: `{{ event.ts | date: "%F %T %z" }}`, want: "2021-02-25 15:03:04 +0000"},
		{name: "Unix seconds as text", src: `{{ event.ts_text | date: "%s" }}`, want: "1614265384"},
		{name: "Unix seconds with a fraction", src: `{{ event.ts_float | date: "%T.%L" }}`, want: "15:03:04.500"},
		{name: "RFC 3339 converted to UTC", src: `{{ event.iso | date: "%H:%M %Z" }}`, want: "15:03 UTC"},
		{name: "a day", src: `{{ event.day | date: "%d %B %Y" }}`, want: "25 February 2021"},
		{name: "unreadable stays as it is", src: `{{ event.junk | date: "%F" }}`, want: "not a date"},
		{name: "null stays empty", src: `[{{ event.nothing | date: "%F" }}]`, want: "[]"},
		{name: "no format returns the input", src: `{{ event.ts | date: "" }}`, want: "1614265384"},
	})
}

func TestStringFilters(t *testing.T) {
	data := mustData(t, `{"s": "a b&c=d/é", "enc": "a+b%20c%zz", "tags": ["x", null, ["y", "z"], 3]}`)
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "url_encode", src: "{{ s | url_encode }}", want: "a+b%26c%3Dd%2F%C3%A9"},
		{name: "url_decode is lenient", src: "{{ enc | url_decode }}", want: "a b c%zz"},
		{name: "base64 round trip", src: "{{ s | base64_encode }} {{ s | base64_encode | base64_decode }}", want: "YSBiJmM9ZC/DqQ== a b&c=d/é"},
		{name: "base64 url-safe", src: "{{ '??>' | base64_url_safe_encode }} {{ 'Pz8-' | base64_url_safe_decode }}", want: "Pz8- ??>"},
		{name: "digests", src: "{{ 'abc' | md5 }} {{ 'abc' | sha1 }}", want: "900150983cd24fb0d6963f7d28e17f72 a9993e364706816aba3e25717850c26c9cd0d89d"},
		{name: "sha256", src: "{{ 'abc' | sha256 }}", want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{name: "hmac_sha256 (RFC 4231 case 2)", src: "{{ 'what do ya want for nothing?' | hmac_sha256: 'Jefe' }}", want: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{name: "join skips nil and flattens", src: "{{ tags | join: ',' }}", want: "x,y,z,3"},
		{name: "join default separator", src: "{{ tags | join }}", want: "x y z 3"},
		{name: "replace family", src: "{{ 'aXbXc' | replace: 'X', '-' }} {{ 'aXbXc' | replace_first: 'X', '-' }} {{ 'aXbXc' | replace_last: 'X', '-' }}", want: "a-b-c a-bXc aXb-c"},
		{name: "standard filters still work", src: "{{ 'Hello' | upcase }} {{ '  x ' | strip }} {{ 'a,b' | split: ',' | size }} {{ tags | size }}", want: "HELLO x 2 4"},
		{name: "bad base64 fails", src: "{{ '%%%' | base64_decode }}", wantErr: ErrTemplate, errHas: "base64"},
	})
}

func TestMissingVariables(t *testing.T) {
	data := mustData(t, customerDoc)
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "attribute", src: "Hi\n{{ customer.firstName }}", wantErr: ErrMissingVariable, errHas: "body: line 2: missing variable customer.firstName", line: 2},
		{name: "variable", src: "{{ person.name }}", wantErr: ErrMissingVariable, errHas: "missing variable person.name"},
		{name: "top-level variable", src: "{{ nobody }}", wantErr: ErrMissingVariable, errHas: "missing variable nobody"},
		{name: "attribute of null", src: "{{ customer.no_address.city }}", wantErr: ErrMissingVariable, errHas: "customer.no_address.city"},
		{name: "attribute of text", src: "{{ customer.email.domain }}", wantErr: ErrMissingVariable, errHas: "customer.email.domain"},
		{name: "index out of range", src: "{{ customer.tags[5] }}", wantErr: ErrMissingVariable, errHas: "customer.tags[5]"},
		{name: "quoted key", src: `{{ customer["last name"] }}`, wantErr: ErrMissingVariable, errHas: `customer["last name"]`},
		{name: "through filters", src: "{{ customer.nickname | upcase }}", wantErr: ErrMissingVariable, errHas: "customer.nickname"},
		{name: "as a filter argument", src: "{{ 'a' | append: customer.nickname }}", wantErr: ErrMissingVariable, errHas: "customer.nickname"},
		{name: "default's own argument", src: "{{ customer.nickname | default: customer.alias }}", wantErr: ErrMissingVariable, errHas: "customer.alias"},
		{name: "size of a missing attribute, printed", src: "{{ customer.nickname.size }}", wantErr: ErrMissingVariable, errHas: "customer.nickname.size"},
		{name: "assigned", src: "{% assign n = customer.nickname | capitalize %}{{ n }}", wantErr: ErrMissingVariable, errHas: "customer.nickname"},
		{name: "inside a loop on its own line", src: "{% for t in customer.tags %}\n{{ t }}\n{{ t.x }}\n{% endfor %}", wantErr: ErrMissingVariable, line: 3},

		{name: "null is present", src: "[{{ customer.nothing }}]", want: "[]"},
		{name: "empty text is present", src: "[{{ customer.empty }}]", want: "[]"},
		{name: "default", src: `{{ customer.nickname | default: "friend" }}`, want: "friend"},
		{name: "default after other filters", src: `{{ customer.nickname | upcase | default: "friend" }}`, want: "friend"},
		{name: "default with named argument", src: `{{ customer.active | default: "x", allow_false: true }}`, want: "true"},
		{name: "if", src: "{% if customer.nickname %}a{% else %}b{% endif %}", want: "b"},
		{name: "unless", src: "{% unless customer.nickname %}u{% endunless %}", want: "u"},
		{name: "elsif", src: "{% if false %}a{% elsif customer.nickname %}b{% else %}c{% endif %}", want: "c"},
		{name: "comparison", src: "{% if customer.nickname == 'x' or customer.age > 3 %}a{% else %}b{% endif %}", want: "b"},
		{name: "size comparison, as in the seed's Close example", src: "{% if customer.company_url.size > 0 %}{{ customer.company_url }}{%else %}mycompany.com{% endif %}", want: "mycompany.com"},
		{name: "case", src: "{% case customer.plan %}{% when 'pro' %}p{% else %}other{% endcase %}", want: "other"},
		{name: "for", src: "[{% for x in customer.nope %}{{ x }}{% endfor %}]", want: "[]"},
		{name: "assign with default", src: "{% assign n = customer.nickname | default: 'N' %}{{ n }}", want: "N"},
		{name: "assign a comparison", src: "{% assign has = customer.nickname != blank %}{{ has }}", want: "false"},
		{name: "contains", src: "{% if customer.roles contains 'admin' %}a{% else %}b{% endif %}", want: "b"},
	})
}

func TestBlankAndEmpty(t *testing.T) {
	data := mustData(t, customerDoc)
	test := func(cond string) string {
		return "{% if " + cond + " %}T{% else %}F{% endif %}"
	}
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "missing is blank", src: test("customer.nickname == blank"), want: "T"},
		{name: "missing != blank", src: test("customer.nickname != blank"), want: "F"},
		{name: "null is blank", src: test("customer.nothing == blank"), want: "T"},
		{name: "empty text is blank", src: test("customer.empty == blank"), want: "T"},
		{name: "spaces are blank", src: test("customer.spaces == blank"), want: "T"},
		{name: "text is not blank", src: test("customer.first_name != blank"), want: "T"},
		{name: "empty array is blank", src: test("customer.no_tags == blank"), want: "T"},
		{name: "false is blank", src: test("false == blank"), want: "T"},
		{name: "blank on the left", src: test("blank != customer.first_name"), want: "T"},
		{name: "with and", src: test("customer.first_name != blank and customer.empty == blank"), want: "T"},
		{name: "with or", src: test("customer.empty != blank or customer.tags.first == 'vip'"), want: "T"},
		{name: "nested property", src: test("customer.address.city != blank"), want: "T"},
		{name: "indexed", src: test("customer.tags[0] != blank"), want: "T"},
		{name: "unless", src: "{% unless customer.empty == blank %}x{% else %}blank{% endunless %}", want: "blank"},
		{name: "empty text is empty", src: test("customer.empty == empty"), want: "T"},
		{name: "spaces are not empty", src: test("customer.spaces == empty"), want: "F"},
		{name: "null is not empty", src: test("customer.nothing == empty"), want: "F"},
		{name: "empty array is empty", src: test("customer.no_tags == empty"), want: "T"},
		{name: "printed comparison", src: "{{ customer.empty == blank }}", want: "true"},
		{name: "literal text", src: test(`"" == blank`), want: "T"},
	})
}

func TestLaxMode(t *testing.T) {
	data := mustData(t, customerDoc)
	runDialect(t, Compiler{Lax: true}, data, []dialectCase{
		{name: "missing prints empty", src: "[{{ customer.nickname }}]", want: "[]"},
		{name: "through filters", src: "[{{ customer.nickname | upcase }}]", want: "[]"},
		{name: "assigned", src: "{% assign n = customer.nickname %}[{{ n }}]", want: "[]"},
		{name: "syntax errors still fail", src: "{{ customer.x | nofilter }}", wantErr: ErrTemplateSyntax},
	})
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

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		name   string
		src    string
		line   int
		errHas string
	}{
		{name: "the seed's Zendesk typo", src: seedZendeskBody, line: 5, errHas: `customer.firstName\"`},
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

// seedZendeskBody is the Zendesk body exactly as the seed publishes it.
const seedZendeskBody = `{
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

func TestCyclicDataFails(t *testing.T) {
	m := map[string]any{"name": "loop"}
	m["self"] = m
	for _, src := range []string{"{{ m }}", "{{ m | json }}", "{{ m | upcase }}"} {
		t.Run(src, func(t *testing.T) {
			_, err := renderText(t, Compiler{}, src, map[string]any{"m": m})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrLimitExceeded)
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

func TestParseData(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		check   func(t *testing.T, d map[string]any)
		wantErr error
		line    int
		column  int
		errHas  string
	}{
		{name: "numbers", doc: `{"a": 1, "b": -2.50, "c": 1.7e9, "d": 12345678901234567890, "e": [1, {"f": 2}], "g": 0}`, check: func(t *testing.T, d map[string]any) {
			assert.Equal(t, 1, d["a"])
			assert.Equal(t, -2.5, d["b"])
			assert.Equal(t, 1.7e9, d["c"])
			assert.Equal(t, 12345678901234567890.0, d["d"])
			assert.Equal(t, 1, d["e"].([]any)[0])
			assert.Equal(t, 2, d["e"].([]any)[1].(map[string]any)["f"])
			assert.Equal(t, 0, d["g"])
		}},
		{name: "empty object", doc: " {} ", check: func(t *testing.T, d map[string]any) { assert.Empty(t, d) }},
		{name: "not an object", doc: "\n [1]", wantErr: ErrInvalidData, line: 2, column: 2, errHas: "JSON object"},
		{name: "null", doc: "null", wantErr: ErrInvalidData, errHas: "JSON object"},
		{name: "syntax error", doc: "{\n  \"a\": 1,\n  \"b\": tru\n}", wantErr: ErrInvalidData, line: 3, column: 11},
		{name: "truncated", doc: "{\"a\": ", wantErr: ErrInvalidData, errHas: "unexpected end"},
		{name: "trailing text", doc: "{}\n{}", wantErr: ErrInvalidData, line: 2, column: 1, errHas: "after the object"},
		{name: "number out of range", doc: `{"a": {"b": [1e999]}}`, wantErr: ErrInvalidData, errHas: "a.b[0]: number 1e999 is out of range"},
		{name: "empty", doc: "", wantErr: ErrInvalidData},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseData([]byte(tc.doc))
			if tc.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.wantErr)
				var pe *ParseError
				require.ErrorAs(t, err, &pe)
				if tc.line > 0 {
					assert.Equal(t, tc.line, pe.Line, "%v", err)
					assert.Equal(t, tc.column, pe.Column, "%v", err)
				}
				if tc.errHas != "" {
					assert.Contains(t, err.Error(), tc.errHas)
				}
				return
			}
			require.NoError(t, err)
			tc.check(t, d)
		})
	}
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
	got, err := a.renderResponse(data, map[string]any{"id": "lead_42", "score": 5, "labels": []any{"a", "b"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"lead_id": "lead_42", "score": "7", "label": "a/b"}, got)

	_, err = a.renderResponse(data, map[string]any{"score": 1, "labels": []any{}})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrMissingVariable)
	var te *TemplateError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "response.lead_id", te.Field)
	assert.Contains(t, err.Error(), "missing variable response.id")

	_, err = a.renderResponse(data, "plain text body")
	assert.ErrorIs(t, err, ErrMissingVariable)

	none, err := Compile(Spec{URL: "https://x.example"})
	require.NoError(t, err)
	got, err = none.renderResponse(data, nil)
	require.NoError(t, err)
	assert.Nil(t, got)
}

// TestFastStrftimeMatchesTuesday checks the plain directives formatted
// here against tuesday, which formats everything else.
func TestFastStrftimeMatchesTuesday(t *testing.T) {
	times := []time.Time{
		time.Date(2021, 2, 25, 15, 3, 4, 5e8, time.UTC),
		time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC),
		time.Date(5, 7, 4, 1, 2, 3, 0, time.UTC),
		time.Date(2023, 6, 5, 9, 30, 0, 0, time.FixedZone("X", -(9*3600+30*60))),
	}
	for _, code := range fastDirectives {
		format := "<%" + string(code) + ">"
		parts, ok := compileFast(format)
		require.True(t, ok, format)
		df := &dateFormat{parts: parts}
		for _, tm := range times {
			want, err := tuesday.Strftime(format, tm)
			require.NoError(t, err)
			assert.Equal(t, want, df.format(tm), "%s at %v", format, tm)
		}
	}
	for _, format := range []string{"%-d", "%_m", "%10Y", "%:z", "%c", "%", "abc%"} {
		_, ok := compileFast(format)
		assert.False(t, ok, format)
	}
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
		"{% tablerow t in customer.tags cols: 2 %}{{ t }}{% endtablerow %}",
		"{{ customer.tags[0] | upcase | prepend: customer.name | default: 'x' }}",
		"{% cycle 'a' %}{% break %}{{ x | divided_by: 0 }}",
		seedZendeskBody,
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
			if _, err := a.renderResponse(data, data); err != nil {
				require.True(t, slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }), "response: %v", err)
			}
		}
	})
}

func FuzzParseData(f *testing.F) {
	for _, seed := range []string{customerDoc, `{}`, `{"a": 1e999}`, `[1]`, `{"a": -0, "b": 1.5e3, "c": 9223372036854775808}`, `{"a": {"b": [null, true]}}`, `{`, `{} x`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := ParseData(doc)
		if err != nil {
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			require.ErrorIs(t, err, ErrInvalidData)
			return
		}
		require.NotNil(t, d)
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case json.Number:
				t.Fatalf("json.Number %s left in the data", x)
			case map[string]any:
				for _, item := range x {
					walk(item)
				}
			case []any:
				for _, item := range x {
					walk(item)
				}
			}
		}
		walk(d)
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
			st := a.eng.newState()
			w := &outWriter{buf: make([]byte, 0, a.bodyHint), max: a.eng.maxOutput, st: st, eng: a.eng}
			if err := a.body.execute(st, bindings(data, st, "", nil), w); err != nil {
				b.Fatal(err)
			}
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
