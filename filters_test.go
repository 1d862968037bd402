package webhook

import (
	"testing"
)

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

// TestDividedBy: divided_by divides as Liquid does: integers to an integer
// rounded down, anything else to a float, text read as a number.
func TestDividedBy(t *testing.T) {
	data := mustData(t, `{"c": {"price": 12.5, "text": "12.5", "digits": "7", "n": 7, "neg": -7, "zero": 0}}`)
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "integers", src: "{{ c.n | divided_by: 2 }}", want: "3"},
		{name: "negative integers round down", src: "{{ c.neg | divided_by: 2 }} {{ c.n | divided_by: -2 }} {{ c.neg | divided_by: -2 }}", want: "-4 -4 3"},
		{name: "a float dividend keeps its fraction", src: "{{ c.price | divided_by: 2 }}", want: "6.25"},
		{name: "a float divisor", src: "{{ c.n | divided_by: 2.0 }} {{ 20 | divided_by: 7.0 | round: 3 }}", want: "3.5 2.857"},
		{name: "text", src: "{{ c.text | divided_by: 2 }} {{ c.digits | divided_by: 2 }}", want: "6.25 3"},
		{name: "text that is not a number is zero", src: `{{ "abc" | divided_by: 2 }} {{ c.nothing | default: nil | divided_by: 2 }}`, want: "0 0"},
		{name: "by zero", src: "{{ c.n | divided_by: c.zero }}", wantErr: ErrTemplate, errHas: "divided_by: division by zero"},
		{name: "a float by zero", src: "{{ c.price | divided_by: 0.0 }}", wantErr: ErrTemplate, errHas: "division by zero"},
	})
}

// TestRoundAndModulo: round rounds half away from zero on the number as
// written, and modulo takes the divisor's sign, as in Liquid.
func TestRoundAndModulo(t *testing.T) {
	data := mustData(t, `{"c": {"price": 2.675, "cents": 1.005, "neg": -2.5, "n": 7, "big": 12345678901234567, "text": "3.14159"}}`)
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "round half away from zero", src: "{{ 2.5 | round }} {{ c.neg | round }} {{ -0.4 | round }} {{ 3.49 | round }}", want: "3 -3 0 3"},
		{name: "round to places on the number as written", src: "{{ c.price | round: 2 }} {{ c.cents | round: 2 }} {{ 183.357 | round: 1 }} {{ -1.005 | round: 2 }}", want: "2.68 1.01 183.4 -1.01"},
		{name: "round to tens", src: "{{ 1250.5 | round: -2 }} {{ c.n | round: -1 }} {{ 15 | round: -1 }}", want: "1300 10 20"},
		{name: "integers stay exact", src: "{{ c.big | round }} {{ c.big | round: 2 }}", want: "12345678901234567 12345678901234567"},
		{name: "round text", src: "{{ c.text | round: 2 }} {{ 'x' | round }}", want: "3.14 0"},
		{name: "modulo", src: "{{ c.n | modulo: 3 }} {{ 7.5 | modulo: 2 }}", want: "1 1.5"},
		{name: "modulo takes the divisor's sign", src: "{{ -7 | modulo: 3 }} {{ 7 | modulo: -3 }} {{ -7.5 | modulo: 2 }}", want: "2 -2 0.5"},
		{name: "modulo by zero", src: "{{ c.n | modulo: 0 }}", wantErr: ErrTemplate, errHas: "modulo: division by zero"},
		{name: "float modulo by zero", src: "{{ 7.5 | modulo: 0.0 }}", wantErr: ErrTemplate, errHas: "division by zero"},
	})
}

// TestSizeOfAnObject: size counts an object's keys, as .size does.
func TestSizeOfAnObject(t *testing.T) {
	data := mustData(t, customerDoc)
	data["go"] = map[string]any{"typed": map[string]int{"a": 1, "b": 2, "c": 3}}
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "object", src: "{{ customer.address | size }} {{ customer.address.size }}", want: "2 2"},
		{name: "typed map", src: "{{ go.typed | size }}", want: "3"},
		{name: "in a condition", src: "{% assign n = event | size %}{% if n > 2 %}{{ n }}{% endif %}", want: "3"},
		{name: "text counts characters", src: "{{ customer.address.city | size }} {{ customer.tags | size }} {{ customer.nothing | size }} {{ 12 | size }}", want: "4 2 0 0"},
	})
}

// TestAbsCeilFloor: text that is not a number is 0 to them, as in Liquid,
// and integers stay exact.
func TestAbsCeilFloor(t *testing.T) {
	data := mustData(t, `{"c": {"big": -12345678901234567, "text": "-3.5"}}`)
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "numbers", src: "{{ -3.7 | abs }} {{ 3.2 | ceil }} {{ -3.2 | ceil }} {{ 3.7 | floor }} {{ -3.2 | floor }}", want: "3.7 4 -3 3 -4"},
		{name: "text", src: "{{ c.text | abs }} {{ c.text | ceil }} {{ c.text | floor }}", want: "3.5 -3 -4"},
		{name: "not a number", src: "{{ 'abc' | abs }} {{ 'abc' | ceil }} {{ c.nothing | default: nil | floor }}", want: "0 0 0"},
		{name: "integers stay exact", src: "{{ c.big | abs }} {{ c.big | ceil }} {{ c.big | floor }}", want: "12345678901234567 -12345678901234567 -12345678901234567"},
	})
}
