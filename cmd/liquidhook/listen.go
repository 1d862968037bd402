package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	webhook "github.com/liquidhook/webhook"
)

const listenUsage = `usage: liquidhook listen [--addr 127.0.0.1:8080] [--json] [--respond FILE]
                         [--scheme cio|standard] [--tolerance 5m] [--max-body BYTES]

A local receiver for trying webhooks out. It prints every request: method,
path, headers (secrets redacted), the body (indented when it is JSON) and
whether its signature holds; --json prints one JSON object per line instead.

With LIQUIDHOOK_SIGNING_KEY set, it answers 200 to requests whose signature
holds and whose timestamp is within the tolerance, and 401 to the rest;
without it, it answers 200 to everything and checks nothing. --respond FILE
makes it answer accepted requests with that file's contents, so response
mapping can be tried end to end. A body over --max-body gets 413.

For --scheme standard the key is a Standard Webhooks secret (whsec_...).
It stops cleanly on interrupt. --addr with port 0 picks a free port; the
address is printed on standard error.

Exit status: 0 stopped by an interrupt; 1 the server failed; 2 bad flags,
a bad key, or an address it cannot listen on.
`

// Bounds of listen's own reads and of its server.
const (
	listenMaxRespond = 1 << 20
)

// runListen implements `liquidhook listen`.
func runListen(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	jsonLines := fs.Bool("json", false, "print one JSON object per request")
	respondPath := fs.String("respond", "", "answer accepted requests with this file's contents")
	schemeName := fs.String("scheme", "cio", "the signature scheme: cio or standard")
	tolerance := fs.Duration("tolerance", webhook.DefaultTolerance, "how far a signed timestamp may be from now")
	maxBody := fs.Int64("max-body", webhook.DefaultMaxBodyBytes, "the largest body accepted, in bytes")
	if err := parseFlags(e, fs, listenUsage, args); err != nil {
		return err
	}
	if *maxBody <= 0 {
		return badInput("--max-body %d: want a positive number of bytes", *maxBody)
	}
	if *tolerance <= 0 {
		return badInput("--tolerance %v: want a positive duration", *tolerance)
	}

	l := &listener{
		out:     e.stdout,
		json:    *jsonLines,
		maxBody: *maxBody,
		now:     time.Now,
	}
	switch *schemeName {
	case "cio", "standard":
	default:
		return badInput("--scheme %s: want cio or standard", quoted(*schemeName))
	}
	if secret := e.getenv(envSigningKey); secret != "" {
		v := &webhook.Verifier{Tolerance: *tolerance, MaxBodyBytes: *maxBody}
		key := []byte(secret)
		if *schemeName == "standard" {
			v.Scheme = webhook.SchemeStandard
			k, err := webhook.ParseStandardSecret(secret)
			if err != nil {
				return badInput("%s: %v", envSigningKey, err)
			}
			key = k
		}
		v.Keys = [][]byte{key}
		l.verifier = v
	}
	if *respondPath != "" {
		b, err := listenReadRespond(*respondPath)
		if err != nil {
			return err
		}
		l.respond = b
		l.respondType = listenContentType(b)
	}

	if strings.Contains(*addr, "://") {
		// A URL is not an address, and net's error would repeat it whole,
		// with any password it holds.
		return badInput("--addr %s: want host:port, such as 127.0.0.1:8080", quoted(*addr))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return badInput("--addr %s: %v", *addr, err)
	}
	srv := newServer(l, e.stderr, "liquidhook listen")
	checking := "signatures not checked: " + envSigningKey + " is not set"
	if l.verifier != nil {
		checking = fmt.Sprintf("checking %s signatures, tolerance %v", *schemeName, *tolerance)
	}
	fmt.Fprintf(e.stderr, "liquidhook listen: listening on http://%s (%s)\n", ln.Addr(), checking)

	if err := serve(ctx, srv, ln); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "liquidhook listen: stopped")
	return nil
}

// listenReadRespond reads the --respond file, bounded.
func listenReadRespond(path string) ([]byte, error) {
	b, err := readFileLimited(path, listenMaxRespond)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, badInput("--respond %s: over %d bytes", path, listenMaxRespond)
	case err != nil:
		return nil, badInput("--respond: %v", err)
	}
	return b, nil
}

// listenContentType labels the --respond body: JSON when it parses, as the
// response mapping expects, and otherwise what net/http sniffs.
func listenContentType(b []byte) string {
	if json.Valid(b) {
		return "application/json"
	}
	return http.DetectContentType(b)
}

// listener is the handler behind `liquidhook listen`.
type listener struct {
	out         io.Writer
	json        bool
	maxBody     int64
	verifier    *webhook.Verifier // nil: signatures are not checked
	respond     []byte
	respondType string
	now         func() time.Time

	mu sync.Mutex // one request printed at a time
}

