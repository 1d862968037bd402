// Package webhook sends Customer.io-style webhook actions from any Go
// service and verifies them in any Go server.
//
// A webhook action is defined once as Liquid templates (method, URL,
// headers, body and a response mapping), compiled once, and rendered per
// person. Each attempt is signed with HMAC-SHA256 and carries an
// idempotency key that stays the same across retries and re-sends; the
// response, read within a 10 KiB cap, is mapped back into attributes.
//
//	action, err := webhook.Compile(webhook.Spec{
//		URL:      "https://api.example.com/v1/leads",
//		Body:     `{"email": {{ customer.email | json }}}`,
//		Response: map[string]string{"lead_id": "{{ response.id }}"},
//	})
//	if err != nil { ... } // a *TemplateError names the field and line
//	data := map[string]any{"customer": customer}
//	req, err := action.Render(data)
//	if err != nil { ... } // a missing attribute, or a body that is not JSON
//	sender := &webhook.Sender{Key: signingKey}
//	res, err := sender.Send(ctx, req, action.Mapper(data)) // retried on 408, 409, 429, 5xx
//	if err != nil { ... } // a *SendError with every attempt
//	fmt.Println(res.Attributes["lead_id"])
//
// The receiving side:
//
//	v := &webhook.Verifier{Keys: [][]byte{signingKey}}
//	http.Handle("/hook", v.Middleware(handler))
//	// in handler: info, _ := webhook.VerifiedFromContext(r.Context())
//
// # Security rules
//
//   - Signatures are compared in constant time (hmac.Equal). Verify the raw
//     body exactly as received; never re-encode it first.
//   - A Verifier refuses timestamps too old or too far in the future
//     (5 minutes by default), so a captured request cannot be replayed
//     later; with RefuseReplays it refuses a copy within those minutes too.
//   - Every read is bounded: templates (time, output, iterations), request
//     bodies a Verifier reads, and responses a Sender reads.
//   - A Sender's default transport refuses loopback, private, link-local
//     (cloud metadata), CGNAT and other non-public addresses at dial time,
//     after DNS, unless AllowPrivate or AllowedPrefixes say otherwise.
//     Through a Proxy, the proxy reaches the destination and must check it.
//   - Redirects are not followed unless asked, and then never carry
//     credentials or signatures to another host.
//   - Credentials from a URL's user:pass@ become an Authorization header;
//     they, query values named like secrets and path segments that look
//     like credentials (see RedactURL) never appear in an error, a log
//     record or String.
//   - Header values with CR, LF or NUL are refused, and a JSON or form body
//     is checked before anything is sent: nothing leaves half-made.
//
// # Customer.io's Liquid dialect
//
// Templates are Shopify's Liquid, as the Golden Liquid suite defines it,
// with every Liquid 5 tag and filter and Customer.io's own (format_number,
// currency, pluralize, to_json, from_json, add_day, timezone, base64,
// hmac_sha256, limit, {% generate_uuid %}, {% random %}, ...), and with
// these differences, on purpose:
//
//   - Printing a missing variable fails the render and names it, as
//     Customer.io fails the message: {{ customer.nickname }} gives
//     ErrMissingVariable "missing variable customer.nickname". if,
//     unless, case, for, contains, == blank, .size comparisons and default
//     tolerate it, also through assign; Compiler.Lax prints it as empty.
//   - {{ customer }} prints a Ruby hash, {"id"=>"1"}, keys sorted, so
//     {{ customer | replace: "=>", ":" }} yields JSON; | json always does.
//   - Numbers print exactly (1700000000, never 1.7e+09) and a whole float
//     as a whole number ({{ 10 | plus: 2.0 }} is 12).
//   - Dates are UTC unless date's second argument names a zone: an IANA
//     name, an offset ("+05:30"), or, as in Customer.io, minutes behind UTC
//     (date: "%H:%M", 360). Zone names come from the system's zone
//     database; a program that runs where there is none imports
//     time/tzdata, as the CLI does.
//   - Templates are bounded (see Compiler) and never read files: include
//     and render, like unknown filters and tags, fail Compile.
//   - A JSON or form body is checked before the Request is returned.
//   - A value printed into the URL stays inside the path segment, query
//     parameter, userinfo or host it was printed in: it is percent-encoded
//     there (once: not after url_encode), and a path segment it leaves
//     empty, "." or ".." fails the render, naming it. Customer.io does not
//     escape. A URL printed whole from data, {{ event.callback_url }}, is
//     used as given, and its host still meets the address guard.
//
// # Observability
//
// A Sender reports through OpenTelemetry's API, to the global providers
// unless its TracerProvider and MeterProvider say otherwise; nothing is
// recorded until the application installs an SDK. Each attempt is a
// client span, a child of the span in Send's context, named after its
// method as the HTTP semantic conventions name them. A span that is
// recorded (the attributes are computed for no other, so a sampler does
// not see them) has http.request.method, server.address, server.port,
// url.full (redacted as RedactURL does), liquidhook.idempotency_key and,
// from a Send's second attempt, http.request.resend_count; then
// http.response.status_code when a
// response arrived and, for an attempt that failed, error.type (the
// status code of a non-2xx response, the ErrorClass otherwise) and the
// status Error with the attempt's error. Its metrics are
// liquidhook.attempts, a counter, and liquidhook.attempt.duration, a
// histogram in seconds, both by http.request.method, server.address,
// server.port, liquidhook.attempt.outcome (delivered or failed),
// http.response.status_code and error.type. No trace header is sent
// unless the application has set a propagator (see Sender.Propagator).
// Sender.Logger hears of each attempt, at Debug, and of each failure, at
// Warn.
//
// Durable delivery (drafts, a delivery log, re-sends and retries that
// survive restarts) is in the delivery package.
package webhook

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/liquidhook/webhook/internal/dialect"
)

