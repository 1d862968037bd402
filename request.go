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
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HeaderIdempotencyKey names the header that carries a delivery's
// idempotency key. The value is the same on every automatic retry and on a
// manual re-send, so a receiver can recognise a request it has already
// handled.
const HeaderIdempotencyKey = "X-CIO-Idempotency-Key"

// canonicalIdempotencyKey is HeaderIdempotencyKey as http.Header keys it.
var canonicalIdempotencyKey = http.CanonicalHeaderKey(HeaderIdempotencyKey)

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

	// IdempotencyKey is sent as X-CIO-Idempotency-Key on every attempt.
	// Render and Build set a new one. A Sender sends a Request without one
	// under a new key, reported in Result.IdempotencyKey; it does not
	// change the Request.
	IdempotencyKey string
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
// like a key, token, secret, password, signature, HMAC or JWT) is replaced
// by "REDACTED".
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
//
// net/http sends a request again on a new connection when a kept-alive
// one turns out to have been closed by the server as the request went
// out, but only a request it knows to be idempotent. Every request here
// carries an idempotency key for its receiver, so the header map also
// holds an empty Idempotency-Key entry, which tells net/http so and is
// not sent.
func (r *Request) NewHTTPRequest(ctx context.Context) (*http.Request, error) {
	p, err := r.prepare()
	if err != nil {
		return nil, err
	}
	return p.newHTTPRequest(ctx), nil
}

// preparedRequest is a Request checked and its URL parsed: what each
// attempt's *http.Request is made from. A Sender prepares a Request once
// per Send, so the checks and the parsing are not repeated per attempt.
type preparedRequest struct {
	method  string
	rawURL  string
	url     *url.URL // rawURL parsed once; each attempt gets its own copy
	host    string
	header  http.Header // the Request's own, copied by each attempt
	key     string
	body    []byte
	getBody func() (io.ReadCloser, error)
}

// prepare checks r again, as it may have been assembled or changed by hand
// since Render or Build made it, so that nothing half-made reaches the
// network, and parses its URL.
func (r *Request) prepare() (preparedRequest, error) {
	method, err := normalizeMethod(r.Method)
	if err != nil {
		return preparedRequest{}, err
	}
	if _, _, hasUser := splitUserinfo(r.URL); hasUser {
		return preparedRequest{}, fmt.Errorf("%w: credentials belong in the Authorization header", ErrInvalidURL)
	}
	for name, values := range r.Header {
		for _, v := range values {
			if err := checkHeader(name, v); err != nil {
				return preparedRequest{}, err
			}
		}
	}
	if err := checkHeader(HeaderIdempotencyKey, r.IdempotencyKey); err != nil {
		return preparedRequest{}, err
	}
	if err := checkBody(method, normalizeContentType(r.Header.Get("Content-Type")), r.Body); err != nil {
		return preparedRequest{}, err
	}
	// The error does not quote the URL.
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return preparedRequest{}, fmt.Errorf("%w: want an absolute http or https URL", ErrInvalidURL)
	}
	p := preparedRequest{
		method: method,
		rawURL: r.URL,
		url:    u,
		// As http.NewRequest sets it: an empty port is dropped.
		host:   strings.TrimSuffix(u.Host, ":"),
		header: r.Header,
		key:    r.IdempotencyKey,
		body:   r.Body,
	}
	if len(r.Body) == 0 {
		p.getBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	} else {
		body := r.Body
		p.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return p, nil
}

// newHTTPRequest makes the *http.Request of one attempt, as
// http.NewRequestWithContext would from the same parts, with its own URL
// and header: a transport or a redirect may change them.
func (p *preparedRequest) newHTTPRequest(ctx context.Context) *http.Request {
	u := *p.url
	body, _ := p.getBody() // never fails
	hr := http.Request{
		Method:        p.method,
		URL:           &u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        p.attemptHeader(),
		Body:          body,
		GetBody:       p.getBody,
		ContentLength: int64(len(p.body)),
		Host:          p.host,
	}
	return hr.WithContext(ctx)
}

