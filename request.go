package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// HeaderIdempotencyKey names the header that carries a delivery's
// idempotency key. The value is the same on every automatic retry and on a
// manual re-send, so a receiver can recognise a request it has already
// handled.
const HeaderIdempotencyKey = "X-CIO-Idempotency-Key"

// Errors that describe a request that cannot be sent. Each is wrapped with
// the detail of what was wrong and where; test for them with errors.Is.
var (
	ErrInvalidMethod = errors.New("webhook: invalid method")
	ErrInvalidURL    = errors.New("webhook: invalid URL")
	ErrInvalidHeader = errors.New("webhook: invalid header")
	ErrInvalidBody   = errors.New("webhook: invalid body")
)

// Content types a body is checked against. A form written the way
// Customer.io's editor accepts it (without the application/ prefix) is sent
// with the proper type.
const (
	contentTypeJSON = "application/json"
	contentTypeForm = "application/x-www-form-urlencoded"
)

// Request is a concrete webhook request: the bytes that every attempt sends.
// Render and RequestBuilder make valid ones; a Request assembled by hand is
// checked again when it is sent.
//
// Credentials never live in URL: basic-auth credentials are carried in the
// Authorization header, and String redacts them.
type Request struct {
	// Method is GET, POST, PUT, DELETE or PATCH.
	Method string

	// URL is an absolute http or https URL without userinfo.
	URL string

	// Header holds the request headers, Content-Type and Authorization
	// included. Signature and idempotency headers are added per attempt.
	Header http.Header

	// Body is sent unchanged on every attempt.
	Body []byte

	// IdempotencyKey is sent as X-CIO-Idempotency-Key on every attempt. A
	// Sender fills an empty one with NewIdempotencyKey.
	IdempotencyKey string

	// action and data let a Sender map the response into attributes; they
	// are unset on requests built without templates.
	action *Action
	data   map[string]any
}

// String describes r for logs: the method, the URL with credentials and
// secret-looking query values redacted, and the body size. It never prints
// a header value or the body.
func (r *Request) String() string {
	if r == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s %s (%d bytes)", r.Method, RedactURL(r.URL), len(r.Body))
}

// RedactedHeader returns a copy of r.Header in which the value of every
// header that may carry a secret (Authorization, cookies, anything named
// like a key, token, secret, password or signature) is replaced by
// "REDACTED".
func (r *Request) RedactedHeader() http.Header {
	h := make(http.Header, len(r.Header))
	for name, values := range r.Header {
		if sensitiveName(name) {
			h[name] = []string{redacted}
			continue
		}
		h[name] = append([]string(nil), values...)
	}
	return h
}

// NewHTTPRequest returns an *http.Request for one attempt at r. Its body can
// be read again (GetBody is set), and it carries the idempotency key. The
// caller adds signature headers.
func (r *Request) NewHTTPRequest(ctx context.Context) (*http.Request, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		// The URL was checked above, so this is rare; do not echo it.
		return nil, fmt.Errorf("%w: %s", ErrInvalidURL, RedactURL(r.URL))
	}
	hr.Header = r.Header.Clone()
	if hr.Header == nil {
		hr.Header = make(http.Header)
	}
	if r.IdempotencyKey != "" {
		hr.Header.Set(HeaderIdempotencyKey, r.IdempotencyKey)
	}
	return hr, nil
}

