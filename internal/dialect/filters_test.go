package dialect

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStringFilters(t *testing.T) {
	data := mustData(t, `{"s": "a b&c=d/é", "enc": "a+b%20c%zz", "crlf": "one\r\ntwo\nthree", "html": "<p>Hi <b>you</b></p><script>alert(1)</script><style>p{}</style><!-- note -->!"}`)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "strip_newlines takes \\r\\n", src: "{{ crlf | strip_newlines }}", want: "onetwothree"},
		{name: "newline_to_br takes \\r\\n", src: "{{ crlf | newline_to_br }}", want: "one<br />\ntwo<br />\nthree"},
		{name: "strip_html drops scripts, styles and comments", src: "{{ html | strip_html }}", want: "Hi you!"},
		{name: "capitalize and titlecase", src: "{{ 'hELLO wORLD' | capitalize }}|{{ 'hELLO wORLD' | titlecase }}", want: "Hello world|Hello World"},
		{name: "normalize_whitespace", src: "{{ ' a \n\t b ' | normalize_whitespace }}", want: "a b"},
		{name: "slugify", src: "{{ 'Hello, World! Köln' | slugify }}", want: "hello-world-köln"},
		{name: "number_of_words", src: "{{ 'one two  three' | number_of_words }}", want: "3"},
		{name: "truncate", src: "{{ 'Ground control to Major Tom.' | truncate: 20 }}|{{ 'abc' | truncate: 2, '' }}", want: "Ground control to...|ab"},
		{name: "truncatewords", src: "{{ 'one two three four' | truncatewords: 2 }}", want: "one two..."},
		{name: "standard filters", src: "{{ 'Hello' | upcase }} {{ '  x ' | strip }} {{ 'a,b' | split: ',' | size }}", want: "HELLO x 2"},
		{name: "split on a space splits on whitespace", src: "{{ 'a  b\nc' | split: ' ' | join: '|' }}", want: "a|b|c"},
		{name: "replace family", src: "{{ 'aXbXc' | replace: 'X', '-' }} {{ 'aXbXc' | replace_first: 'X', '-' }} {{ 'aXbXc' | replace_last: 'X', '-' }} {{ 'aXbXc' | remove: 'X' }}", want: "a-b-c a-bXc aXb-c abc"},
		{name: "url_encode", src: "{{ s | url_encode }}", want: "a+b%26c%3Dd%2F%C3%A9"},
		{name: "cgi_escape", src: "{{ 'overview: account' | cgi_escape }}", want: "overview%3A+account"},
		{name: "uri_escape keeps a URI's structure", src: "{{ 'https://example.com/?q=a b&c=é' | uri_escape }}", want: "https://example.com/?q=a%20b&c=%C3%A9"},
		{name: "url_decode is lenient", src: "{{ enc | url_decode }}", want: "a b c%zz"},
		{name: "escape and escape_once", src: "{{ '<a & \"b\">' | escape }} {{ '&lt;p&gt; & <p>' | escape_once }}", want: "&lt;a &amp; &quot;b&quot;&gt; &lt;p&gt; &amp; &lt;p&gt;"},
		{name: "base64 round trip", src: "{{ s | base64_encode }} {{ s | base64 }} {{ s | base64_encode | base64_decode }}", want: "YSBiJmM9ZC/DqQ== YSBiJmM9ZC/DqQ== a b&c=d/é"},
		{name: "base64 url-safe", src: "{{ '??>' | base64_url_safe_encode }} {{ 'Pz8-' | base64_url_safe_decode }}", want: "Pz8- ??>"},
		{name: "digests", src: "{{ 'abc' | md5 }} {{ 'abc' | sha1 }}", want: "900150983cd24fb0d6963f7d28e17f72 a9993e364706816aba3e25717850c26c9cd0d89d"},
		{name: "sha256", src: "{{ 'abc' | sha256 }}", want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{name: "hmac_sha256 (RFC 4231 case 2)", src: "{{ 'what do ya want for nothing?' | hmac_sha256: 'Jefe' }}", want: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{name: "hmac_sha1 (RFC 2202 case 2)", src: "{{ 'what do ya want for nothing?' | hmac_sha1: 'Jefe' }}", want: "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{name: "hex_base64", src: "{{ 'what do ya want for nothing?' | hmac_sha256: 'Jefe' | hex_base64 }}", want: "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="},
		{name: "bad base64 fails", src: "{{ '%%%' | base64_decode }}", wantErr: ErrTemplate, errHas: "base64"},
		{name: "unknown filter", src: "a\n{{ s | upcasee }}", wantErr: ErrTemplateSyntax, errHas: `unknown filter "upcasee"`, line: 2},
		{name: "wrong argument count", src: "{{ s | append }}", wantErr: ErrTemplateSyntax, errHas: "append takes 1 arguments, not 0"},
	})
}