// Spec is the JSON-able definition of a webhook action. URL, the header
// values, Body and the Response values are Liquid templates in
// Customer.io's dialect; Method, the header names and Sending are not.
//
// The zero value of each field has a documented default, so a Spec read from
// a file need only name what differs.
type Spec struct {
	// Method is GET, POST, PUT, DELETE or PATCH, in any case. Defaults to
	// POST.
	Method string `json:"method,omitempty"`

	// URL is the destination: an absolute http or https URL once rendered.
	// Credentials written as user:pass@, KEY:@ or KEY@ are sent as HTTP
	// basic authentication and never as part of the URL.
	URL string `json:"url"`

	// Headers maps header names to value templates. Content-Type defaults
	// to application/json.
	Headers map[string]string `json:"headers,omitempty"`

	// Body is the request body template. The Content-Type header decides how
	// the rendered body is checked: JSON must parse, a form must decode, and
	// anything else is sent as rendered.
	Body string `json:"body,omitempty"`

	// Response maps attribute names to templates rendered over the parsed
	// response (as the variable response) and the same data.
	Response map[string]string `json:"response,omitempty"`

	// Sending is SendingAutomatic or SendingDraft. Defaults to SendingDraft,
	// as in Customer.io: a draft waits until someone releases it.
	Sending Sending `json:"sending,omitempty"`
}

// Sending says whether a delivery goes out as soon as it is queued or waits
// as a draft until released.
type Sending string

// The two sending behaviours.
const (
	SendingDraft     Sending = "draft"
	SendingAutomatic Sending = "automatic"
)

// ErrInvalidSpec marks a Spec that cannot be compiled for a reason other
// than a template: an unknown sending behaviour, an empty response
// attribute name, or (from ParseSpec) a malformed document. A header name
// that is not allowed is ErrInvalidHeader.
var ErrInvalidSpec = errors.New("webhook: invalid spec")

// Compiler compiles Specs into Actions with the options below. The zero
// value is ready to use and applies the documented defaults; the
// package-level Compile uses a zero Compiler.
//
// The limits exist because templates are written by people: a template
// that loops over a huge range or doubles a string in a loop fails the
// render with ErrLimitExceeded instead of taking the process down.
type Compiler struct {
	// Lax prints a missing variable or attribute as empty text instead of
	// failing the render with ErrMissingVariable, and reads a missing
	// bound of a range, (1..customer.count), as 0, as Liquid does.
	Lax bool

	// Timeout bounds the time one Render (all of an Action's templates
	// together) or one response mapping may take. Defaults to 1 second.
	Timeout time.Duration

	// MaxOutput caps, in bytes, each rendered template and every string a
	// template builds (with filters or capture). Defaults to 1 MiB.
	MaxOutput int

	// MaxIterations caps the loop iterations of one Render, all loops
	// together, and the elements of any array a filter takes or builds.
	// Defaults to 100,000.
	MaxIterations int

	// Now returns the current time for 'now' and 'today' in the date
	// filter. Defaults to time.Now. Dates are formatted in UTC unless the
	// date filter's second argument names a zone or an offset.
	Now func() time.Time
}

// Action is a compiled Spec: every template parsed once. An Action is safe
// for concurrent use.
type Action struct {
	spec      Spec
	opts      dialect.Options
	method    string
	url       *fieldTemplate
	staticURL *preparedURL // the URL parsed once, when it has no markup
	headers   []headerTmpl // sorted by name
	body      *fieldTemplate
	response  []responseTmpl
}

type headerTmpl struct {
	key string // canonical header name
	t   *fieldTemplate
}

type responseTmpl struct {
	name string
	t    *fieldTemplate
}

// Compile parses every template in spec once, with the default options. A
// problem is reported as a *TemplateError naming the field and, for a
// template, the line.
func Compile(spec Spec) (*Action, error) {
	var c Compiler
	return c.Compile(spec)
}

