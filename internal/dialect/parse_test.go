package dialect

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cioZendeskBody is the Zendesk body exactly as Customer.io publishes it.
const cioZendeskBody = `{
"ticket": {
"subject": "{{customer.company_name}} has canceled their account.",
"comment": { "body":"{{event.feedback}}" },
"requester": { "name":"{{customer.firstName"}} {{customer.lastName"}},"email":"{{customer.email}}"
}
}
}`

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
		{name: "unterminated if", src: "a\n{% if x %}\nb", line: 2, errHas: `{% if %} is not closed by {% endif %}`},
		{name: "braces left open at the end", src: "a\nb {{ c", line: 2, errHas: "{{ is not closed"},
		{name: "unknown tag", src: "\n\n{% frobnicate %}", line: 3, errHas: "frobnicate"},
		{name: "endfor without for", src: "x\n{% endfor %}", line: 2},
		{name: "unclosed object", src: "{\n  \"a\": \"{{ customer.name\"\n}", line: 2, errHas: "{{ is not closed"},
		{name: "unclosed tag", src: "x {% if", line: 1, errHas: "{% does not start a tag"},
		{name: "include reads files", src: "x\n{% include 'secrets.txt' %}", line: 2, errHas: "cannot read files"},
		{name: "render reads files", src: "{% render 'partial' %}", line: 1, errHas: "cannot read files"},
		{name: "integer too large", src: "a\n\n{{ 99999999999999999999 }}", line: 3, errHas: "too large"},
		{name: "integer too large in a tag", src: "a\n{% if x == 99999999999999999999 %}{% endif %}", line: 2},
		{name: "unterminated comment", src: "a\n{% comment %}\nb", line: 2, errHas: "endcomment"},
		{name: "unterminated raw", src: "{% raw %}\nb", line: 1, errHas: "endraw"},
		{name: "bad expression deep in a loop", src: "{% for i in (1..2) %}\n\n{% if i == %}{% endif %}\n{% endfor %}", line: 3},
		{name: "assign with dots", src: "{% assign a.b = 1 %}", line: 1},
		{name: "a line of a liquid tag", src: "{% liquid\n  assign x = 1\n  echo x |\n%}", line: 3},
		{name: "not is not an operator", src: "{% if not x %}{% endif %}", line: 1},
		{name: "a filter in an if condition", src: "a\n{% if x | upcase %}{% endif %}", line: 2, errHas: `unexpected "|"`},
		{name: "an inline comment over lines needs # on each", src: "{% # one\n two %}", line: 1, errHas: "starts with #"},
		{name: "blocks nested too deep", src: fmt.Sprint(repeat("{% if true %}", 200)), line: 1, errHas: "nested more than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.src)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrTemplateSyntax)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.line, e.Line, "%v", err)
			assert.Contains(t, err.Error(), fmt.Sprintf("line %d: ", tc.line))
			if tc.errHas != "" {
				assert.Contains(t, err.Error(), tc.errHas)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func TestTags(t *testing.T) {
	data := mustData(t, customerDoc)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "for with forloop", src: "{% for i in event.items %}{{ forloop.index }}:{{ i.sku }}x{{ i.qty }}{% unless forloop.last %},{% endunless %}{% endfor %}", want: "1:ax2,2:bx3"},
		{name: "object iterates in key order", src: "{% for pair in customer.address %}{{ pair[0] }}={{ pair[1] }};{% endfor %}", want: "city=Köln;zip=50667;"},
		{name: "limit, offset, reversed", src: "{% for i in (1..10) limit: 3 offset: 2 %}{{ i }}{% endfor %}|{% for i in (1..3) reversed %}{{ i }}{% endfor %}", want: "345|321"},
		{name: "an object reversed", src: "{% for p in customer.address reversed %}{{ p[0] }}{% endfor %}", want: "zipcity"},
		{name: "for else", src: "{% for x in customer.no_tags %}{{ x }}{% else %}none{% endfor %}", want: "none"},
		{name: "break and continue", src: "{% for i in (1..9) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}", want: "13"},
		{name: "break inside capture inside for", src: "{% for i in (1..5) %}{% capture c %}{{ i }}{% if i == 2 %}{% break %}{% endif %}{% endcapture %}{{ c }}{% endfor %}", want: "1"},
		{name: "break outside a loop ends the template", src: "a{% break %}b", want: "a"},
		{name: "capture", src: "{% capture greeting %}Hi {{ customer.first_name }}{% endcapture %}{{ greeting | upcase }}", want: "HI ANN"},
		{name: "capture in a loop", src: "{% capture l %}{% endcapture %}{% for t in customer.tags %}{% capture l %}{{ l }}{{ t }};{% endcapture %}{% endfor %}{{ l }}", want: "vip;beta;"},
		{name: "whitespace control", src: "a  {{- customer.first_name -}}  b {%- if true -%}  c  {%- endif %}", want: "aAnnbc"},
		{name: "whitespace control in capture", src: "{% capture x -%}  v  {%- endcapture %}[{{ x }}]", want: "[v]"},
		{name: "whitespace control trims only the text beside it", src: "a  {% for i in (1..customer.neg) %}x{% endfor %}{%- if true %}b{% endif %}", want: "a  b"},
		{name: "whitespace-only blocks print nothing", src: "[{% if true %}\n  {% assign x = 1 %}\n{% endif %}]", want: "[]"},
		{name: "raw keeps braces", src: "{% raw %}{{ not.a.variable }} {% if %}{% endraw %}", want: "{{ not.a.variable }} {% if %}"},
		{name: "comment", src: "a{% comment %}{{ nope }} {% if %}{% endcomment %}b", want: "ab"},
		{name: "inline comment", src: "a{% # a note %}{%# another %}b{% # one\n   # two %}", want: "ab"},
		{name: "doc", src: "a{% doc %}@param {string} x{% enddoc %}b", want: "ab"},
		{name: "echo", src: "{% echo customer.first_name | upcase %}", want: "ANN"},
		{name: "liquid", src: "{% liquid\n  assign n = customer.tags | size\n  if n > 1\n    echo 'many'\n  else\n    echo 'few'\n  endif\n%}", want: "many"},
		{name: "increment and decrement", src: "{% increment a %}{% increment a %}{% decrement b %}{% decrement b %} {{ a }}{{ b }}", want: "01-1-2 2-2"},
		{name: "cycle", src: "{% for i in (1..4) %}{% cycle 'x', 'y', 'z' %}{% endfor %}|{% cycle 'g': 1, 2 %}{% cycle 'g': 1, 2 %}", want: "xyzx|12"},
		{name: "cycle outside a loop", src: "{% assign forloop = 1 %}{% cycle 'a', 'b' %}{% cycle 'a', 'b' %}", want: "ab"},
		{name: "ifchanged", src: "{% for t in event.items %}{% ifchanged %}{{ t.qty | divided_by: 10 }}{% endifchanged %}{% endfor %}", want: "0"},
		{name: "tablerow", src: "{% tablerow i in (1..3) cols: 2 %}{{ i }}{% endtablerow %}", want: "<tr class=\"row1\">\n<td class=\"col1\">1</td><td class=\"col2\">2</td></tr>\n<tr class=\"row2\"><td class=\"col1\">3</td></tr>\n"},
		{name: "case with several matching values", src: "{% case customer.first_name %}{% when 'Ann', 'Ann' %}a{% when 'Bob' %}b{% else %}c{% endcase %}", want: "aa"},
		{name: "assign and case", src: "{% assign p = customer.tags.first %}{% case p %}{% when 'vip' %}V{% when 'x' %}X{% endcase %}", want: "V"},
		{name: "a range over data", src: "{% for i in (1..customer.tags.size) %}{{ i }}{% endfor %}{% for i in (customer.neg..-40) %}{{ i }};{% endfor %}", want: "12-42;-41;-40;"},
		{name: "a range bound that is not a number", src: "{% for i in (1..customer.tags) %}{% endfor %}", wantErr: ErrTemplate, errHas: "range end customer.tags is a list, not a whole number"},
		{name: "a range bound read as Liquid reads it", src: "{% for i in (1..customer.price) %}{{ i }}{% endfor %}|{% for i in ('2'..customer.first_name) %}{{ i }}{% endfor %}", want: "123456789101112|"},
	})
}