func TestMathFilters(t *testing.T) {
	data := mustData(t, `{"c": {"price": 12.5, "text": "12.5", "digits": "7", "n": 7, "neg": -7, "zero": 0, "p2": 2.675, "cents": 1.005, "big": 12345678901234567}}`)
	data["typed"] = map[string]int{"a": 1, "b": 2, "c": 3}
	runDialect(t, Options{}, data, []dialectCase{
		{name: "integers divide to an integer rounded down", src: "{{ c.n | divided_by: 2 }} {{ c.neg | divided_by: 2 }} {{ c.n | divided_by: -2 }}", want: "3 -4 -4"},
		{name: "a float divides exactly", src: "{{ c.price | divided_by: 2 }} {{ c.n | divided_by: 2.0 }} {{ 20 | divided_by: 7.0 | round: 3 }}", want: "6.25 3.5 2.857"},
		{name: "text is read as a number", src: "{{ c.text | divided_by: 2 }} {{ c.digits | divided_by: 2 }} {{ 'abc' | plus: 1 }} {{ '12abc' | plus: 1 }}", want: "6.25 3 1 13"},
		{name: "two negative integers", src: "{{ c.neg | divided_by: -2 }}", want: "3"},
		{name: "nil is zero", src: "{{ c.nothing | default: nil | divided_by: 2 }} {{ c.nothing | default: nil | floor }}", want: "0 0"},
		{name: "division by zero", src: "{{ c.n | divided_by: c.zero }}", wantErr: ErrTemplate, errHas: "divided_by: division by zero"},
		{name: "a float by zero", src: "{{ c.price | divided_by: 0.0 }}", wantErr: ErrTemplate, errHas: "division by zero"},
		{name: "modulo", src: "{{ c.n | modulo: 3 }} {{ 7.5 | modulo: 2 }}", want: "1 1.5"},
		{name: "modulo takes the divisor's sign", src: "{{ -7 | modulo: 3 }} {{ 7 | modulo: -3 }} {{ -7.5 | modulo: 2 }} {{ 10.1 | modulo: 7.0 }}", want: "2 -2 0.5 3.1"},
		{name: "modulo by zero", src: "{{ c.n | modulo: 0 }}", wantErr: ErrTemplate, errHas: "modulo: division by zero"},
		{name: "float modulo by zero", src: "{{ 7.5 | modulo: 0.0 }}", wantErr: ErrTemplate, errHas: "division by zero"},
		{name: "round half away from zero, as written", src: "{{ 2.5 | round }} {{ -2.5 | round }} {{ c.p2 | round: 2 }} {{ c.cents | round: 2 }} {{ 1250.5 | round: -2 }}", want: "3 -3 2.68 1.01 1300"},
		{name: "round near zero and to places", src: "{{ -0.4 | round }} {{ 3.49 | round }} {{ 183.357 | round: 1 }} {{ -1.005 | round: 2 }}", want: "0 3 183.4 -1.01"},
		{name: "round to tens", src: "{{ c.n | round: -1 }} {{ 15 | round: -1 }}", want: "10 20"},
		{name: "round text", src: "{{ '3.14159' | round: 2 }} {{ 'x' | round }}", want: "3.14 0"},
		{name: "integers stay exact to places", src: "{{ c.big | round: 2 }} {{ c.big | floor }}", want: "12345678901234567 12345678901234567"},
		{name: "ceil and floor of text", src: "{{ '-3.5' | ceil }} {{ '-3.5' | floor }} {{ 'abc' | abs }} {{ 'abc' | ceil }}", want: "-3 -4 0 0"},
		{name: "size of nil, a number and a typed map", src: "{{ nil | size }} {{ 12 | size }} {{ typed | size }}", want: "0 0 3"},
		{name: "integers stay exact", src: "{{ c.big | round }} {{ c.big | abs }} {{ c.big | ceil }} {{ c.big | times: 1 }}", want: "12345678901234567 12345678901234567 12345678901234567 12345678901234567"},
		{name: "integer overflow turns to a float", src: "{{ 9223372036854775807 | plus: 1 }}", want: "9223372036854776000"},
		{name: "abs, ceil, floor", src: "{{ -3.7 | abs }} {{ 3.2 | ceil }} {{ -3.2 | floor }} {{ '-3.5' | abs }} {{ 'abc' | floor }}", want: "3.7 4 -4 3.5 0"},
		{name: "at_least and at_most", src: "{{ 4 | at_least: 5 }} {{ 4 | at_most: 3.5 }}", want: "5 3.5"},
	})
}

