package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
