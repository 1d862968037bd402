package dialect

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String filters.

func init() {
	text1 := func(name string, f func(string) string) {
		register(name, 0, 0, func(fa *filterArgs, in any) (any, error) {
			s, err := fa.text(in)
			if err != nil {
				return nil, err
			}
			return fa.result(f(s))
		})
	}
	text1("upcase", strings.ToUpper)
	text1("downcase", strings.ToLower)
	text1("capitalize", capitalize)
	text1("strip", trimSpace)
	text1("lstrip", trimLeftSpace)
	text1("rstrip", trimRightSpace)
	text1("strip_newlines", func(s string) string { return strings.NewReplacer("\r\n", "", "\n", "").Replace(s) })
	text1("newline_to_br", func(s string) string { return strings.NewReplacer("\r\n", "<br />\n", "\n", "<br />\n").Replace(s) })
	text1("strip_html", stripHTML)
	text1("titlecase", titlecase)
	text1("normalize_whitespace", func(s string) string { return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ") })
	text1("slugify", slugify)
	register("raw", 0, 0, func(fa *filterArgs, in any) (any, error) { return in, nil })

	register("append", 1, 1, func(fa *filterArgs, in any) (any, error) { return concatText(fa, in, fa.arg(0)) })
	register("prepend", 1, 1, func(fa *filterArgs, in any) (any, error) { return concatText(fa, fa.arg(0), in) })
	register("replace", 1, 2, replaceFilter(-1))
	register("replace_first", 1, 2, replaceFilter(1))
	register("replace_last", 2, 2, replaceLast)
	register("remove", 1, 1, removeFilter(-1))
	register("remove_first", 1, 1, removeFilter(1))
	register("remove_last", 1, 1, func(fa *filterArgs, in any) (any, error) {
		fa.args = append(fa.args[:1:1], "")
		return replaceLast(fa, in)
	})
	register("split", 1, 1, split)
	register("truncate", 0, 2, truncate)
	register("truncatewords", 0, 2, truncateWords)
	register("number_of_words", 0, 1, func(fa *filterArgs, in any) (any, error) {
		s, err := fa.text(in)
		return len(strings.FieldsFunc(s, unicode.IsSpace)), err
	})
}

// capitalize is Ruby's: the first character upcased, the rest downcased.
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
}

// titlecase capitalizes each word.
func titlecase(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if unicode.IsSpace(r) {
			start = true
			b.WriteRune(r)
			continue
		}
		if start {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		start = false
	}
	return b.String()
}

var (
	htmlBlocks = regexp.MustCompile(`(?is)<script.*?</script>|<!--.*?-->|<style.*?</style>`)
	htmlTags   = regexp.MustCompile(`(?s)<.*?>`)
	slugJunk   = regexp.MustCompile(`[^\p{L}\p{N}]+`)
)

// stripHTML removes tags, and scripts, styles and comments with their
// contents, as Liquid does.
func stripHTML(s string) string {
	return htmlTags.ReplaceAllString(htmlBlocks.ReplaceAllString(s, ""), "")
}

// slugify lowercases s and joins its words with hyphens.
func slugify(s string) string {
	return strings.Trim(slugJunk.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

func concatText(fa *filterArgs, a, b any) (any, error) {
	x, err := fa.text(a)
	if err != nil {
		return nil, err
	}
	y, err := fa.text(b)
	if err != nil {
		return nil, err
	}
	if len(x)+len(y) > fa.st.max {
		return nil, fa.st.run.fail(outputLimit(fa.st.max))
	}
	return x + y, nil
}

// texts3 reads the input and the first two arguments as text.
func texts3(fa *filterArgs, in any) (string, string, string, error) {
	a, err := fa.text(in)
	if err != nil {
		return "", "", "", err
	}
	b, err := fa.argText(0)
	if err != nil {
		return "", "", "", err
	}
	c, err := fa.argText(1)
	return a, b, c, err
}

// replaceFilter replaces the first n occurrences (all when n < 0), after
// checking the result's size: a replacement can multiply a string.
func replaceFilter(n int) func(fa *filterArgs, in any) (any, error) {
	return func(fa *filterArgs, in any) (any, error) {
		s, old, repl, err := texts3(fa, in)
		if err != nil {
			return nil, err
		}
		count := strings.Count(s, old)
		if old == "" {
			count = utf8.RuneCountInString(s) + 1
		}
		if n >= 0 {
			count = min(count, n)
		}
		if len(s)+count*(len(repl)-len(old)) > fa.st.max {
			return nil, fa.st.run.fail(outputLimit(fa.st.max))
		}
		return strings.Replace(s, old, repl, n), nil
	}
}

func removeFilter(n int) func(fa *filterArgs, in any) (any, error) {
	replace := replaceFilter(n)
	return func(fa *filterArgs, in any) (any, error) {
		fa.args = append(fa.args[:1:1], "")
		return replace(fa, in)
	}
}

func replaceLast(fa *filterArgs, in any) (any, error) {
	s, old, repl, err := texts3(fa, in)
	if err != nil {
		return nil, err
	}
	i := strings.LastIndex(s, old)
	if i < 0 {
		return s, nil
	}
	return fa.result(s[:i] + repl + s[i+len(old):])
}

// split is Ruby's String#split: a single space splits on runs of
// whitespace, an empty pattern into characters, and trailing empty
// strings are dropped.
func split(fa *filterArgs, in any) (any, error) {
	s, err := fa.text(in)
	if err != nil {
		return nil, err
	}
	sep, err := fa.argText(0)
	if err != nil {
		return nil, err
	}
	var parts []string
	switch {
	case s == "":
	case sep == " ":
		parts = strings.FieldsFunc(s, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' || r == 0
		})
	case sep == "":
		parts = strings.Split(s, "")
	default:
		parts = strings.Split(s, sep)
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
	}
	if err := fa.st.run.checkLen(len(parts)); err != nil {
		return nil, err
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

// intArg reads positional argument i as an integer, def when absent.
func (fa *filterArgs) intArg(i, def int) (int, error) {
	if !fa.has(i) {
		return def, nil
	}
	n, ok := strictInt(fa.arg(i))
	if !ok {
		return 0, errorf("invalid integer")
	}
	return n, nil
}

func truncate(fa *filterArgs, in any) (any, error) {
	if in == nil {
		return nil, nil
	}
	s, err := fa.text(in)
	if err != nil {
		return nil, err
	}
	length, err := fa.intArg(0, 50)
	if err != nil {
		return nil, err
	}
	ellipsis := "..."
	if fa.has(1) {
		if ellipsis, err = fa.argText(1); err != nil {
			return nil, err
		}
	}
	runes := []rune(s)
	if len(runes) <= length {
		return s, nil
	}
	keep := max(length-utf8.RuneCountInString(ellipsis), 0)
	return fa.result(string(runes[:keep]) + ellipsis)
}

func truncateWords(fa *filterArgs, in any) (any, error) {
	if in == nil {
		return nil, nil
	}
	s, err := fa.text(in)
	if err != nil {
		return nil, err
	}
	n, err := fa.intArg(0, 15)
	if err != nil {
		return nil, err
	}
	n = max(n, 1)
	ellipsis := "..."
	if fa.has(1) {
		if ellipsis, err = fa.argText(1); err != nil {
			return nil, err
		}
	}
	words := strings.Fields(s)
	if len(words) <= n {
		return s, nil
	}
	return fa.result(strings.Join(words[:n], " ") + ellipsis)
}
