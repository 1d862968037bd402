package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/liquidhook/webhook"
)

// renderedRequest is what render prints: the request as it would be sent,
// with credentials removed from the URL and secret headers redacted.
type renderedRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func newRenderedRequest(r *webhook.Request) renderedRequest {
	out := renderedRequest{Method: r.Method, URL: webhook.RedactURL(r.URL), Headers: map[string]string{}, Body: string(r.Body)}
	for name, values := range r.RedactedHeader() {
		out.Headers[name] = strings.Join(values, ", ")
	}
	return out
}

func runRender(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	actionPath := fs.String("action", "", "the action file: a JSON spec")
	dataPath := fs.String("data", "", "the data file: a JSON object whose keys (customer, event, ...) are variables")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stderr)
			fmt.Fprintln(e.stderr, "usage: liquidhook render --action A.json --data D.json")
			fmt.Fprintln(e.stderr, "Prints the rendered request as JSON (method, url, headers, body); nothing is sent.")
			fs.PrintDefaults()
			return silent(exitOK)
		}
		return badInput("%v (see liquidhook render -h)", err)
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q (see liquidhook render -h)", fs.Arg(0))
	}
	if *actionPath == "" {
		return badInput("--action is required (see liquidhook render -h)")
	}
	action, err := loadAction(*actionPath, nil)
	if err != nil {
		return err
	}
	data, err := loadData(*dataPath)
	if err != nil {
		return err
	}
	req, err := action.Render(data)
	if err != nil {
		return fileError(*actionPath, err)
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(newRenderedRequest(req)); err != nil {
		return badInput("writing the result: %v", err)
	}
	return nil
}
