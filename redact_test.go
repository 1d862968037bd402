package webhook

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://u:p@api.example.com/x":                                             "https://api.example.com/x",
		"https://api.trello.com/1/cards?idList=1&key=K&token=T":                     "https://api.trello.com/1/cards?idList=1&key=REDACTED&token=REDACTED",
		"https://x.example/?api_key=1&Signature=2&q=3&password":                     "https://x.example/?Signature=REDACTED&api_key=REDACTED&password=REDACTED&q=3",
		"https://x.example/a?q=%20x#frag":                                           "https://x.example/a?q=+x",
		"https://x.example/a?q=%zz&token=t":                                         "https://x.example/a?REDACTED",
		"https://user:pa%zz@x.example/a":                                            "https://x.example/a",
		"https://me@example.com:secret@x.zendesk.com/api?page=1":                    "https://x.zendesk.com/api?page=1",
		"https://x.example/?Idempotency=1":                                          "https://x.example/?Idempotency=1",
		"https://shop.example/?hmac=1&jwt=2&bearer=3&shop=s":                        "https://shop.example/?bearer=REDACTED&hmac=REDACTED&jwt=REDACTED&shop=s",
		"https://maker.ifttt.com/trigger/signup/with/key/dK3x_9":                    "https://maker.ifttt.com/trigger/signup/with/key/REDACTED",
		"https://x.example/Key/abc/tokens/def/":                                     "https://x.example/Key/REDACTED/tokens/REDACTED/",
		"https://hooks.slack.example/services/T0AB/B0CD/aB3dE5fG7hJ9kL1mN3pQ5rS7":   "https://hooks.slack.example/services/T0AB/B0CD/REDACTED",
		"https://discord.example/api/webhooks/1234567890123456789012/Ab-c_D3":       "https://discord.example/api/webhooks/1234567890123456789012/Ab-c_D3",
		"https://x.example/v1/contacts/550e8400-e29b-41d4-a716-446655440000?page=2": "https://x.example/v1/contacts/REDACTED?page=2",
		"https://x.example/oauth/token":                                             "https://x.example/oauth/token",
		"https://x.example/with/key/":                                               "https://x.example/with/key/",
		"https://x.example/a%20b/key/s%2Fcret":                                      "https://x.example/a%20b/key/REDACTED",
		"https://x.example/a b/key/s%2Fcret":                                        "https://x.example/a%20b/key/REDACTED",
		"https://x.example/api/v1/lead/lead_EQ9nP2yXk4":                             "https://x.example/api/v1/lead/lead_EQ9nP2yXk4",
		"not a url":             "REDACTED",
		"https://x.example/%zz": "REDACTED",
	}
	for in, want := range cases {
		t.Run(in, func(t *testing.T) {
			assert.Equal(t, want, RedactURL(in))
		})
	}
}

// FuzzRedactURL: the result is REDACTED or a URL without userinfo, and the
// segment after one named key is always redacted.
func FuzzRedactURL(f *testing.F) {
	f.Add("https://maker.ifttt.com/trigger/x/with", "dK3x_9")
	f.Add("https://x.example/a%20b?q=1&token=t", "s%2Fcret")
	f.Add("https://u:p@x.example/", "aB3dE5fG7hJ9kL1mN3pQ5rS7")
	f.Fuzz(func(t *testing.T, base, secret string) {
		if got := RedactURL(base); got != redacted {
			u, err := url.Parse(got)
			require.NoError(t, err, "redacting %q", base)
			assert.Nil(t, u.User, "redacting %q", base)
		}

		u, err := url.Parse(base)
		if err != nil || u.Host == "" || strings.ContainsAny(base, "?#") || strings.HasSuffix(u.Path, "/") {
			return
		}
		if secret == "" {
			return
		}
		got := RedactURL(base + "/key/" + url.PathEscape(secret))
		assert.True(t, strings.HasSuffix(got, "/key/REDACTED"), "redacting %q gave %q", base, got)
	})
}