// headersManaged are set by the HTTP client or per attempt by the Sender;
// a Spec may not set them.
var headersManaged = func() map[string]string {
	m := map[string]string{
		"Host":               "set from the URL",
		"Content-Length":     "set from the body",
		"Transfer-Encoding":  "managed by the HTTP client",
		"Connection":         "managed by the HTTP client",
		"Keep-Alive":         "managed by the HTTP client",
		"Proxy-Connection":   "managed by the HTTP client",
		"Te":                 "managed by the HTTP client",
		"Trailer":            "managed by the HTTP client",
		"Upgrade":            "managed by the HTTP client",
		HeaderSignature:      "added to each attempt by the Sender",
		HeaderTimestamp:      "added to each attempt by the Sender",
		HeaderIdempotencyKey: "added to each attempt by the Sender",
	}
	canonical := make(map[string]string, len(m))
	for k, v := range m {
		canonical[http.CanonicalHeaderKey(k)] = v
	}
	return canonical
}()

// Compile parses every template in spec once, with c's options. A problem
// is reported as a *TemplateError naming the field and, for a template,
// the line.
func (c *Compiler) Compile(spec Spec) (*Action, error) {
	a := &Action{spec: cloneSpec(spec), opts: c.options()}
	var err error
	if a.method, err = normalizeMethod(spec.Method); err != nil {
		return nil, &TemplateError{Field: "method", Err: err}
	}
	switch spec.Sending {
	case "", SendingDraft, SendingAutomatic:
	default:
		return nil, &TemplateError{Field: "sending", Err: fmt.Errorf("%w: sending %q: want %q or %q", ErrInvalidSpec, truncate(string(spec.Sending), 20), SendingDraft, SendingAutomatic)}
	}
	if strings.TrimSpace(spec.URL) == "" {
		return nil, &TemplateError{Field: "url", Err: fmt.Errorf("%w: empty", ErrInvalidURL)}
	}
	if a.url, err = c.compileField("url", spec.URL); err != nil {
		return nil, err
	}
	if lit, static := a.url.literal(); static {
		pu, err := prepareURL(lit)
		if err != nil {
			return nil, &TemplateError{Field: "url", Err: err}
		}
		a.staticURL = &pu
	}

	seen := make(map[string]string, len(spec.Headers))
	for _, name := range slices.Sorted(maps.Keys(spec.Headers)) {
		field := "headers." + name
		if err := checkHeaderName(name); err != nil {
			return nil, &TemplateError{Field: field, Err: err}
		}
		key := http.CanonicalHeaderKey(name)
		if why, ok := headersManaged[key]; ok {
			return nil, &TemplateError{Field: field, Err: fmt.Errorf("%w: %s is %s", ErrInvalidHeader, key, why)}
		}
		if other, dup := seen[key]; dup {
			return nil, &TemplateError{Field: field, Err: fmt.Errorf("%w: %s and %s name the same header", ErrInvalidHeader, other, name)}
		}
		seen[key] = name
		t, err := c.compileField(field, spec.Headers[name])
		if err != nil {
			return nil, err
		}
		if lit, static := t.literal(); static {
			if err := checkHeader(key, lit); err != nil {
				return nil, &TemplateError{Field: field, Err: err}
			}
		}
		a.headers = append(a.headers, headerTmpl{key: key, t: t})
	}

	if spec.Body != "" {
		if a.body, err = c.compileField("body", spec.Body); err != nil {
			return nil, err
		}
		if lit, static := a.body.literal(); static && a.staticContentType() {
			if err := checkBody(a.method, normalizeContentType(a.contentType()), []byte(lit)); err != nil {
				return nil, &TemplateError{Field: "body", Err: err}
			}
		}
	}

	for _, name := range slices.Sorted(maps.Keys(spec.Response)) {
		field := "response." + name
		if strings.TrimSpace(name) == "" {
			return nil, &TemplateError{Field: field, Err: fmt.Errorf("%w: empty attribute name", ErrInvalidSpec)}
		}
		t, err := c.compileField(field, spec.Response[name])
		if err != nil {
			return nil, err
		}
		a.response = append(a.response, responseTmpl{name: name, t: t})
	}
	return a, nil
}

// contentType returns the Content-Type template's text if it is static.
func (a *Action) contentType() string {
	for _, h := range a.headers {
		if h.key == "Content-Type" {
			lit, _ := h.t.literal()
			return lit
		}
	}
	return ""
}

func (a *Action) staticContentType() bool {
	for _, h := range a.headers {
		if h.key == "Content-Type" {
			_, static := h.t.literal()
			return static
		}
	}
	return true
}

func cloneSpec(s Spec) Spec {
	s.Headers = maps.Clone(s.Headers)
	s.Response = maps.Clone(s.Response)
	return s
}

// Spec returns a copy of the Spec a was compiled from.
func (a *Action) Spec() Spec { return cloneSpec(a.spec) }

// Lax reports whether a was compiled with Compiler.Lax: whether it prints
// a missing variable as empty.
func (a *Action) Lax() bool { return a.opts.Lax }

// ErrNotCompiled is returned by Render on an Action that Compile did not
// make.
var ErrNotCompiled = errors.New("webhook: action not compiled: use Compile")
