package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/liquidhook/webhook"
)

// writeJSON prints v as indented JSON, as every subcommand prints its
// result: HTML characters (<, >, &) are left as they are, since the reader
// is a person or a script, not a browser.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// truncate shortens s to at most n bytes, cut at a character boundary,
// with an ellipsis when anything was cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// quoted is a value from the command line as an error quotes it: short,
// and without a URL's password, since a database URL put where an argument
// belongs must not be echoed with its password.
func quoted(s string) string {
	if strings.Contains(s, "://") {
		s = webhook.RedactURL(s)
	}
	return strconv.Quote(truncate(s, 40))
}

// flatHeader gives each header one printed value: its values joined by
// commas, as HTTP allows.
func flatHeader(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for name, values := range h {
		out[name] = strings.Join(values, ", ")
	}
	return out
}
