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
// signature, hmac, jwt, ...) replaced by "REDACTED". Path segments that
// look like credentials are replaced too: one that follows a segment named
// key, token, secret or password (IFTTT's /with/key/KEY), and one of at
// least 20 letters, digits, '-' and '_' that has both a letter and a digit
// (the tokens of Slack's and Discord's webhook URLs, and also UUIDs and
// long ids). An unparseable URL is reduced to "REDACTED".
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
	redactPath(u)
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

// redactPath replaces the segments of u's path that may be credentials.
func redactPath(u *url.URL) {
	// The path as written, so that an escaped slash inside a segment
	// stays inside it, even when other characters were left unescaped.
	path := u.RawPath
	if path == "" {
		path = u.EscapedPath()
	}
	segs := strings.Split(path, "/")
	changed := false
	for i, seg := range segs {
		if seg != "" && (tokenSegment(seg) || i > 0 && keySegment(segs[i-1])) {
			segs[i], changed = redacted, true
		}
	}
	if !changed {
		return
	}
	// Every segment is still escaped text, so the joined path unescapes.
	u.RawPath = strings.Join(segs, "/")
	u.Path, _ = url.PathUnescape(u.RawPath)
}

// keySegment reports whether a path segment names the credential that
// follows it.
func keySegment(seg string) bool {
	switch strings.ToLower(seg) {
	case "key", "keys", "apikey", "api_key", "api-key", "token", "tokens", "secret", "secrets", "password":
		return true
	}
	return false
}

// tokenSegment reports whether a path segment looks like a generated
// credential: long, of URL-safe token characters, with letters and digits.
func tokenSegment(seg string) bool {
	if len(seg) < 20 {
		return false
	}
	var letter, digit bool
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c == '-' || c == '_':
		default:
			return false
		}
	}
	return letter && digit
}
