package webhook

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

const redacted = "REDACTED"

// sensitiveName reports whether a header or query parameter name suggests a
// secret value.
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	for _, s := range []string{"key", "token", "secret", "pass", "pwd", "auth", "sig", "cred", "session", "hmac", "jwt", "bearer"} {
		if strings.Contains(n, s) && n != strings.ToLower(HeaderIdempotencyKey) {
			return true
		}
	}
	return false
}

// RedactURL returns rawURL fit for a log line or an error: userinfo and
// fragment removed, query parameters sorted by name, and the value of every
// one whose name suggests a secret (key, token, secret, password,
// signature, hmac, jwt, ...) replaced by "REDACTED". An unparseable URL is reduced to
// "REDACTED".
func RedactURL(rawURL string) string {
	// Split the userinfo off first: a password the URL parser rejects must
	// not make the rest unreadable, nor appear anywhere.
	_, rest, _ := splitUserinfo(strings.TrimSpace(rawURL))
	u, err := url.Parse(rest)
	if err != nil || u.Host == "" {
		return redacted
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = redacted
		} else {
			var b strings.Builder
			for _, k := range slices.Sorted(maps.Keys(q)) {
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
	return u.String()
}
