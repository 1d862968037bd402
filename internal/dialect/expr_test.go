package dialect

import (
	"testing"
)

func TestMissingVariables(t *testing.T) {
	data := mustData(t, customerDoc)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "attribute", src: "Hi\n{{ customer.firstName }}", wantErr: ErrMissingVariable, errHas: "line 2: webhook: missing variable customer.firstName", line: 2},
		{name: "variable", src: "{{ person.name }}", wantErr: ErrMissingVariable, errHas: "missing variable person.name"},
		{name: "top-level variable", src: "{{ nobody }}", wantErr: ErrMissingVariable, errHas: "missing variable nobody"},
		{name: "attribute of null", src: "{{ customer.no_address.city }}", wantErr: ErrMissingVariable, errHas: "customer.no_address.city"},
		{name: "attribute of text", src: "{{ customer.email.domain }}", wantErr: ErrMissingVariable, errHas: "customer.email.domain"},
		{name: "index out of range", src: "{{ customer.tags[5] }}", wantErr: ErrMissingVariable, errHas: "customer.tags[5]"},
		{name: "quoted key", src: `{{ customer["last name"] }}`, wantErr: ErrMissingVariable, errHas: `customer["last name"]`},
		{name: "through filters", src: "{{ customer.nickname | upcase }}", wantErr: ErrMissingVariable, errHas: "customer.nickname"},
		{name: "as a filter argument", src: "{{ 'a' | append: customer.nickname }}", wantErr: ErrMissingVariable, errHas: "customer.nickname"},
		{name: "as a filter argument, assigned", src: "{% assign x = 'a' | append: customer.nickname %}", wantErr: ErrMissingVariable, errHas: "customer.nickname"},
		{name: "default's own argument", src: "{{ customer.nickname | default: customer.alias }}", wantErr: ErrMissingVariable, errHas: "customer.alias"},
		{name: "size of a missing attribute, printed", src: "{{ customer.nickname.size }}", wantErr: ErrMissingVariable, errHas: "customer.nickname.size"},
		{name: "size filter of a missing attribute", src: "{{ customer.nickname | size }}", wantErr: ErrMissingVariable, errHas: "customer.nickname"},
		{name: "assigned, then printed", src: "{% assign n = customer.nickname | capitalize %}{{ n }}", wantErr: ErrMissingVariable, errHas: "customer.nickname"},
		{name: "inside a loop on its own line", src: "{% for t in customer.tags %}\n{{ t }}\n{{ t.x }}\n{% endfor %}", wantErr: ErrMissingVariable, line: 3},
		{name: "a range bound", src: "a\n{% for i in (1..customer.nope) %}{{ i }}{% endfor %}", wantErr: ErrMissingVariable, errHas: "line 2: webhook: missing variable customer.nope", line: 2},
		{name: "a range bound, assigned", src: "{% assign r = (customer.nope..3) %}", wantErr: ErrMissingVariable, errHas: "missing variable customer.nope"},

		{name: "null is present", src: "[{{ customer.nothing }}]", want: "[]"},
		{name: "empty text is present", src: "[{{ customer.empty }}]", want: "[]"},
		{name: "default", src: `{{ customer.nickname | default: "friend" }}`, want: "friend"},
		{name: "default through assign", src: `{% assign n = customer.nickname %}{{ n | default: "friend" }}`, want: "friend"},
		{name: "default after other filters", src: `{{ customer.nickname | upcase | default: "friend" }}`, want: "friend"},
		{name: "a missing argument before a default", src: `{{ customer.first_name | append: customer.nope | default: "x" }}`, want: "Ann"},
		{name: "default with named argument", src: `{{ customer.active | default: "x", allow_false: true }}`, want: "true"},
		{name: "if", src: "{% if customer.nickname %}a{% else %}b{% endif %}", want: "b"},
		{name: "if through assign", src: "{% assign n = customer.nickname %}{% if n %}a{% else %}b{% endif %}", want: "b"},
		{name: "unless", src: "{% unless customer.nickname %}u{% endunless %}", want: "u"},
		{name: "elsif", src: "{% if false %}a{% elsif customer.nickname %}b{% else %}c{% endif %}", want: "c"},
		{name: "comparison", src: "{% if customer.nickname == 'x' or customer.age > 3 %}a{% else %}b{% endif %}", want: "b"},
		{name: "size comparison, as in Customer.io's Close example", src: "{% if customer.company_url.size > 0 %}{{ customer.company_url }}{%else %}mycompany.com{% endif %}", want: "mycompany.com"},
		{name: "case", src: "{% case customer.plan %}{% when 'pro' %}p{% else %}other{% endcase %}", want: "other"},
		{name: "for", src: "[{% for x in customer.nope %}{{ x }}{% endfor %}]", want: "[]"},
		{name: "assign with default", src: "{% assign n = customer.nickname | default: 'N' %}{{ n }}", want: "N"},
		{name: "assign a comparison", src: "{% assign has = customer.nickname != blank %}{{ has }}", want: "false"},
		{name: "contains", src: "{% if customer.roles contains 'admin' %}a{% else %}b{% endif %}", want: "b"},
	})
}

