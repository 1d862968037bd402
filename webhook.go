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
//	req, err := action.Render(map[string]any{"customer": customer})
//	if err != nil { ... } // a missing attribute, or a body that is not JSON
//	sender := &webhook.Sender{Key: signingKey}
//	res, err := sender.Send(ctx, req) // retried on 408, 409, 429, 5xx
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
//     (5 minutes by default), so a captured request cannot be replayed.
//   - Every read is bounded: templates (time, output, iterations), request
//     bodies a Verifier reads, and responses a Sender reads.
//   - A Sender's default transport refuses loopback, private, link-local
//     (cloud metadata), CGNAT and other non-public addresses at dial time,
//     after DNS, unless AllowPrivate or AllowedPrefixes say otherwise.
//   - Redirects are not followed unless asked, and then never carry
//     credentials or signatures to another host.
//   - Credentials from a URL's user:pass@ become an Authorization header;
//     they, and query values named like secrets, never appear in an error,
//     a log record or String.
//   - Header values with CR, LF or NUL are refused, and a JSON or form body
//     is checked before anything is sent: nothing leaves half-made.
//
// # Customer.io's Liquid dialect
//
// Printing a missing attribute fails the render and names it, as
// Customer.io fails the message; if, unless, default, != blank and .size
// comparisons tolerate missing attributes. Objects print as Ruby hashes
// ({"id"=>"1"}), so {{ customer | replace: "=>", ":" }} yields JSON; the
// json filter always does. Numbers print exactly, 'now' | date: "%F" works,
// dates are UTC unless date's second argument names a zone
// (date: "%H:%M", customer.timezone), and include and render cannot read
// files. Zone names come from the system's zone database; a program that
// runs where there is none imports time/tzdata, as the CLI does.
//
// Durable delivery (drafts, a delivery log, re-sends and retries that
// survive restarts) is in the delivery package.
package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
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
// than a template: an unknown sending behaviour, a header name that is not
// allowed, or (from ParseSpec) a malformed document.
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
	// failing the render with ErrMissingVariable.
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
	// filter. Defaults to time.Now. Dates are always formatted in UTC.
	Now func() time.Time
}

// Action is a compiled Spec: every template parsed once. An Action is safe
// for concurrent use.
type Action struct {
	spec      Spec
	eng       *engine
	method    string
	url       *tmpl
	staticURL *preparedURL // the URL parsed once, when it has no markup
	headers   []headerTmpl // sorted by name
	body      *tmpl        // nil without a body
	bodyHint  int          // initial capacity for the rendered body
	response  []responseTmpl
}

type headerTmpl struct {
	key string // canonical header name
	t   *tmpl
}

type responseTmpl struct {
	name string
	t    *tmpl
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
	e := c.engine()
	a := &Action{spec: cloneSpec(spec), eng: e}
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
	if a.url, err = e.compile("url", spec.URL); err != nil {
		return nil, err
	}
	if a.url.static {
		pu, err := prepareURL(a.url.literal)
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
		t, err := e.compile(field, spec.Headers[name])
		if err != nil {
			return nil, err
		}
		if t.static {
			if err := checkHeader(key, t.literal); err != nil {
				return nil, &TemplateError{Field: field, Err: err}
			}
		}
		a.headers = append(a.headers, headerTmpl{key: key, t: t})
	}

	if spec.Body != "" {
		if a.body, err = e.compile("body", spec.Body); err != nil {
			return nil, err
		}
		a.bodyHint = min(len(spec.Body)+len(spec.Body)/2+64, e.maxOutput)
		if a.body.static && a.staticContentType() {
			if err := checkBody(a.method, normalizeContentType(a.contentType()), []byte(a.body.literal)); err != nil {
				return nil, &TemplateError{Field: "body", Err: err}
			}
		}
	}

	for _, name := range slices.Sorted(maps.Keys(spec.Response)) {
		field := "response." + name
		if strings.TrimSpace(name) == "" {
			return nil, &TemplateError{Field: field, Err: fmt.Errorf("%w: empty attribute name", ErrInvalidSpec)}
		}
		t, err := e.compile(field, spec.Response[name])
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
			return h.t.literal
		}
	}
	return ""
}

