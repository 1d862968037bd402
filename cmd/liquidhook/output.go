package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
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

// urlUserinfo matches the scheme and userinfo of a URL inside a message,
// up to the authority's last @, as the library splits userinfo off.
var urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#"]*@`)

// withoutUserinfo removes the credentials of every URL in an error message.
// Errors quote what was given on the command line (a flag's invalid value,
// a file name), and a database URL put into the wrong flag must not be
// echoed with its password.
func withoutUserinfo(msg string) string {
	return urlUserinfo.ReplaceAllString(msg, "$1")
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
