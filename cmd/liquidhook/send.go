package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	webhook "github.com/liquidhook/webhook"
)

const sendUsage = `usage: liquidhook send --action A.json --data D.json [flags]

Renders the action for the data, signs it with the key in
LIQUIDHOOK_SIGNING_KEY (unsigned when unset), and sends it with retries.
Progress goes to standard error; the result goes to standard output as one
JSON object: delivered, status, idempotency_key, attempts (number, start,
duration, status, class, retry_after, wait, error; durations in
nanoseconds), attributes (the mapped response) and error.

Flags:
  --action FILE      the webhook action (JSON)
  --data FILE        the data to render it with (a JSON object)
  --lax              print a missing variable as empty instead of failing
                     (the default is strict, as in Customer.io)
  --timeout D        per attempt, from dial to the end of the body (default 4s)
  --retries N        retries after the first attempt (default 10; 0 for none)
  --backoff D        the wait before the first retry, doubling after (default 10.5s)
  --allow-private    allow loopback, private and link-local destinations
  --proxy URL        send through this HTTP proxy (https goes through
                     CONNECT); defaults to LIQUIDHOOK_PROXY, which is where
                     proxy credentials belong. The proxy then checks the
                     destination: the address guard checks only direct
                     connections. HTTP_PROXY and HTTPS_PROXY are not read.
  --dry-run          render and print the request instead of sending it
  --response FILE    with --dry-run: map this recorded response body
                     (as a 200 answer) into attributes

Exit status: 0 delivered (or a dry run that rendered and mapped); 1 the
webhook was sent and failed after retries; 2 anything that went wrong
before sending.
`

// sendMaxResponseFile bounds a recorded response read for --dry-run: one
// byte over the Sender's cap is enough to know it would fail.
const sendMaxResponseFile = webhook.DefaultMaxResponseBytes

// runSend implements `liquidhook send`.
func runSend(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	actionPath := fs.String("action", "", "the action file")
	dataPath := fs.String("data", "", "the data file")
	lax := fs.Bool("lax", false, "print a missing variable as empty instead of failing")
	var how senderFlags
	how.register(fs)
	dryRun := fs.Bool("dry-run", false, "render without sending")
	responsePath := fs.String("response", "", "a recorded response, with --dry-run")
	if err := parseFlags(e, fs, sendUsage, args); err != nil {
		return err
	}
	switch {
	case *actionPath == "":
		return badInput("--action is required: the webhook action file")
	case *dataPath == "":
		return badInput("--data is required: the data file (a JSON object)")
	case *responsePath != "" && !*dryRun:
		return badInput("--response needs --dry-run: it maps a recorded response without sending")
	}
	how.proxyFromEnv(e.getenv)
	if err := how.check(); err != nil {
		return err
	}

	req, mapper, err := renderFiles(*actionPath, *dataPath, *lax)
	if err != nil {
		return err
	}
	if *dryRun {
		return sendDryRun(e, req, mapper, *actionPath, *responsePath)
	}

	key := e.getenv(envSigningKey)
	if key == "" {
		fmt.Fprintf(e.stderr, "warning: %s is not set: sending unsigned\n", envSigningKey)
	}
	sender := how.sender(key)
	sender.OnAttempt = sendProgress(e.stderr)
	fmt.Fprintf(e.stderr, "sending %s, idempotency key %s\n", req, req.IdempotencyKey)
	res, err := sender.Send(ctx, req, mapper)
	var se *webhook.SendError
	if errors.As(err, &se) && len(se.Attempts) == 0 && !errors.Is(err, context.Canceled) {
		// Nothing went out: the request itself is wrong.
		return fileError(*actionPath, err)
	}
	if werr := writeJSON(e.stdout, sendOutputOf(res, err)); werr != nil {
		return failed(werr)
	}
	if err != nil {
		if errors.Is(err, webhook.ErrBlockedAddress) && how.proxy == "" {
			fmt.Fprintln(e.stderr, "hint: the destination is not a public address; --allow-private allows it")
		}
		return failed(err)
	}
	fmt.Fprintf(e.stderr, "delivered after %s\n", plural(len(res.Attempts), "attempt"))
	return nil
}

