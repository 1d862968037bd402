package main

import (
	"encoding/json"
	"io"
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