func TestArrayFilters(t *testing.T) {
	data := mustData(t, `{"tags": ["x", null, ["y", "z"], 3], "people": [{"name": "b", "age": 30, "team": "red"}, {"name": "a", "age": 20, "team": "blue"}, {"name": "c", "team": "red"}], "words": ["b", "B", "a"]}`)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "join flattens and prints nil as nothing", src: "{{ tags | join: ',' }}|{{ tags | join }}", want: "x,,y,z,3|x  y z 3"},
		{name: "map, where, reject", src: "{{ people | map: 'name' | join }}|{{ people | where: 'team', 'red' | map: 'name' | join }}|{{ people | reject: 'age' | map: 'name' | join }}", want: "b a c|b c|c"},
		{name: "where_not", src: "{{ people | where_not: 'team', 'red' | map: 'name' | join }}", want: "a"},
		{name: "has, find, find_index", src: "{{ people | has: 'name', 'a' }} {{ people | find: 'team', 'red' | map: 'name' }} {{ people | find_index: 'name', 'c' }}", want: "true b 2"},
		{name: "sum", src: "{{ people | sum: 'age' }} {{ '1,2,3.5' | split: ',' | sum }}", want: "50 6.5"},
		{name: "sort and sort_natural", src: "{{ words | sort | join }}|{{ words | sort_natural | join }}|{{ people | sort: 'age' | map: 'name' | join }}", want: "B a b|a b B|a b c"},
		{name: "uniq, compact, reverse, first, last", src: "{{ 'a,b,a' | split: ',' | uniq | join }} {{ tags | compact | size }} {{ words | reverse | join }} {{ words | first }}{{ words | last }}", want: "a b 3 a B b ba"},
		{name: "concat, push, unshift, pop, shift", src: "{{ words | concat: tags | size }} {{ words | push: 'z' | join: '' }} {{ words | unshift: 'z' | join: '' }} {{ words | pop | join: '' }} {{ words | shift | join: '' }}", want: "7 bBaz zbBa bB Ba"},
		{name: "limit", src: "{{ words | limit: 2 | join }}", want: "b B"},
		{name: "slice", src: "{{ words | slice: 1, 2 | join }} {{ 'Customer.io' | slice: 3, 3 }} {{ 'Customer.io' | slice: -4, 3 }}", want: "B a tom r.i"},
		{name: "group_by", src: "{% assign g = people | group_by: 'team' %}{% for x in g %}{{ x.name }}={{ x.items | map: 'name' | join: '+' }};{% endfor %}", want: "red=b+c;blue=a;"},
		{name: "where_exp and find_exp", src: "{{ people | where_exp: 'p', 'p.age > 25 or p.name == \"c\"' | map: 'name' | join }}|{{ people | find_exp: 'p', 'p.team == \"blue\"' | map: 'name' }}", want: "b c|a"},
		{name: "group_by_exp", src: "{% assign g = people | group_by_exp: 'p', 'p.team contains \"r\"' %}{% for x in g %}{{ x.name }}:{{ x.items.size }};{% endfor %}", want: "true:2;false:1;"},
		{name: "LiquidJS's jsonify, inspect, to_integer and raw", src: "{{ people[1] | jsonify }} {{ people[1] | inspect }} {{ '3.9' | to_integer }} {{ words | raw | size }}", want: `{"age":20,"name":"a","team":"blue"} {"age"=>20, "name"=>"a", "team"=>"blue"} 3 3`},
		{name: "json_array_uniq", src: "{{ people | concat: people | json_array_uniq: 'name' | size }}", want: "3"},
		{name: "array_to_sentence_string", src: "{{ words | array_to_sentence_string }}|{{ words | array_to_sentence_string: 'or' }}", want: "b, B, and a|b, B, or a"},
		{name: "concat needs an array", src: "{{ words | concat: 5 }}", wantErr: ErrTemplate, errHas: "concat needs an array"},
	})
}