// senderFlags say how a webhook is sent: the flags that send and queue work
// share.
type senderFlags struct {
	timeout      time.Duration
	retries      int
	backoff      time.Duration
	allowPrivate bool
	proxy        string
	proxyFrom    string   // where proxy came from: the flag or the variable
	proxyURL     *url.URL // proxy, checked
}

// envProxy names the variable that holds --proxy when the flag is absent.
const envProxy = "LIQUIDHOOK_PROXY"

func (f *senderFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.timeout, "timeout", webhook.DefaultTimeout, "per-attempt timeout")
	fs.IntVar(&f.retries, "retries", webhook.DefaultRetries, "retries after the first attempt")
	fs.DurationVar(&f.backoff, "backoff", webhook.DefaultFirstWait, "the first wait, doubling after")
	fs.BoolVar(&f.allowPrivate, "allow-private", false, "allow non-public destinations")
	fs.StringVar(&f.proxy, "proxy", "", "an HTTP proxy URL")
}

// proxyFromEnv takes the proxy from LIQUIDHOOK_PROXY when --proxy is
// absent.
func (f *senderFlags) proxyFromEnv(getenv func(string) string) {
	f.proxyFrom = "--proxy"
	if f.proxy == "" {
		f.proxy, f.proxyFrom = getenv(envProxy), envProxy
	}
}

// check refuses values that make no policy.
func (f *senderFlags) check() error {
	switch {
	case f.timeout <= 0:
		return badInput("--timeout %s: want a positive duration, such as 4s", f.timeout)
	case f.retries < 0:
		return badInput("--retries %d: want 0 or more", f.retries)
	case f.backoff <= 0:
		return badInput("--backoff %s: want a positive duration, such as 10.5s", f.backoff)
	}
	return f.checkProxy()
}

// checkProxy parses the proxy, if any, without ever quoting its
// credentials, and refuses credentials on the command line, where other
// users of the machine can read them.
func (f *senderFlags) checkProxy() error {
	if f.proxy == "" {
		return nil
	}
	u, err := url.Parse(f.proxy)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Opaque != "" {
		return badInput("%s %s: want an http:// or https:// proxy URL, such as http://proxy.internal:3128", f.proxyFrom, quoted(webhook.RedactURL(f.proxy)))
	}
	if u.User != nil && f.proxyFrom == "--proxy" {
		return badInput("--proxy: credentials do not belong on the command line, where other users can see them: set %s instead", envProxy)
	}
	f.proxyURL = u
	return nil
}

// sender returns a Sender that follows the flags and signs with key, or
// sends unsigned when key is empty.
func (f *senderFlags) sender(key string) *webhook.Sender {
	var policy webhook.RetryPolicy = webhook.NoRetry
	if f.retries > 0 {
		policy = webhook.Exponential{Retries: f.retries, FirstWait: f.backoff}
	}
	s := &webhook.Sender{
		Key:          []byte(key),
		Timeout:      f.timeout,
		RetryPolicy:  policy,
		AllowPrivate: f.allowPrivate,
	}
	if f.proxyURL != nil {
		s.Proxy = http.ProxyURL(f.proxyURL)
	}
	return s
}

// sendOutput is the JSON result on standard output.
type sendOutput struct {
	Delivered      bool             `json:"delivered"`
	Status         int              `json:"status"`
	IdempotencyKey string           `json:"idempotency_key"`
	Attempts       []sendAttempt    `json:"attempts"`
	Attributes     map[string]any   `json:"attributes"`
	Error          string           `json:"error,omitempty"`
	DryRun         bool             `json:"dry_run,omitempty"`
	Request        *renderedRequest `json:"request,omitempty"`
}

// sendAttempt is an Attempt with its error as text.
type sendAttempt struct {
	webhook.Attempt
	Error string `json:"error,omitempty"`
}

