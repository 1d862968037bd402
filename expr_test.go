package webhook

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/osteele/liquid/values"
	"github.com/stretchr/testify/assert"
)

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
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "variable key", src: "{% assign k = 'nope' %}a\n{{ customer[k] }}", wantErr: ErrMissingVariable, errHas: "body: line 2: missing variable customer[k]", line: 2},
		{name: "key from the data", src: `{{ customer[event.name] }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer[event.name]"},
		{name: "missing key variable", src: `{{ customer[k] }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer[k]"},
		{name: "then a property", src: `{% assign k = "address" %}{{ customer[k].street }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer[k].street"},
		{name: "through filters", src: `{% assign k = "nope" %}{{ customer[k] | upcase }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer[k]"},
		{name: "assigned", src: `{% assign k = "nope" %}{% assign v = customer[k] %}`, wantErr: ErrMissingVariable, errHas: "missing variable customer[k]"},
		{name: "index past the end", src: `{% assign i = 5 %}{{ customer.tags[i] }}`, wantErr: ErrMissingVariable, errHas: "missing variable customer.tags[i]"},

		{name: "present", src: `{% assign k = "first_name" %}{{ customer[k] }} {{ customer["address"][k] | default: "-" }}`, want: "Ann -"},
		{name: "present, then a property", src: `{% assign k = "address" %}{{ customer[k].city }}`, want: "Köln"},
		{name: "loop variable", src: `{% for k in customer.tags %}{{ customer[k] | default: k }};{% endfor %}`, want: "vip;beta;"},
		{name: "integer index", src: `{% assign i = 1 %}{{ customer.tags[i] }}`, want: "beta"},
		{name: "default", src: `{% assign k = "nope" %}{{ customer[k] | default: "none" }}`, want: "none"},
		{name: "if", src: `{% assign k = "nope" %}{% if customer[k] %}a{% else %}b{% endif %}`, want: "b"},
		{name: "unless", src: `{% assign k = "nope" %}{% unless customer[k] %}u{% endunless %}`, want: "u"},
		{name: "blank", src: `{% assign k = "nope" %}{% if customer[k] == blank %}blank{% endif %}`, want: "blank"},
	})
	runDialect(t, Compiler{Lax: true}, data, []dialectCase{
		{name: "lax", src: `{% assign k = "nope" %}[{{ customer[k] }}]`, want: "[]"},
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

func TestCaseWhenBlankAndEmpty(t *testing.T) {
	data := mustData(t, customerDoc)
	blank := func(subject string) string {
		return "{% case " + subject + " %}{% when blank %}none{% else %}some{% endcase %}"
	}
	empty := func(subject string) string {
		return "{% case " + subject + " %}{% when empty %}empty{% else %}full{% endcase %}"
	}
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "missing is blank", src: blank("customer.nick"), want: "none"},
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
		{name: "through filters", src: empty("customer.spaces | strip"), want: "empty"},
		{name: "in a list", src: "{% case customer.empty %}{% when 'Ann', blank %}b{% endcase %}|{% case customer.first_name %}{% when 'x' or blank, 'Ann' %}a{% endcase %}", want: "b|a"},
		{name: "after other values", src: "{% case customer.spaces %}{% when 'x' %}x{% when empty %}e{% when blank %}b{% endcase %}", want: "b"},
		{name: "nested cases", src: "{% case customer.empty %}{% when blank %}{% case customer.first_name %}{% when blank %}inner{% else %}outer{% endcase %}{% endcase %}", want: "outer"},
		{name: "whitespace control", src: "x {%- case customer.empty -%} {%- when blank -%} b {%- endcase %}", want: "xb"},
		{name: "a case over lines keeps line numbers", src: "{% case customer.empty\n %}{% when blank %}b{% endcase %}\n{{ customer.nope }}", wantErr: ErrMissingVariable, line: 3},
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

// equal and less decide the common comparisons themselves; they must
// decide them as the engine's values.Equal and values.Less do.
func TestCompareAgreesWithTheEngine(t *testing.T) {
	nan := math.NaN()
	operands := []any{
		nil, true, false, 0, 1, -1, int64(1), int64(-7), int64(math.MaxInt64), 1.0, 1.5, math.Copysign(0, -1), nan, math.Inf(1),
		float64(1 << 53), int64(1<<53 + 1), "", "1", "a", "b", json.Number("1"), uint(1), int32(1), float32(1.5),
		[]any{1}, map[string]any{"a": 1},
	}
	for _, a := range operands {
		for _, b := range operands {
			assert.Equal(t, values.Equal(a, b), equal(a, b), "equal(%#v, %#v)", a, b)
			assert.Equal(t, values.Less(a, b), less(a, b), "less(%#v, %#v)", a, b)
		}
	}
}
