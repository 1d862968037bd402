package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/liquidhook/webhook/delivery"
)

// `liquidhook queue ui` serves delivery.NewHandler, which has no login of
// its own. On loopback it answers only to loopback host names, so that a
// web page elsewhere cannot reach it through DNS rebinding; anywhere else
// it needs a token.

// envUIToken names the variable that holds the token of `queue ui`.
const envUIToken = "LIQUIDHOOK_UI_TOKEN"

const (
	uiDefaultAddr = "127.0.0.1:8025"
	// uiMinToken is the shortest token accepted: a token that can be
	// guessed guards nothing.
	uiMinToken = 16
	// uiCookie names the cookie a browser gets by logging in.
	uiCookie        = "liquidhook_ui"
	uiMaxLoginBytes = 4 << 10
)

func queueCheckUI(c *queueCall) error {
	addr := c.f.addr
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil || strings.Contains(addr, "://") {
		// A URL is not an address, and net's error would repeat it whole,
		// with any password it holds.
		return badInput("--addr %s: want host:port, such as %s", quoted(addr), uiDefaultAddr)
	}
	token := c.getenv(envUIToken)
	if token != "" && len(token) < uiMinToken {
		return badInput("%s is too short: use at least %d random characters", envUIToken, uiMinToken)
	}
	if token == "" && !loopbackHost(host) {
		return badInput("--addr %s is not a loopback address: set %s to serve the Sent tab there", addr, envUIToken)
	}
	return nil
}

func queueUI(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error {
	f := c.f
	token := c.getenv(envUIToken)
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return badInput("--addr %s: %v", f.addr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); token == "" && (!ok || !tcp.IP.IsLoopback()) {
		ln.Close()
		return badInput("--addr %s is not a loopback address: set %s to serve the Sent tab there", f.addr, envUIToken)
	}
	page := delivery.NewHandler(q, &delivery.HandlerOptions{
		ReadOnly: f.readOnly,
		Logger:   slog.New(slog.NewTextHandler(e.stderr, nil)),
	})
	srv := newServer(http.NewCrossOriginProtection().Handler(newUIGate(page, token)), e.stderr, "liquidhook queue ui")
	fmt.Fprintf(e.stdout, "http://%s/\n", ln.Addr())
	how := "loopback only, no token"
	if token != "" {
		how = "log in with the token in " + envUIToken
	}
	if f.readOnly {
		how += "; read-only"
	}
	fmt.Fprintf(e.stderr, "liquidhook queue ui: serving the Sent tab on http://%s/ (%s)\n", ln.Addr(), how)

	if err := serve(ctx, srv, ln); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "liquidhook queue ui: stopped")
	return nil
}

// loopbackHost reports whether host (without a port) names the loopback
// interface: localhost or a loopback IP.
func loopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// uiGate lets requests through to the Sent tab: without a token, those
// addressed to a loopback host name; with one, those that carry it.
type uiGate struct {
	next http.Handler
	// mac is what a token and the session cookie are compared with, nil
	// without a token.
	mac []byte
}

func newUIGate(next http.Handler, token string) *uiGate {
	g := &uiGate{next: next}
	if token != "" {
		g.mac = uiMAC(token)
	}
	return g
}

// uiMAC derives the value compared, and kept in the cookie, from a token:
// fixed in length, so comparing it tells nothing of the token's, and not
// the token itself.
func uiMAC(token string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("liquidhook queue ui session"))
	return m.Sum(nil)
}

func (g *uiGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.mac == nil {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if !loopbackHost(host) {
			http.Error(w, "Forbidden: this server answers to loopback host names only.", http.StatusForbidden)
			return
		}
		g.next.ServeHTTP(w, r)
		return
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case r.URL.Path == "/login":
		g.login(w, r)
	case r.URL.Path == "/assets/style.css" && safe, g.authorized(r):
		g.next.ServeHTTP(w, r)
	case safe:
		g.loginPage(w, http.StatusUnauthorized, "", r.URL.RequestURI())
	default:
		http.Error(w, "Unauthorized: log in first.", http.StatusUnauthorized)
	}
}

// authorized reports whether r carries the token, as a bearer token or
// through the cookie of a login.
func (g *uiGate) authorized(r *http.Request) bool {
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return hmac.Equal(uiMAC(token), g.mac)
	}
	c, err := r.Cookie(uiCookie)
	if err != nil {
		return false
	}
	mac, err := hex.DecodeString(c.Value)
	return err == nil && hmac.Equal(mac, g.mac)
}

// login serves the login form, and takes it: the right token gets an
// HttpOnly cookie for the session and goes on to the page asked for.
func (g *uiGate) login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		g.loginPage(w, http.StatusOK, "", r.URL.Query().Get("next"))
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, uiMaxLoginBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad request: the form is too large.", http.StatusRequestEntityTooLarge)
		return
	}
	next := r.PostFormValue("next")
	if !hmac.Equal(uiMAC(r.PostFormValue("token")), g.mac) {
		g.loginPage(w, http.StatusUnauthorized, "That is not the token.", next)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     uiCookie,
		Value:    hex.EncodeToString(g.mac),
		Path:     "/",
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, localPath(next), http.StatusSeeOther)
}

// localPath returns p if it is a path on this server, else "/", so that a
// login cannot be made to send the browser elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/"
	}
	return p
}

var uiLoginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · liquidhook</title>
<link rel="stylesheet" href="/assets/style.css">
</head>
<body>
<header class="top"><span class="brand">liquidhook <span>Sent</span></span></header>
<main>
{{- if .Error}}
<p class="banner error" role="alert">{{.Error}}</p>
{{- end}}
<h1>Log in</h1>
<form class="filters" method="post" action="/login">
  <input type="hidden" name="next" value="{{.Next}}">
  <label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
  <button type="submit" class="primary">Log in</button>
</form>
<p class="note">The token is the value of LIQUIDHOOK_UI_TOKEN where <code>liquidhook queue ui</code> runs.</p>
</main>
</body>
</html>
`))

func (g *uiGate) loginPage(w http.ResponseWriter, status int, msg, next string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = uiLoginPage.Execute(w, struct{ Error, Next string }{msg, localPath(next)})
}