// attemptHeader copies the request's header for one attempt, in one
// allocation for the values as http.Header.Clone makes it, with room for
// the signature headers, and adds the idempotency key.
func (p *preparedRequest) attemptHeader() http.Header {
	n := 0
	for _, vv := range p.header {
		n += len(vv)
	}
	values := make([]string, 0, n+1)
	h := make(http.Header, len(p.header)+4)
	for k, vv := range p.header {
		if vv == nil {
			h[k] = nil
			continue
		}
		values = append(values, vv...)
		// Capped, so that appending to one value list never writes into
		// the next.
		h[k] = values[len(values)-len(vv) : len(values) : len(values)]
	}
	if p.key != "" {
		values = append(values, p.key)
		h[canonicalIdempotencyKey] = values[len(values)-1:]
	}
	if _, set := h[replayableKey]; !set {
		h[replayableKey] = nil
	}
	return h
}

// replayableKey is the header whose presence, even without a value, makes
// net/http treat a request as idempotent.
const replayableKey = "Idempotency-Key"

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

// partError names the part of a request (method, url, "header NAME" or
// body) that failed a check, so Render can attribute it to a Spec field.
// Its text and errors.Is behave as the wrapped error's.
type partError struct {
	part string
	err  error
}

func (e *partError) Error() string { return e.err.Error() }
func (e *partError) Unwrap() error { return e.err }

// newRequest turns rendered parts into a Request: the one place where
// method, URL, headers and body are checked, for templates and the builder
// alike. Errors are *partError.
func newRequest(method, rawURL string, header http.Header, body []byte) (*Request, error) {
	return buildRequest(requestParts{method: method, url: rawURL, header: header, body: body})
}

// preparedURL is a URL parsed by parseURL.
type preparedURL struct{ clean, auth string }

func prepareURL(raw string) (preparedURL, error) {
	clean, auth, err := parseURL(raw)
	if err != nil {
		return preparedURL{}, err
	}
	return preparedURL{clean: clean, auth: auth}, nil
}

// requestParts are what buildRequest checks and assembles.
type requestParts struct {
	method, url string
	prepared    *preparedURL // url already prepared (an Action's static URL), or nil
	header      http.Header
	ownHeader   bool // header is buildRequest's to keep: canonical names, one value each
	body        []byte
	scratchBody bool // body is borrowed: the Request gets its own copy
}