func (a *Action) staticContentType() bool {
	for _, h := range a.headers {
		if h.key == "Content-Type" {
			return h.t.static
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

// ErrNotCompiled is returned by Render on an Action that Compile did not
// make.
var ErrNotCompiled = errors.New("webhook: action not compiled: use Compile")

// Render renders the request for one person's data: each top-level key of
// data (customer, event, ...) is a Liquid variable. Use ParseData for data
// read as JSON, so numbers behave. The Request has a new idempotency key.
// A problem is reported as a *TemplateError naming the field.
func (a *Action) Render(data map[string]any) (*Request, error) {
	if a == nil || a.eng == nil {
		return nil, ErrNotCompiled
	}
	return a.render(data)
}

// ParseError reports where a JSON document given to ParseSpec or ParseData
// is wrong. It matches ErrInvalidSpec or ErrInvalidData with errors.Is.
type ParseError struct {
	// Field names the field at fault, such as "headers.X-Team", or is empty
	// when the document as a whole is at fault.
	Field string
	// Line and Column are 1-based (Column counts characters); both are 0
	// when the position is unknown.
	Line, Column int
	// Err says what is wrong.
	Err error

	kind error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	if e.kind != nil {
		b.WriteString(e.kind.Error())
	} else {
		b.WriteString("webhook: invalid document")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d, column %d", e.Line, e.Column)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is the sentinel for this document's kind.
func (e *ParseError) Is(target error) bool { return target != nil && target == e.kind }

// Unwrap returns what is wrong.
func (e *ParseError) Unwrap() error { return e.Err }

func newParseError(kind error, doc []byte, offset int, field string, err error) *ParseError {
	line, col, _ := locate(doc, offset+1)
	return &ParseError{Field: field, Line: line, Column: col, Err: err, kind: kind}
}

// jsonError converts an encoding/json error into a *ParseError at its
// position. A SyntaxError's Offset counts the bytes read up to and
// including the bad one from Decode, but only those before it from Token;
// tokenErr says which.
func jsonError(kind error, doc []byte, err error, tokenErr bool) *ParseError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := int(se.Offset) - 1
		if tokenErr {
			off++
		}
		return newParseError(kind, doc, off, "", se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newParseError(kind, doc, len(doc), "", errors.New("unexpected end of input"))
	}
	return &ParseError{Err: err, kind: kind}
}

// skipSpace returns the offset of the first byte at or after off that is
// not JSON whitespace.
func skipSpace(b []byte, off int) int {
	for off < len(b) && (b[off] == ' ' || b[off] == '\t' || b[off] == '\n' || b[off] == '\r') {
		off++
	}
	return off
}

// specReader streams a spec document token by token, so every error has a
// position and unknown or repeated fields are caught.
type specReader struct {
	doc []byte
	dec *json.Decoder
}

// next returns the next token and the offset where it starts.
func (r *specReader) next() (json.Token, int, error) {
	off := int(r.dec.InputOffset())
	tok, err := r.dec.Token()
	// Token consumes the separators (',' and ':') before a value.
	for off < len(r.doc) && strings.IndexByte(" \t\r\n,:", r.doc[off]) >= 0 {
		off++
	}
	if err != nil {
		return nil, off, jsonError(ErrInvalidSpec, r.doc, err, true)
	}
	return tok, off, nil
}

func (r *specReader) fail(off int, field, format string, a ...any) error {
	return newParseError(ErrInvalidSpec, r.doc, off, field, fmt.Errorf(format, a...))
}

// str reads a string (or null) value for field.
func (r *specReader) str(field string) (string, int, error) {
	tok, off, err := r.next()
	if err != nil {
		return "", off, err
	}
	switch v := tok.(type) {
	case string:
		return v, off, nil
	case nil:
		return "", off, nil
	}
	return "", off, r.fail(off, field, "want a string, got %s", describeToken(tok))
}

// strMap reads an object of strings (or null) for field.
func (r *specReader) strMap(field string) (map[string]string, error) {
	tok, off, err := r.next()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, r.fail(off, field, "want an object of strings, got %s", describeToken(tok))
	}
	m := make(map[string]string)
	for r.dec.More() {
		keyTok, keyOff, err := r.next()
		if err != nil {
			return nil, err
		}
		key := keyTok.(string)
		if _, dup := m[key]; dup {
			return nil, r.fail(keyOff, field+"."+key, "appears twice")
		}
		v, _, err := r.str(field + "." + key)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
	if _, _, err := r.next(); err != nil { // the closing brace
		return nil, err
	}
	return m, nil
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case nil:
		return "null"
	}
	return "a string"
}

// ParseSpec reads a Spec from JSON strictly: unknown or repeated fields,
// values of the wrong type, an unknown method or sending behaviour, and
// anything after the object are refused. An error is a *ParseError with
// the line, column and field.
func ParseSpec(b []byte) (Spec, error) {
	r := &specReader{doc: b, dec: json.NewDecoder(bytes.NewReader(b))}
	r.dec.UseNumber()
	var s Spec
	tok, off, err := r.next()
	if err != nil {
		return Spec{}, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Spec{}, r.fail(off, "", "a spec must be a JSON object")
	}
	seen := make(map[string]bool)
	for r.dec.More() {
		keyTok, keyOff, err := r.next()
		if err != nil {
			return Spec{}, err
		}
		key := keyTok.(string)
		if seen[key] {
			return Spec{}, r.fail(keyOff, key, "appears twice")
		}
		seen[key] = true
		switch key {
		case "method":
			m, off, err := r.str(key)
			if err != nil {
				return Spec{}, err
			}
			if _, err := normalizeMethod(m); err != nil {
				return Spec{}, newParseError(ErrInvalidSpec, b, off, key, errors.New(strings.TrimPrefix(err.Error(), "webhook: ")))
			}
			s.Method = m
		case "url":
			if s.URL, _, err = r.str(key); err != nil {
				return Spec{}, err
			}
		case "body":
			if s.Body, _, err = r.str(key); err != nil {
				return Spec{}, err
			}
		case "sending":
			v, off, err := r.str(key)
			if err != nil {
				return Spec{}, err
			}
			switch Sending(v) {
			case "", SendingDraft, SendingAutomatic:
			default:
				return Spec{}, r.fail(off, key, "%q: want %q or %q", truncate(v, 20), SendingDraft, SendingAutomatic)
			}
			s.Sending = Sending(v)
		case "headers":
			if s.Headers, err = r.strMap(key); err != nil {
				return Spec{}, err
			}
		case "response":
			if s.Response, err = r.strMap(key); err != nil {
				return Spec{}, err
			}
		default:
			return Spec{}, r.fail(keyOff, "", "unknown field %q%s", truncate(key, 40), suggestField(key))
		}
	}
	if _, _, err := r.next(); err != nil { // the closing brace
		return Spec{}, err
	}
	if off := skipSpace(b, int(r.dec.InputOffset())); off < len(b) {
		return Spec{}, r.fail(off, "", "unexpected text after the spec")
	}
	return s, nil
}

// suggestField names the known field closest to an unknown one.
func suggestField(key string) string {
	best, bestDist := "", 3
	for _, f := range []string{"method", "url", "headers", "body", "response", "sending"} {
		if d := editDistance(strings.ToLower(key), f); d < bestDist {
			best, bestDist = f, d
		}
	}
	if best == "" {
		return " (want method, url, headers, body, response or sending)"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if utf8.RuneCountInString(a) > 32 {
		return 99
	}
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}