// validate re-checks a Request that may have been assembled by hand, so
// nothing half-made reaches the network.
func (r *Request) validate() error {
	if _, err := normalizeMethod(r.Method); err != nil {
		return err
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: want an absolute http or https URL", ErrInvalidURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: credentials belong in the Authorization header", ErrInvalidURL)
	}
	for name, values := range r.Header {
		for _, v := range values {
			if err := checkHeader(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// NewIdempotencyKey returns a new random idempotency key: a version 4 UUID
// from crypto/rand.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// RequestBuilder assembles a Request without templates. Each method records
// its input; Build checks everything and reports the first problem, so a
// chain of calls needs one error check.
type RequestBuilder struct {
	method, url string
	header      http.Header
	body        []byte
	key         string
	err         error
}

// NewRequest starts a Request for method and rawURL. As in an action's URL,
// user:pass@ in rawURL becomes basic authentication.
func NewRequest(method, rawURL string) *RequestBuilder {
	return &RequestBuilder{method: method, url: rawURL, header: make(http.Header)}
}

// Header adds a header value.
func (b *RequestBuilder) Header(name, value string) *RequestBuilder {
	b.header.Add(name, value)
	return b
}

// Body sets the body and its Content-Type. Build checks a JSON or form body
// as Render does.
func (b *RequestBuilder) Body(contentType string, body []byte) *RequestBuilder {
	b.header.Set("Content-Type", contentType)
	b.body = body
	return b
}

// JSON sets the body to v encoded as JSON, without HTML escaping, and the
// Content-Type to application/json.
func (b *RequestBuilder) JSON(v any) *RequestBuilder {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		b.err = fmt.Errorf("%w: %v", ErrInvalidBody, err)
		return b
	}
	return b.Body(contentTypeJSON, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// Form sets the body to v form-encoded and the matching Content-Type.
func (b *RequestBuilder) Form(v url.Values) *RequestBuilder {
	return b.Body(contentTypeForm, []byte(v.Encode()))
}

// IdempotencyKey sets the idempotency key. Without it Build makes a new one.
func (b *RequestBuilder) IdempotencyKey(key string) *RequestBuilder {
	b.key = key
	return b
}

// Build returns the Request, or the first error among its parts.
func (b *RequestBuilder) Build() (*Request, error) {
	if b.err != nil {
		return nil, b.err
	}
	r, err := newRequest(b.method, b.url, b.header, b.body)
	if err != nil {
		return nil, err
	}
	r.IdempotencyKey = b.key
	if r.IdempotencyKey == "" {
		r.IdempotencyKey = NewIdempotencyKey()
	}
	return r, nil
}

// newRequest turns rendered parts into a Request: the one place where
// method, URL, headers and body are checked, for templates and the builder
// alike.
func newRequest(method, rawURL string, header http.Header, body []byte) (*Request, error) {
	m, err := normalizeMethod(method)
	if err != nil {
		return nil, err
	}
	u, auth, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(header)+2)
	for name, values := range header {
		for _, v := range values {
			if err := checkHeader(name, v); err != nil {
				return nil, err
			}
			h.Add(name, v)
		}
	}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	ct := normalizeContentType(h.Get("Content-Type"))
	h.Set("Content-Type", ct)
	if err := checkBody(m, ct, body); err != nil {
		return nil, err
	}
	return &Request{Method: m, URL: u, Header: h, Body: body}, nil
}

// normalizeMethod accepts the five methods Customer.io offers, in any case,
// and defaults to POST.
func normalizeMethod(m string) (string, error) {
	switch up := strings.ToUpper(strings.TrimSpace(m)); up {
	case "":
		return http.MethodPost, nil
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return up, nil
	}
	return "", fmt.Errorf("%w %q: want GET, POST, PUT, DELETE or PATCH", ErrInvalidMethod, truncate(m, 20))
}

// parseURL checks that raw is an absolute http(s) URL and moves any userinfo
// into a basic Authorization value. Errors never repeat raw, which may hold
// credentials.
func parseURL(raw string) (clean, auth string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", fmt.Errorf("%w: empty", ErrInvalidURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", "", fmt.Errorf("%w: %v", ErrInvalidURL, redactParseError(err, raw))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", fmt.Errorf("%w: scheme must be http or https", ErrInvalidURL)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", "", fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	if u.User != nil {
		user := u.User.Username()
		pass, _ := u.User.Password()
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		u.User = nil
	}
	return u.String(), auth, nil
}

// redactParseError drops the userinfo from a URL parse error, should the
// parser have quoted it.
func redactParseError(err error, raw string) string {
	msg := err.Error()
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		if i := strings.Index(raw, "://"); i >= 0 && i+3 < at {
			if userinfo := raw[i+3 : at]; userinfo != "" {
				msg = strings.ReplaceAll(msg, userinfo, redacted)
			}
		}
	}
	return msg
}

// checkHeader refuses a header that net/http would refuse or that could
// smuggle a second header: an invalid name, or a value with a control
// character other than tab (CR, LF and NUL among them). The value is never
// quoted, as it may be a secret.
func checkHeader(name, value string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidHeader)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("%w: name %q has a character not allowed in a header name", ErrInvalidHeader, truncate(name, 40))
		}
	}
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == '\r' || c == '\n' || c == 0 || (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("%w: %s: value contains a control character (%s) at byte %d", ErrInvalidHeader, name, controlName(c), i)
		}
	}
	return nil
}

func controlName(c byte) string {
	switch c {
	case '\r':
		return "CR"
	case '\n':
		return "LF"
	case 0:
		return "NUL"
	}
	return fmt.Sprintf("0x%02x", c)
}