// listenRecord is what listen prints about one request; with --json, one
// line of it.
type listenRecord struct {
	Time           time.Time         `json:"time"`
	Method         string            `json:"method"`
	URL            string            `json:"url"`
	Remote         string            `json:"remote"`
	Headers        map[string]string `json:"headers"`
	Body           *string           `json:"body,omitempty"`
	BodyBase64     []byte            `json:"body_base64,omitempty"`
	BodyBytes      int               `json:"body_bytes"`
	Signature      string            `json:"signature"` // valid, invalid or unchecked
	Reason         string            `json:"reason,omitempty"`
	Timestamp      int64             `json:"timestamp,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Status         int               `json:"status"`

	body []byte
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := listenRecord{
		Time:    l.now().UTC(),
		Method:  r.Method,
		URL:     listenRedactedURI(r),
		Remote:  r.RemoteAddr,
		Headers: listenHeaders(r.Header),
	}
	if r.Host != "" {
		rec.Headers["Host"] = r.Host // net/http moves it out of r.Header
	}
	var (
		body []byte
		err  error
	)
	if r.ContentLength > l.maxBody {
		// Refused unread: the server drains a modest excess and keeps the
		// connection.
		err = &http.MaxBytesError{Limit: l.maxBody}
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, l.maxBody))
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		rec.Status, rec.Signature = http.StatusRequestEntityTooLarge, "unchecked"
		rec.Reason = fmt.Sprintf("body over %d bytes", l.maxBody)
	case err != nil:
		rec.Status, rec.Signature = http.StatusBadRequest, "unchecked"
		rec.Reason = "reading body: " + err.Error()
	case l.verifier == nil:
		rec.Status, rec.Signature = http.StatusOK, "unchecked"
		rec.Reason = envSigningKey + " is not set"
	default:
		vd, err := l.verifier.Verify(r.Header, body)
		if err != nil {
			rec.Status, rec.Signature, rec.Reason = http.StatusUnauthorized, "invalid", err.Error()
			break
		}
		rec.Status, rec.Signature = http.StatusOK, "valid"
		rec.Timestamp, rec.IdempotencyKey = vd.Timestamp.Unix(), vd.IdempotencyKey
	}
	if rec.Status == http.StatusRequestEntityTooLarge {
		// Keep none of it, but say how big it is: as declared, or at least
		// one byte over the limit.
		rec.BodyBytes = int(max(r.ContentLength, l.maxBody+1))
	} else {
		rec.setBody(body)
	}
	// Print before answering, so that whoever got the answer finds the
	// request already printed.
	l.print(&rec)

	if rec.Status != http.StatusOK {
		http.Error(w, http.StatusText(rec.Status), rec.Status)
		return
	}
	if l.respond != nil {
		w.Header().Set("Content-Type", l.respondType)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(l.respond)
}

func (rec *listenRecord) setBody(b []byte) {
	rec.body, rec.BodyBytes = b, len(b)
	if utf8.Valid(b) {
		s := string(b)
		rec.Body = &s
	} else {
		rec.BodyBase64 = b
	}
}

func (l *listener) print(rec *listenRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.json {
		enc := json.NewEncoder(l.out)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(rec)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "=== %s %s from %s at %s\n", rec.Method, rec.URL, rec.Remote, rec.Time.Format(time.RFC3339))
	names := make([]string, 0, len(rec.Headers))
	for name := range rec.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "%s: %s\n", name, rec.Headers[name])
	}
	b.WriteString("\n")
	if rec.Status == http.StatusRequestEntityTooLarge {
		fmt.Fprintf(&b, "(over the %d-byte limit: not kept)", l.maxBody)
	} else {
		b.WriteString(listenPrettyBody(rec.body))
	}
	b.WriteString("\n\n")
	switch rec.Signature {
	case "valid":
		fmt.Fprintf(&b, "signature: valid (timestamp %d, %s", rec.Timestamp, time.Unix(rec.Timestamp, 0).UTC().Format(time.RFC3339))
		if rec.IdempotencyKey != "" {
			fmt.Fprintf(&b, ", idempotency key %s", rec.IdempotencyKey)
		}
		b.WriteString(")\n")
	case "invalid":
		fmt.Fprintf(&b, "signature: INVALID: %s\n", rec.Reason)
	default:
		fmt.Fprintf(&b, "signature: not checked: %s\n", rec.Reason)
	}
	fmt.Fprintf(&b, "answered: %d %s\n\n", rec.Status, http.StatusText(rec.Status))
	_, _ = io.WriteString(l.out, b.String())
}

// listenPrettyBody shows a body for a person: JSON indented, other text as
// it is, binary as a count.
func listenPrettyBody(b []byte) string {
	switch {
	case len(b) == 0:
		return "(no body)"
	case !utf8.Valid(b):
		return fmt.Sprintf("(%d bytes, not text)", len(b))
	}
	var out bytes.Buffer
	if json.Valid(b) && json.Indent(&out, b, "", "  ") == nil {
		return out.String()
	}
	return strings.TrimRight(string(b), "\n")
}

// listenHeaders flattens the headers for printing, with the values of
// those that may carry a secret (Authorization, cookies, signatures,
// anything named like a key or token) redacted by the library's rule.
func listenHeaders(h http.Header) map[string]string {
	return flatHeader((&webhook.Request{Header: h}).RedactedHeader())
}

// listenRedactedURI returns the request's path and query with secret-looking
// query values (token=, key=, ...) redacted.
func listenRedactedURI(r *http.Request) string {
	uri := r.URL.RequestURI()
	if r.URL.RawQuery == "" {
		return uri
	}
	red, err := url.Parse(webhook.RedactURL("http://listen" + uri))
	if err != nil {
		return r.URL.EscapedPath() + "?REDACTED"
	}
	return red.RequestURI()
}
