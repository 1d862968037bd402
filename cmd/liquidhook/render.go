package main

import (
	"context"
	"flag"

	"github.com/liquidhook/webhook"
)

const renderUsage = `usage: liquidhook render --action A.json --data D.json [--lax]

Renders the action for the data and prints the request that would be sent
as one JSON object:
  method   the method
  url      the URL without its user:password@ and #fragment; the values of
           secret query parameters (key, token, secret, password, code,
           sid, sig, ...) and the secret parts of known webhook paths
           (Slack, Discord, Zapier, Telegram, ...) read REDACTED
  headers  every header; the values of secret ones (Authorization,
           Cookie, X-Api-Key, X-Honeycomb-Team, ...) read REDACTED
  body     the rendered body exactly as it would be sent: secrets and
           personal data in it are shown as they are
Nothing is sent and no key is needed.

Flags:
  --action FILE      the webhook action (JSON)
  --data FILE        the data to render it with (a JSON object); without
                     it, the action renders with no data
  --lax              print a missing variable as empty instead of failing
                     (the default is strict, as in Customer.io)

Exit status: 0 rendered; 2 anything wrong with the flags, the files, the
templates or the rendered request, named by file, field and line.
`

// renderedRequest is what render prints: the request as it would be sent,
// with credentials removed from the URL and secret headers redacted.
type renderedRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func newRenderedRequest(r *webhook.Request) *renderedRequest {
	return &renderedRequest{
		Method:  r.Method,
		URL:     webhook.RedactURL(r.URL),
		Headers: flatHeader(r.RedactedHeader()),
		Body:    string(r.Body),
	}
}

func runRender(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	actionPath := fs.String("action", "", "the action file: a JSON spec")
	dataPath := fs.String("data", "", "the data file: a JSON object whose keys (customer, event, ...) are variables")
	lax := fs.Bool("lax", false, "print a missing variable as empty instead of failing")
	if err := parseFlags(e, fs, renderUsage, args); err != nil {
		return err
	}
	if *actionPath == "" {
		return badInput("--action is required: the webhook action file")
	}
	req, _, err := renderFiles(*actionPath, *dataPath, *lax)
	if err != nil {
		return err
	}
	if err := writeJSON(e.stdout, newRenderedRequest(req)); err != nil {
		return badInput("writing the result: %v", err)
	}
	return nil
}
