package dialect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScanner(t *testing.T) {
	sc := newScanner("a \n{{- x -}}\n b{%- if y -%} c {%# note %}{{ z\n }}{% raw %}{{ r }}{%- endraw %}", 1)
	var got []token
	for {
		tok, err := sc.next()
		require.NoError(t, err)
		if tok.kind == tokEOF {
			break
		}
		if tok.kind == tokTag && tok.name == "raw" {
			body, end, ok := sc.rawUntil("endraw")
			require.True(t, ok)
			assert.Equal(t, "{{ r }}", body)
			assert.Equal(t, 4, end.line)
		}
		got = append(got, tok)
	}
	want := []token{
		{kind: tokText, line: 1, text: "a"},
		{kind: tokOutput, line: 2, text: " x ", trimRight: true},
		{kind: tokText, line: 2, text: "b"},
		{kind: tokTag, line: 3, name: "if", args: " y ", trimRight: true},
		{kind: tokText, line: 3, text: "c "},
		{kind: tokTag, line: 3, name: "#", args: " note "},
		{kind: tokOutput, line: 3, text: " z\n "},
		{kind: tokTag, line: 4, name: "raw", args: " "},
	}
	assert.Equal(t, want, got)
}

func TestLexer(t *testing.T) {
	toks, err := lex(`a.b-c? [ 'x' ] -12 3.5 == <> .. | f: "y", k: 1`)
	require.NoError(t, err)
	var kinds []lexKind
	var texts []string
	for _, tk := range toks {
		kinds = append(kinds, tk.kind)
		texts = append(texts, tk.text)
	}
	assert.Equal(t, []string{"a", ".", "b-c?", "[", "x", "]", "-12", "3.5", "==", "<>", "..", "|", "f", ":", "y", ",", "k", ":", "1"}, texts)
	assert.Equal(t, lexFloat, kinds[7])
	for _, bad := range []string{`'open`, `12abc`, `a ; b`} {
		_, err := lex(bad)
		assert.Error(t, err, bad)
	}
}
