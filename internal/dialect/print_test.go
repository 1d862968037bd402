package dialect

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
		"f32":      float32(2.5),
		"ctrl":     "a\x01b\x7fc\u2028d#{e}",
		"invalid":  "x\xffy",
		"trillion": 1e21,
	}
	runDialect(t, Options{}, data, []dialectCase{
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
		{name: "json.Number is text", src: "{{ go.jnum | size }} {{ go.jnum | append: '!' }}", want: "20 12345678901234567890!"},
		{name: "int64 beyond 2^53", src: "{{ go.int64 }}", want: "9007199254740993"},
		{name: "uint8", src: "{{ go.uint }}", want: "7"},
		{name: "float32", src: "{{ go.f32 }}", want: "2.5"},
		{name: "bytes print as text", src: "{{ go.bytes }}", want: "raw"},
		{name: "array prints its items run together", src: "{{ customer.tags }}", want: "vipbeta"},
		{name: "nested array flattens, objects inspect", src: "{{ go.nested }}", want: `abc{"k"=>1}`},
		{name: "typed slice", src: "{{ go.strings }}", want: "xy"},
		{name: "time in UTC", src: "{{ go.time }}", want: "2021-02-25 14:03:04 +0000"},
		{name: "object in Ruby hash style, keys sorted", src: "{{ customer.address }}", want: `{"city"=>"Köln", "zip"=>"50667"}`},
		{name: "typed map", src: "{{ go.strmap }}", want: `{"a"=>"1", "b"=>"2"}`},
		{name: "whole object", src: `{{ event }}`, want: `{"items"=>[{"qty"=>2, "sku"=>"a"}, {"qty"=>3, "sku"=>"b"}], "name"=>"signup", "timestamp"=>1614265384}`},
		{name: "escapes like Ruby inspect", src: `{{ go }}`, want: `{"bytes"=>"raw", "ctrl"=>"a\u0001b\u007Fc\u2028d\#{e}", "f32"=>2.5, "float"=>1700000000, "int64"=>9007199254740993, "invalid"=>"x\xFFy", "jnum"=>12345678901234567890, "nested"=>["a", ["b", "c"], {"k"=>1}], "small"=>0.0000001, "strings"=>["x", "y"], "strmap"=>{"a"=>"1", "b"=>"2"}, "time"=>"2021-02-25 14:03:04 +0000", "trillion"=>1000000000000000000000, "uint"=>7}`},
		{name: "quotes, backslashes, newlines, non-ASCII in a hash", src: `{{ customer.tags | map: "x" | size }}{{ customer.quote }}|{{ customer.address | replace: "=>", ":" }}`, want: "2say \"hi\"\\n\tnow é ✓|{\"city\":\"Köln\", \"zip\":\"50667\"}"},
		{name: "quoted key", src: `{{ customer["first_name"] }}`, want: "Ann"},
		{name: "index and first/last/size", src: "{{ customer.tags[0] }} {{ customer.tags[-1] }} {{ customer.tags.first }} {{ customer.tags.last }} {{ customer.tags.size }} {{ customer.first_name.size }} {{ customer.address.size }}", want: "vip beta vip beta 2 3 2"},
		{name: "arithmetic on JSON numbers", src: "{{ customer.amount | plus: 12.5 }} {{ customer.amount | times: 3 }} {{ customer.price | minus: 0.5 }} {{ customer.created_at | plus: 1 }}", want: "112.5 300 12 1700000001"},
		{name: "decimal arithmetic", src: "{{ 0.1 | plus: 0.2 }} {{ 10.1 | minus: 2.2 }} {{ 1.1 | times: 3 }}", want: "0.3 7.9 3.3"},
		{name: "comparisons on JSON numbers", src: "{% if customer.amount > 99 and customer.price < 13 and customer.amount == 100 %}yes{% endif %}", want: "yes"},
		{name: "numbers where text is expected stay exact", src: "{{ go.float | append: '!' }} {{ 'x' | prepend: go.float }} {{ go.float | upcase }}", want: "1700000000! 1700000000x 1700000000"},
		{name: "a range prints as a range", src: "{{ (1..3) }}", want: "1..3"},
		{name: "Customer.io's replace idiom yields JSON", src: `{{ customer.address | replace: "=>", ":" }}`, want: `{"city":"Köln", "zip":"50667"}`},
	})
}

func TestReplaceIdiomIsJSON(t *testing.T) {
	data := mustData(t, `{"customer": {"id": "1", "n": 3, "f": 2.5, "ok": true, "none": null, "tags": ["a", "b"], "addr": {"city": "Zürich", "line": "5 \"Main\" St\\\\2\nnext"}}}`)
	got, err := renderText(t, Options{}, `{{ customer | replace: "=>", ":" | replace: ":nil", ":null" }}`, data)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal([]byte(got), &back), got)
	assert.Equal(t, "5 \"Main\" St\\\\2\nnext", back["addr"].(map[string]any)["line"])
	assert.Equal(t, 3.0, back["n"])
}

func TestJSONFilter(t *testing.T) {
	data := mustData(t, customerDoc)
	data["go"] = map[string]any{"floats": []any{1.5}, "html": "<a href=\"x\">&</a>", "sep": "a\u2028b", "bad": "x\xffy",
		"when": time.Date(2021, 2, 25, 15, 3, 4, 5, time.UTC), "struct": struct {
			Name string `json:"name"`
			N    int
		}{"s", 2}}
	runDialect(t, Options{}, data, []dialectCase{
		{name: "string", src: "{{ customer.quote | json }}", want: `"say \"hi\"\\n\tnow é ✓"`},
		{name: "no HTML escaping", src: "{{ go.html | json }}", want: `"<a href=\"x\">&</a>"`},
		{name: "line separators escaped, bad UTF-8 replaced", src: "{{ go.sep | json }} {{ go.bad | json }}", want: `"a\u2028b" "x\ufffdy"`},
		{name: "object with sorted keys", src: "{{ customer.address | json }}", want: `{"city":"Köln","zip":"50667"}`},
		{name: "numbers", src: "{{ customer.created_at | json }} {{ customer.price | json }} {{ go.floats | json }}", want: "1700000000 12.5 [1.5]"},
		{name: "null", src: "{{ customer.nothing | json }}", want: "null"},
		{name: "time", src: "{{ go.when | json }}", want: `"2021-02-25T15:03:04.000000005Z"`},
		{name: "struct", src: "{{ go.struct | json }}", want: `{"name":"s","N":2}`},
		{name: "range", src: "{{ (1..3) | json }}", want: "[1,2,3]"},
		{name: "indented", src: "{{ customer.tags | json: 2 }}", want: "[\n  \"vip\",\n  \"beta\"\n]"},
		{name: "to_json is json", src: "{{ customer.address | to_json }}", want: `{"city":"Köln","zip":"50667"}`},
		{name: "missing with default", src: `{{ customer.nope | default: "n/a" | json }}`, want: `"n/a"`},
		{name: "missing without default fails", src: `{{ customer.nope | json }}`, wantErr: ErrMissingVariable, errHas: "customer.nope"},
	})
	got, err := renderText(t, Options{}, "{{ customer | json }}", data)
	require.NoError(t, err)
	assert.True(t, json.Valid([]byte(got)), got)
}

func TestCyclicDataFails(t *testing.T) {
	m := map[string]any{"name": "loop"}
	m["self"] = m
	for _, src := range []string{"{{ m }}", "{{ m | json }}", "{{ m | upcase }}"} {
		t.Run(src, func(t *testing.T) {
			_, err := renderText(t, Options{}, src, map[string]any{"m": m})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrLimitExceeded)
		})
	}
}