// buildRequest is newRequest with the shortcuts Render takes.
func buildRequest(p requestParts) (*Request, error) {
	m, err := normalizeMethod(p.method)
	if err != nil {
		return nil, &partError{"method", err}
	}
	pu := p.prepared
	if pu == nil {
		prepared, err := prepareURL(p.url)
		if err != nil {
			return nil, &partError{"url", err}
		}
		pu = &prepared
	}
	u, auth := pu.clean, pu.auth
	header, body := p.header, p.body
	h := header
	if !p.ownHeader {
		h = make(http.Header, len(header)+2)
	}
	for name, values := range header {
		key := http.CanonicalHeaderKey(name)
		if why, ok := headersManaged[key]; ok {
			return nil, &partError{"header " + name, fmt.Errorf("%w: %s is %s", ErrInvalidHeader, key, why)}
		}
		for _, v := range values {
			if err := checkHeader(name, v); err != nil {
				return nil, &partError{"header " + name, err}
			}
			if !p.ownHeader {
				h.Add(key, v)
			}
		}
	}
	if auth != "" {
		if _, set := h["Authorization"]; set {
			return nil, &partError{"url", fmt.Errorf("%w: credentials in the URL and an Authorization header: use one", ErrInvalidURL)}
		}
		h.Set("Authorization", auth)
	}
	ct := normalizeContentType(h.Get("Content-Type"))
	h.Set("Content-Type", ct)
	if err := checkBody(m, ct, body); err != nil {
		return nil, &partError{"body", err}
	}
	if p.scratchBody {
		body = bytes.Clone(body)
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
// (user:pass@, KEY:@ or KEY@, percent-decoded) into a basic Authorization
// value. The userinfo is split off before parsing, so no error can quote
// a credential.
func parseURL(raw string) (clean, auth string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", fmt.Errorf("%w: empty", ErrInvalidURL)
	}
	userinfo, rest, hasUser := splitUserinfo(raw)
	u, err := url.Parse(rest)
	if err != nil {
		return "", "", fmt.Errorf("%w: %s", ErrInvalidURL, parseErrorDetail(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", fmt.Errorf("%w: scheme must be http or https", ErrInvalidURL)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", "", fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	// url.Parse checks that a port is digits, not that it can be dialled:
	// refused here, it fails the render instead of every attempt. The
	// port is not quoted: it may be the start of a password that holds an
	// unencoded # or /.
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("%w: port out of range: want 1 to 65535", ErrInvalidURL)
		}
	}
	if hasUser {
		user, pass, _ := strings.Cut(userinfo, ":")
		if user, err = unescapeUserinfo(user); err == nil {
			pass, err = unescapeUserinfo(pass)
		}
		if err != nil {
			return "", "", fmt.Errorf("%w: credentials are not validly percent-encoded (not shown)", ErrInvalidURL)
		}
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	u.RawQuery = escapeQuery(u.RawQuery)
	u.Fragment, u.RawFragment = "", ""
	return u.String(), auth, nil
}

// parseErrorDetail says why url.Parse refused a URL without quoting any of
// it. The parser quotes the text it refuses, and a password holding an
// unencoded /, ? or # ends the authority early, so that text may be the
// password itself (user:hunter2#x@host reads as port ":hunter2").
func parseErrorDetail(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var (
		escape url.EscapeError
		host   url.InvalidHostError
	)
	switch {
	case errors.As(err, &escape):
		return "invalid percent-encoding"
	case errors.As(err, &host):
		return "invalid character in host name"
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		msg = strings.TrimSpace(msg[:i]) // "invalid port"
	}
	return msg
}

// splitUserinfo removes the userinfo from an absolute URL. The authority
// ends at the first /, ? or #; the userinfo at its last @, so an email
// address written as a user name (me@example.com:pass@host) still works.
func splitUserinfo(raw string) (userinfo, rest string, ok bool) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return "", raw, false
	}
	start := i + 3
	end := len(raw)
	if j := strings.IndexAny(raw[start:], "/?#"); j >= 0 {
		end = start + j
	}
	at := strings.LastIndexByte(raw[start:end], '@')
	if at < 0 {
		return "", raw, false
	}
	return raw[start : start+at], raw[:start] + raw[start+at+1:], true
}

// unescapeUserinfo percent-decodes a user name or password. Control
// characters are refused: they have no place in a basic credential.
func unescapeUserinfo(s string) (string, error) {
	out, err := url.PathUnescape(s)
	if err != nil {
		return "", err
	}
	for i := 0; i < len(out); i++ {
		if out[i] < ' ' || out[i] == 0x7f {
			return "", errors.New("control character")
		}
	}
	return out, nil
}

// escapeQuery percent-encodes the bytes a rendered query may hold that
// cannot go on an HTTP request line (spaces from an unencoded attribute,
// quotes, non-ASCII), leaving valid escapes and separators as written.
func escapeQuery(q string) string {
	const hexDigits = "0123456789ABCDEF"
	clean := true
	for i := 0; i < len(q); i++ {
		if !queryByteOK(q, i) {
			clean = false
			break
		}
	}
	if clean {
		return q
	}
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if queryByteOK(q, i) {
			b.WriteByte(q[i])
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[q[i]>>4])
		b.WriteByte(hexDigits[q[i]&0xf])
	}
	return b.String()
}

func queryByteOK(q string, i int) bool {
	c := q[i]
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '%':
		return i+2 < len(q) && isHex(q[i+1]) && isHex(q[i+2])
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0
}

// isHex reports whether c is a hexadecimal digit, as in a percent-escape.
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkHeader refuses a header that net/http would refuse or that could
// smuggle a second header: an invalid name, or a value with a control
// character other than tab (CR, LF and NUL among them). The value is never
// quoted, as it may be a secret.
func checkHeader(name, value string) error {
	if err := checkHeaderName(name); err != nil {
		return err
	}
	for i := 0; i < len(value); i++ {
		c := value[i]
		if (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("%w: %s: value contains a control character (%s) at byte %d", ErrInvalidHeader, name, controlName(c), i)
		}
	}
	return nil
}

// checkHeaderName refuses a name that is not an RFC 9110 token.
func checkHeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidHeader)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("%w: name %q has a character not allowed in a header name", ErrInvalidHeader, truncate(name, 40))
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
func isTokenChar(c byte) bool { return tokenChars[c] }

var tokenChars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0
	}
	return t
}()

// normalizeContentType defaults to JSON and gives a form written the way
// Customer.io's editor shows it (x-www-form-urlencoded) its proper type.
func normalizeContentType(ct string) string {
	if ct == contentTypeJSON {
		return ct // the default, and most common: nothing to parse
	}
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

// truncate shortens s for an error message, at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
