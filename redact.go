package webhook

import (
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

const redacted = "REDACTED"

// secretNames lists the header and query parameter names whose values are
// secret, compared without regard to case: a name is secret if it is one
// of the exact names, or holds one of the parts (X-Api-Key, access_token,
// client_secret, X-Hub-Signature-256, PHPSESSID).
var secretNames = struct{ exact, parts []string }{
	exact: []string{
		"authorization", "proxy-authorization", "cookie", "set-cookie",
		"code",             // an OAuth authorization code
		"sid",              // a session id (and Twilio's)
		"x-honeycomb-team", // Honeycomb's API key
		"otp", "pin",
	},
	parts: []string{
		"key", "token", "secret", "pass", "pwd", "auth", "sig", "cred",
		"sess", "hmac", "jwt", "bearer",
	},
}

// sensitiveName reports whether a header or query parameter name holds a
// secret value (see secretNames). Idempotency keys are not secret.
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	if strings.Contains(n, "idempotency") {
		return false
	}
	if slices.Contains(secretNames.exact, n) {
		return true
	}
	for _, part := range secretNames.parts {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// secretPaths lists URL shapes whose path holds a secret: each pattern
// matches the escaped path (of any host, unless host is set), and each of
// its groups is replaced by REDACTED. Two rules apply to any path besides:
// a segment that follows one named key, token, secret or password (IFTTT's
// /with/key/KEY), and one that looks like a generated token (see
// tokenSegment) are redacted too. Ids that are not secret (a Discord
// webhook's number, a Slack team) are kept, so a redacted URL still tells
// one integration from another.
var secretPaths = []struct {
	name string
	host *regexp.Regexp // nil: any host
	path *regexp.Regexp
}{
	{"Zapier hook", nil, regexp.MustCompile(`(?i)/hooks/(?:catch|standard)/[^/]+/([^/]+)`)},
	{"Telegram bot", nil, regexp.MustCompile(`(?i)/(?:file/)?bot([0-9]+:[^/]+)`)},
	{"Slack webhook", regexp.MustCompile(`(?i)(?:^|\.)slack\.com$`), regexp.MustCompile(`(?i)^/(?:services|workflows|triggers)/(?:[^/]+/)*?([^/]+)/?$`)},
	{"Discord webhook", nil, regexp.MustCompile(`(?i)/webhooks/[0-9]+/([^/]+)`)},
	{"Microsoft Teams webhook", nil, regexp.MustCompile(`(?i)/IncomingWebhook/([^/]+(?:/[^/]+)*)`)},
	{"Mattermost or Rocket.Chat hook", nil, regexp.MustCompile(`(?i)^/hooks/([^/]+)(?:/([^/]+))?/?$`)},
	{"PagerDuty integration", nil, regexp.MustCompile(`(?i)/integration/([^/]+)/enqueue`)},
	{"Google Apps Script", nil, regexp.MustCompile(`(?i)/macros/s/([^/]+)/exec`)},
	{"Make and Integromat hook", regexp.MustCompile(`(?i)(?:^|\.)(?:make|integromat)\.com$`), regexp.MustCompile(`^/([^/]+)`)},
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

// redactPath replaces the parts of u's path that may be credentials: those
// of the shapes in secretPaths, and segments that look like generated
// tokens.
func redactPath(u *url.URL) {
	// The path as written, so that an escaped slash inside a segment
	// stays inside it, even when other characters were left unescaped.
	path := u.RawPath
	if path == "" {
		path = u.EscapedPath()
	}
	changed := false
	for _, sp := range secretPaths {
		if sp.host != nil && !sp.host.MatchString(u.Hostname()) {
			continue
		}
		ms := sp.path.FindAllStringSubmatchIndex(path, -1)
		for _, m := range slices.Backward(ms) {
			changed = redactGroups(&path, m) || changed
		}
	}
	segs := strings.Split(path, "/")
	for i, seg := range slices.Backward(segs) {
		if seg != "" && seg != redacted && (tokenSegment(seg) || i > 0 && keySegment(segs[i-1])) {
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

// redactGroups replaces the groups that match m found in *path, from the
// last, and reports whether it replaced any that was not already REDACTED.
func redactGroups(path *string, m []int) bool {
	changed := false
	for g := len(m)/2 - 1; g >= 1; g-- {
		start, end := m[2*g], m[2*g+1]
		if start < 0 || (*path)[start:end] == redacted {
			continue
		}
		*path = (*path)[:start] + redacted + (*path)[end:]
		changed = true
	}
	return changed
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