func TestMissingDynamicKeys(t *testing.T) {
	data := mustData(t, customerDoc)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "variable key", src: "{% assign k = 'nope' %}a\n{{ customer[k] }}", wantErr: ErrMissingVariable, errHas: "line 2: webhook: missing variable customer[k]", line: 2},
		{name: "key from the data", src: `{{ customer[event.name] }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer[event.name]"},
		{name: "missing key variable", src: `{{ customer[k] }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer[k]"},
		{name: "then a property", src: `{% assign k = "address" %}{{ customer[k].street }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer[k].street"},
		{name: "through filters", src: `{% assign k = "nope" %}{{ customer[k] | upcase }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer[k]"},
		{name: "index past the end", src: `{% assign i = 5 %}{{ customer.tags[i] }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer.tags[i]"},

		{name: "present", src: `{% assign k = "first_name" %}{{ customer[k] }} {{ customer["address"][k] | default: "-" }}`, want: "Ann -"},
		{name: "present, then a property", src: `{% assign k = "address" %}{{ customer[k].city }}`, want: "Köln"},
		{name: "loop variable", src: `{% for k in customer.tags %}{{ customer[k] | default: k }};{% endfor %}`, want: "vip;beta;"},
		{name: "integer index", src: `{% assign i = 1 %}{{ customer.tags[i] }}`, want: "beta"},
		{name: "default", src: `{% assign k = "nope" %}{{ customer[k] | default: "none" }}`, want: "none"},
		{name: "if", src: `{% assign k = "nope" %}{% if customer[k] %}a{% else %}b{% endif %}`, want: "b"},
		{name: "blank", src: `{% assign k = "nope" %}{% if customer[k] == blank %}blank{% endif %}`, want: "blank"},
		{name: "unless", src: `{% assign k = "nope" %}{% unless customer[k] %}u{% endunless %}`, want: "u"},
		{name: "assigned, then printed", src: `{% assign k = "nope" %}{% assign v = customer[k] %}{{ v }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer[k]"},
		{name: "a root read from a variable", src: `{% assign k = "customer" %}{{ [k].first_name }}`, want: "Ann"},
	})
	runDialect(t, Options{Lax: true}, data, []dialectCase{
		{name: "lax", src: `{% assign k = "nope" %}[{{ customer[k] }}]`, want: "[]"},
	})
}

func TestBlankAndEmpty(t *testing.T) {
	data := mustData(t, customerDoc)
	test := func(cond string) string { return "{% if " + cond + " %}T{% else %}F{% endif %}" }
	runDialect(t, Options{}, data, []dialectCase{
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
		{name: "literal text", src: test(`"" == blank`), want: "T"},
		{name: "indexed", src: test("customer.tags[0] != blank"), want: "T"},
		{name: "unless", src: "{% unless customer.empty == blank %}x{% else %}blank{% endunless %}", want: "blank"},
		{name: "empty text is empty", src: test("customer.empty == empty"), want: "T"},
		{name: "spaces are not empty", src: test("customer.spaces == empty"), want: "F"},
		{name: "null is not empty", src: test("customer.nothing == empty"), want: "F"},
		{name: "empty array is empty", src: test("customer.no_tags == empty"), want: "T"},
		{name: "printed comparison", src: "{{ customer.empty == blank }}", want: "true"},
		{name: "case when blank", src: "{% case customer.nick %}{% when blank %}none{% else %}some{% endcase %}", want: "none"},
		{name: "case when empty", src: "{% case customer.spaces | strip %}{% when empty %}empty{% else %}full{% endcase %}", want: "empty"},
		{name: "case when, in a list", src: "{% case customer.empty %}{% when 'Ann', blank %}b{% endcase %}|{% case customer.first_name %}{% when 'x' or blank, 'Ann' %}a{% endcase %}", want: "b|a"},
	})
}

// TestCaseWhenBlankAndEmpty: when blank and when empty mean what
// == blank and == empty mean.
func TestCaseWhenBlankAndEmpty(t *testing.T) {
	data := mustData(t, customerDoc)
	blank := func(subject string) string {
		return "{% case " + subject + " %}{% when blank %}none{% else %}some{% endcase %}"
	}
	empty := func(subject string) string {
		return "{% case " + subject + " %}{% when empty %}empty{% else %}full{% endcase %}"
	}
	runDialect(t, Options{}, data, []dialectCase{
		{name: "null is blank", src: blank("customer.nothing"), want: "none"},
		{name: "empty text is blank", src: blank("customer.empty"), want: "none"},
		{name: "spaces are blank", src: blank("customer.spaces"), want: "none"},
		{name: "empty array is blank", src: blank("customer.no_tags"), want: "none"},
		{name: "false is blank", src: blank("false"), want: "none"},
		{name: "text is not blank", src: blank("customer.first_name"), want: "some"},
		{name: "zero is not blank", src: blank("0"), want: "some"},
		{name: "missing is not empty", src: empty("customer.nick"), want: "full"},
		{name: "null is not empty", src: empty("customer.nothing"), want: "full"},
		{name: "empty text is empty", src: empty("customer.empty"), want: "empty"},
		{name: "spaces are not empty", src: empty("customer.spaces"), want: "full"},
		{name: "empty array is empty", src: empty("customer.no_tags"), want: "empty"},
		{name: "after other values", src: "{% case customer.spaces %}{% when 'x' %}x{% when empty %}e{% when blank %}b{% endcase %}", want: "b"},
		{name: "nested cases", src: "{% case customer.empty %}{% when blank %}{% case customer.first_name %}{% when blank %}inner{% else %}outer{% endcase %}{% endcase %}", want: "outer"},
		{name: "whitespace control", src: "x {%- case customer.empty -%} {%- when blank -%} b {%- endcase %}", want: "xb"},
		{name: "a case over lines keeps line numbers", src: "{% case customer.empty\n %}{% when blank %}b{% endcase %}\n{{ customer.nope }}", wantErr: ErrMissingVariable, line: 3},
	})
}

// TestConditions: and/or group from the right, as in Liquid; text
// compared with a number is an error in an order comparison, as in
// Liquid, and simply unequal in ==.
func TestConditions(t *testing.T) {
	data := mustData(t, `{"plan": "basic", "active": false, "n": "10", "m": 10}`)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "or then and, grouped from the right", src: `{% if plan == "pro" or plan == "basic" and active %}yes{% else %}no{% endif %}`, want: "no"},
		{name: "and then or, grouped from the right", src: `{% if true and false and false or true %}yes{% else %}no{% endif %}`, want: "no"},
		{name: "a chain of or", src: `{% if false or false or true %}yes{% endif %}`, want: "yes"},
		{name: "text > number fails", src: `{% if n > 5 %}big{% endif %}`, wantErr: ErrTemplate, errHas: "comparison of String with 5 failed"},
		{name: "text literal > number fails", src: `{% if "10" > 5 %}big{% endif %}`, wantErr: ErrTemplate, errHas: "comparison of String with 5 failed"},
		{name: "text == number is false", src: `{% if n == m %}same{% else %}different{% endif %}`, want: "different"},
		{name: "numbers compare", src: `{% if m > 5 and m >= 10 and m < 11 and m <= 10 %}yes{% endif %}`, want: "yes"},
		{name: "text compares as text", src: `{% if n < "9" %}yes{% endif %}`, want: "yes"},
		{name: "nil in an order comparison is false", src: `{% if nothing > 5 or 5 < nothing %}yes{% else %}no{% endif %}`, want: "no"},
		{name: "contains", src: `{% if plan contains "as" %}yes{% endif %}`, want: "yes"},
		{name: "<> is !=", src: `{% if plan <> "pro" %}yes{% endif %}`, want: "yes"},
	})
}