func sendOutputOf(res *webhook.Result, err error) sendOutput {
	out := sendOutput{
		Delivered:      res.Delivered(),
		IdempotencyKey: res.IdempotencyKey,
		Attempts:       make([]sendAttempt, 0, len(res.Attempts)),
		Attributes:     res.Attributes,
	}
	if res.Response != nil {
		out.Status = res.Response.Status
	}
	for _, a := range res.Attempts {
		sa := sendAttempt{Attempt: a}
		if a.Err != nil {
			sa.Error = a.Err.Error()
		}
		out.Attempts = append(out.Attempts, sa)
	}
	if out.Attributes == nil {
		out.Attributes = map[string]any{}
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// sendProgress returns an OnAttempt hook that tells a person what each
// attempt did and what happens next.
func sendProgress(w io.Writer) func(*webhook.Request, webhook.Attempt) {
	return func(_ *webhook.Request, a webhook.Attempt) {
		var b strings.Builder
		fmt.Fprintf(&b, "attempt %d: ", a.Number)
		switch {
		case a.Status != 0:
			fmt.Fprintf(&b, "%d %s", a.Status, http.StatusText(a.Status))
		case a.Class == webhook.ClassTimeout:
			b.WriteString("timed out")
		case a.Class == webhook.ClassBlocked:
			b.WriteString("refused")
		case a.Class == webhook.ClassCanceled:
			b.WriteString("cancelled")
		case a.Class == webhook.ClassInvalid:
			b.WriteString("not sent")
		default:
			b.WriteString("connection failed")
		}
		fmt.Fprintf(&b, " after %s", roundDuration(a.Duration))
		switch {
		case a.Class == "":
			b.WriteString(": delivered")
		default:
			if a.Err != nil {
				fmt.Fprintf(&b, ": %s", strings.TrimPrefix(a.Err.Error(), "webhook: "))
			}
			if a.Wait > 0 {
				fmt.Fprintf(&b, "; retrying in %s", roundDuration(a.Wait))
				if a.RetryAfter > 0 {
					fmt.Fprintf(&b, " (the receiver asked for %s)", roundDuration(a.RetryAfter))
				}
			} else if a.Class != webhook.ClassCanceled {
				b.WriteString("; not retrying")
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// sendDryRun prints the request that would be sent and, given a recorded
// response, the attributes it would map to.
func sendDryRun(e *env, req *webhook.Request, mapper webhook.ResponseMapper, actionPath, responsePath string) error {
	out := sendOutput{
		DryRun:         true,
		IdempotencyKey: req.IdempotencyKey,
		Attempts:       []sendAttempt{},
		Attributes:     map[string]any{},
		Request:        newRenderedRequest(req),
	}
	fmt.Fprintf(e.stderr, "dry run: not sending %s\n", req)
	if responsePath != "" {
		body, err := sendReadResponse(responsePath)
		if err != nil {
			return err
		}
		attrs, err := mapper.MapResponse(&webhook.Response{Status: http.StatusOK, Body: body})
		if err != nil {
			return fileError(actionPath, fmt.Errorf("mapping %s: %w", responsePath, err))
		}
		out.Status = http.StatusOK
		if attrs != nil {
			out.Attributes = attrs
		}
		fmt.Fprintf(e.stderr, "dry run: mapped %s from %s\n", plural(len(out.Attributes), "attribute"), responsePath)
	}
	if err := writeJSON(e.stdout, out); err != nil {
		return failed(err)
	}
	return nil
}

// sendReadResponse reads a recorded response body, refusing one the
// Sender would refuse.
func sendReadResponse(path string) ([]byte, error) {
	body, err := readFileLimited(path, sendMaxResponseFile)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, badInput("--response: %s is over %d bytes, so the webhook would fail (%v)", path, sendMaxResponseFile, webhook.ErrResponseTooLarge)
	case err != nil:
		return nil, badInput("--response: %v", err)
	}
	return body, nil
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