// TestRangeBounds: a range's bounds come from the data as Liquid reads
// them; a missing one fails in strict mode, naming it, wherever the range
// is.
func TestRangeBounds(t *testing.T) {
	data := mustData(t, customerDoc)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "missing start", src: "{% for i in (customer.nope..3) %}{{ i }}{% endfor %}", wantErr: ErrMissingVariable, errHas: "missing variable customer.nope"},
		{name: "attribute of a missing object", src: "{% for i in (1..customer.nope.count) %}{% endfor %}", wantErr: ErrMissingVariable, errHas: "missing variable customer.nope.count"},
		{name: "tablerow", src: "{% tablerow i in (1..customer.nope) %}{{ i }}{% endtablerow %}", wantErr: ErrMissingVariable, errHas: "missing variable customer.nope"},
		{name: "printed", src: "{{ (1..customer.nope) | join: ',' }}", wantErr: ErrMissingVariable, errHas: "missing variable customer.nope"},
		{name: "null is 0", src: "{% for i in (customer.nothing..2) %}{{ i }}{% endfor %}", want: "012"},
		{name: "a loop variable", src: "{% for item in event.items %}{% for i in (1..item.qty) %}{{ item.sku }}{% endfor %}{% endfor %}", want: "aabbb"},
	})
}

// Long and/or chains and deep brackets neither exhaust the stack nor
// change the grouping.
func TestDeepExpressions(t *testing.T) {
	chain := "false"
	for range 5000 {
		chain += " or false"
	}
	out, err := renderText(t, Options{}, "{% if "+chain+" or true %}yes{% endif %}", nil)
	require.NoError(t, err)
	assert.Equal(t, "yes", out)
	_, err = Compile("{{ a" + repeat("[a", 60) + repeat("]", 60) + " }}")
	assert.ErrorIs(t, err, ErrTemplateSyntax)
	assert.Contains(t, err.Error(), "nested more than")
}