func TestCustomerIOFilters(t *testing.T) {
	data := mustData(t, `{"n": 1234567.896, "items": 3, "one": 1, "json": "{\"key\": \"value\", \"number\": 123, \"f\": 1.5, \"list\": [1, 2]}"}`)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "format_number", src: "{{ 10000 | format_number }} {{ 123456.78 | format_number: 'fr' }} {{ 1234.5 | format_number: 'de' }} {{ 0.12345 | format_number }}", want: "10,000 123\u202f456,78 1.234,5 0.123"},
		{name: "currency", src: "{{ n | currency }} {{ n | currency: 'en-GB' }} {{ n | currency: 'en', 'EUR' }} {{ n | rounded_currency: 'en', 'EUR' }}", want: "$1,234,567.90 £1,234,567.90 €1,234,567.90 €1,234,568"},
		{name: "currency in a locale that writes the symbol after", src: "{{ 1234.5 | currency: 'de' }} {{ -5 | currency }}", want: "1.234,50\u00a0€ -$5.00"},
		{name: "currency with a code of no known symbol", src: "{{ 5 | currency: 'en', 'xyz' }}", want: "XYZ\u00a05.00"},
		{name: "unknown locale", src: "{{ 5 | currency: 'xx-yy' }}", wantErr: ErrTemplate, errHas: `unknown locale "xx-yy"`},
		{name: "pluralize", src: "{{ items | pluralize: 'item', 'items' }}, {{ one | pluralize: 'item', 'items' }}, {{ 2 | pluralize: 'cat' }}", want: "3 items, 1 item, 2 cats"},
		{name: "from_json", src: "{% assign v = json | from_json %}{{ v.key }} {{ v.number | plus: 1 }} {{ v.f }} {{ v.list | size }}", want: "value 124 1.5 2"},
		{name: "from_json refuses what is not JSON", src: "{{ 'nope' | from_json }}", wantErr: ErrTemplate, errHas: "not valid JSON"},
	})
}

// TestGenerateUUIDAndRandom: the tags print version 4 UUIDs and whole
// numbers below the limit, different each time.
func TestGenerateUUIDAndRandom(t *testing.T) {
	out, err := renderText(t, Options{}, "{% generate_uuid %} {% generate_uuid %}", nil)
	require.NoError(t, err)
	uuid := regexp.MustCompile(`^([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}) ([0-9a-f-]{36})$`)
	m := uuid.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assert.NotEqual(t, m[1], m[2])

	seen := map[string]bool{}
	for range 200 {
		out, err := renderText(t, Options{}, "{% random 3 %}", nil)
		require.NoError(t, err)
		seen[out] = true
	}
	assert.Equal(t, map[string]bool{"0": true, "1": true, "2": true}, seen)
	_, err = renderText(t, Options{}, "{% random 0 %}", nil)
	assert.ErrorIs(t, err, ErrTemplate)
	_, err = renderText(t, Options{}, "{% generate_uuid x %}", nil)
	assert.ErrorIs(t, err, ErrTemplateSyntax)
}