// isTokenChar reports whether c may appear in an HTTP header name (RFC 9110
// token).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// normalizeContentType defaults to JSON and gives a form written the way
// Customer.io's editor shows it (x-www-form-urlencoded) its proper type.
func normalizeContentType(ct string) string {
	ct = strings.TrimSpace(ct)
	if ct == "" {
		return contentTypeJSON
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "x-www-form-urlencoded" {
		return ct
	}
	return mime.FormatMediaType(contentTypeForm, params)
}

// bodyKind is how a body is checked.
type bodyKind int

const (
	bodyText bodyKind = iota
	bodyJSON
	bodyForm
)

func kindOf(contentType string) bodyKind {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch {
	case mt == contentTypeJSON || strings.HasSuffix(mt, "+json"):
		return bodyJSON
	case mt == contentTypeForm:
		return bodyForm
	}
	return bodyText
}

// checkBody checks body against its content type before anything is sent.
// GET and DELETE may have no body whatever the content type.
func checkBody(method, contentType string, body []byte) error {
	kind := kindOf(contentType)
	if len(bytes.TrimSpace(body)) == 0 {
		if kind == bodyJSON && method != http.MethodGet && method != http.MethodDelete {
			return &BodyError{ContentType: contentType, Err: errors.New("empty body is not JSON")}
		}
		return nil
	}
	switch kind {
	case bodyJSON:
		return checkJSON(contentType, body)
	case bodyForm:
		if _, err := url.ParseQuery(string(body)); err != nil {
			return &BodyError{ContentType: contentType, Err: err}
		}
	}
	return nil
}

// checkJSON validates body and, when it is invalid, locates the first error.
// json.Valid is the fast path; the slow path runs only for a bad body.
func checkJSON(contentType string, body []byte) error {
	if json.Valid(body) {
		return nil
	}
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return &BodyError{ContentType: contentType, Err: err}
	}
	line, col, snippet := locate(body, int(se.Offset))
	return &BodyError{ContentType: contentType, Line: line, Column: col, Snippet: snippet, Err: se}
}

// locate turns a byte offset into a 1-based line and column and a short
// excerpt of the line around it.
func locate(b []byte, offset int) (line, col int, snippet string) {
	if offset > len(b) {
		offset = len(b)
	}
	if offset > 0 {
		offset-- // json.SyntaxError.Offset is just past the offending byte.
	}
	line = 1 + bytes.Count(b[:offset], []byte("\n"))
	start := bytes.LastIndexByte(b[:offset], '\n') + 1
	col = offset - start + 1
	end := len(b)
	if i := bytes.IndexByte(b[offset:], '\n'); i >= 0 {
		end = offset + i
	}
	const around = 30
	from, to := max(start, offset-around), min(end, offset+around)
	snippet = strings.TrimSpace(string(b[from:to]))
	if from > start {
		snippet = "…" + snippet
	}
	if to < end {
		snippet += "…"
	}
	return line, col, snippet
}

// BodyError reports a rendered body that does not match its Content-Type.
// It matches ErrInvalidBody with errors.Is.
type BodyError struct {
	ContentType string
	Line        int    // 1-based; 0 when the position is unknown
	Column      int    // 1-based byte column within Line
	Snippet     string // the text around the error
	Err         error  // the parser's error
}

func (e *BodyError) Error() string {
	var b strings.Builder
	b.WriteString("webhook: invalid body")
	if kind := kindOf(e.ContentType); kind == bodyJSON {
		b.WriteString(" (JSON)")
	} else if kind == bodyForm {
		b.WriteString(" (form)")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " at line %d, column %d", e.Line, e.Column)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Snippet != "" {
		fmt.Fprintf(&b, ": near %q", e.Snippet)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidBody) hold for every BodyError.
func (e *BodyError) Is(target error) bool { return target == ErrInvalidBody }

// Unwrap returns the parser's error.
func (e *BodyError) Unwrap() error { return e.Err }

const redacted = "REDACTED"

// sensitiveName reports whether a header or query parameter name suggests a
// secret value.
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	for _, s := range []string{"key", "token", "secret", "pass", "pwd", "auth", "sig", "cred", "session"} {
		if strings.Contains(n, s) && n != strings.ToLower(HeaderIdempotencyKey) {
			return true
		}
	}
	return false
}

// RedactURL returns rawURL fit for a log line or an error: userinfo removed
// and the value of every query parameter whose name suggests a secret (key,
// token, secret, password, signature, ...) replaced by "REDACTED". An
// unparseable URL is reduced to its scheme and host, or to "REDACTED".
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return redacted
	}
	u.User = nil
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = redacted
		} else {
			keys := make([]string, 0, len(q))
			for k := range q {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var b strings.Builder
			for _, k := range keys {
				for _, v := range q[k] {
					if b.Len() > 0 {
						b.WriteByte('&')
					}
					b.WriteString(url.QueryEscape(k))
					b.WriteByte('=')
					if sensitiveName(k) {
						v = redacted
					}
					b.WriteString(url.QueryEscape(v))
				}
			}
			u.RawQuery = b.String()
		}
	}
	u.Fragment = ""
	return u.String()
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