// TestSizeAgrees: .size and | size count the same way: characters of
// text, elements of an array, keys of an object.
func TestSizeAgrees(t *testing.T) {
	data := mustData(t, `{"s": "Köln ✓", "a": [1, 2, 3], "o": {"x": 1, "y": 2}}`)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "text", src: `{{ s.size }} {{ s | size }}`, want: "6 6"},
		{name: "array", src: `{{ a.size }} {{ a | size }}`, want: "3 3"},
		{name: "object", src: `{{ o.size }} {{ o | size }}`, want: "2 2"},
		{name: "in a condition", src: `{% assign n = s | size %}{% if s.size == n %}same{% endif %}`, want: "same"},
	})
}

func TestLaxMode(t *testing.T) {
	data := mustData(t, customerDoc)
	runDialect(t, Options{Lax: true}, data, []dialectCase{
		{name: "missing prints empty", src: "[{{ customer.nickname }}]", want: "[]"},
		{name: "through filters", src: "[{{ customer.nickname | upcase }}]", want: "[]"},
		{name: "as an argument", src: "[{{ 'a' | append: customer.nickname }}]", want: "[a]"},
		{name: "assigned", src: "{% assign n = customer.nickname %}[{{ n }}]", want: "[]"},
		{name: "a range bound is 0", src: "{% for i in (customer.nope..1) %}{{ i }}{% endfor %}", want: "01"},
		{name: "syntax errors still fail", src: "{{ customer.x | nofilter }}", wantErr: ErrTemplateSyntax},
	})
}
