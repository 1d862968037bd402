package webhook

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedactURL has one row per secret-bearing URL shape, query parameter
// and generic rule, with the URLs that must keep what is not secret.
func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		// Userinfo and fragments.
		{"userinfo", "https://u:p@api.example.com/x", "https://api.example.com/x"},
		{"userinfo the parser refuses", "https://user:pa%zz@x.example/a", "https://x.example/a"},
		{"userinfo with an @", "https://me@example.com:secret@x.zendesk.com/api?page=1", "https://x.zendesk.com/api?page=1"},
		{"fragment", "https://x.example/a?q=%20x#frag", "https://x.example/a?q=+x"},
		// Path shapes.
		{"Zapier catch hook", "https://hooks.zapier.com/hooks/catch/123456/abcde1f/", "https://hooks.zapier.com/hooks/catch/123456/REDACTED/"},
		{"Zapier standard hook", "https://hooks.zapier.com/hooks/standard/123456/abcde1f/", "https://hooks.zapier.com/hooks/standard/123456/REDACTED/"},
		{"Telegram bot", "https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage?chat_id=42", "https://api.telegram.org/botREDACTED/sendMessage?chat_id=42"},
		{"Telegram file", "https://api.telegram.org/file/bot123456:AAHdq/photos/a.jpg", "https://api.telegram.org/file/botREDACTED/photos/a.jpg"},
		{"Slack incoming webhook", "https://hooks.slack.com/services/T0AB/B0CD/xyzsecret", "https://hooks.slack.com/services/T0AB/B0CD/REDACTED"},
		{"Slack workflow webhook", "https://hooks.slack.com/workflows/T0AB/A0CD/123/xyzsecret", "https://hooks.slack.com/workflows/T0AB/A0CD/123/REDACTED"},
		{"Slack trigger", "https://hooks.slack.com/triggers/T0AB/123/xyzsecret", "https://hooks.slack.com/triggers/T0AB/123/REDACTED"},
		{"services elsewhere", "https://api.example.com/services/users/42/orders", "https://api.example.com/services/users/42/orders"},
		{"Discord webhook", "https://discord.com/api/webhooks/1234567890/Ab-c_D3", "https://discord.com/api/webhooks/1234567890/REDACTED"},
		{"Discord webhook, versioned", "https://discord.com/api/v10/webhooks/1234567890/Ab-c_D3?wait=true", "https://discord.com/api/v10/webhooks/1234567890/REDACTED?wait=true"},
		{"Microsoft Teams webhook", "https://acme.webhook.office.com/webhookb2/g@t/IncomingWebhook/0a1b2c/d3e4f5/V2sig", "https://acme.webhook.office.com/webhookb2/g@t/IncomingWebhook/REDACTED"},
		{"Mattermost hook", "https://chat.example.com/hooks/xhu7ab", "https://chat.example.com/hooks/REDACTED"},
		{"Rocket.Chat hook", "https://chat.example.com/hooks/abc123/tok456", "https://chat.example.com/hooks/REDACTED/REDACTED"},
		{"PagerDuty integration", "https://events.pagerduty.com/integration/abc123/enqueue", "https://events.pagerduty.com/integration/REDACTED/enqueue"},
		{"Google Apps Script", "https://script.google.com/macros/s/AKfy/exec", "https://script.google.com/macros/s/REDACTED/exec"},
		{"Make hook", "https://hook.eu1.make.com/abcdefgh", "https://hook.eu1.make.com/REDACTED"},
		{"IFTTT key", "https://maker.ifttt.com/trigger/signup/with/key/dK3x_9", "https://maker.ifttt.com/trigger/signup/with/key/REDACTED"},
		{"segments named key and tokens", "https://x.example/Key/abc/tokens/def/", "https://x.example/Key/REDACTED/tokens/REDACTED/"},
		{"segment named api_key", "https://x.example/api_key/abc", "https://x.example/api_key/REDACTED"},
		{"key segment at the end", "https://x.example/with/key/", "https://x.example/with/key/"},
		{"escaped slash in a key", "https://x.example/a%20b/key/s%2Fcret", "https://x.example/a%20b/key/REDACTED"},
		{"unescaped space before a key", "https://x.example/a b/key/s%2Fcret", "https://x.example/a%20b/key/REDACTED"},
		{"long token segment", "https://hooks.slack.example/services/T0AB/B0CD/aB3dE5fG7hJ9kL1mN3pQ5rS7", "https://hooks.slack.example/services/T0AB/B0CD/REDACTED"},
		{"UUID", "https://x.example/v1/contacts/550e8400-e29b-41d4-a716-446655440000?page=2", "https://x.example/v1/contacts/REDACTED?page=2"},
		{"short id kept", "https://x.example/api/v1/lead/lead_EQ9nP2yXk4", "https://x.example/api/v1/lead/lead_EQ9nP2yXk4"},
		{"oauth path kept", "https://x.example/oauth/token", "https://x.example/oauth/token"},
		// Query parameters, sorted by name.
		{"key and token", "https://api.trello.com/1/cards?idList=1&key=K&token=T", "https://api.trello.com/1/cards?idList=1&key=REDACTED&token=REDACTED"},
		{"api_key, Signature, password", "https://x.example/?api_key=1&Signature=2&q=3&password", "https://x.example/?Signature=REDACTED&api_key=REDACTED&password=REDACTED&q=3"},
		{"code", "https://x.example/cb?code=abc&state=s", "https://x.example/cb?code=REDACTED&state=s"},
		{"sid", "https://x.example/?sid=abc&page=2", "https://x.example/?page=2&sid=REDACTED"},
		{"sig (Azure SAS, Power Automate)", "https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1&sig=abc&sp=%2Fr", "https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1&sig=REDACTED&sp=%2Fr"},
		{"access_token", "https://graph.example/me?access_token=abc", "https://graph.example/me?access_token=REDACTED"},
		{"secret", "https://x.example/?client_secret=abc&secret=d", "https://x.example/?client_secret=REDACTED&secret=REDACTED"},
		{"AWS presigned", "https://b.s3.amazonaws.com/k?X-Amz-Credential=c&X-Amz-Signature=s&X-Amz-Security-Token=t", "https://b.s3.amazonaws.com/k?X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED"},
		{"hmac, jwt, bearer", "https://shop.example/?hmac=1&jwt=2&bearer=3&shop=s", "https://shop.example/?bearer=REDACTED&hmac=REDACTED&jwt=REDACTED&shop=s"},
		{"session id", "https://x.example/?PHPSESSID=1&jsessionid=2", "https://x.example/?PHPSESSID=REDACTED&jsessionid=REDACTED"},
		{"otp and pin", "https://x.example/?otp=1&pin=2", "https://x.example/?otp=REDACTED&pin=REDACTED"},
		{"idempotency kept", "https://x.example/?Idempotency=1", "https://x.example/?Idempotency=1"},
		{"zipcode kept", "https://x.example/?zipcode=75001&country_code=FR", "https://x.example/?country_code=FR&zipcode=75001"},
		// What cannot be read.
		{"query the parser refuses", "https://x.example/a?q=%zz&token=t", "https://x.example/a?REDACTED"},
		{"not a URL", "not a url", "REDACTED"},
		{"path the parser refuses", "https://x.example/%zz", "REDACTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, RedactURL(tc.in))
		})
	}
}

// TestRedactedHeader has one row per secret-bearing header name, and the
// names that must stay readable.
func TestRedactedHeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret bool
	}{
		{"Authorization", true},
		{"Proxy-Authorization", true},
		{"Cookie", true},
		{"Set-Cookie", true},
		{"X-Honeycomb-Team", true},
		{"X-Api-Key", true},
		{"Api-Key", true},
		{"DD-API-KEY", true},
		{"X-Goog-Api-Key", true},
		{"X-Auth-Token", true},
		{"Private-Token", true},
		{"X-Shopify-Access-Token", true},
		{"X-Postmark-Server-Token", true},
		{"X-Vault-Token", true},
		{"X-Hub-Signature-256", true},
		{"X-CIO-Signature", true},
		{"X-Api-Secret", true},
		{"X-Sentry-Auth", true},
		{"X-Amz-Security-Token", true},
		{"X-Session-Id", true},
		{"X-Csrf-Token", true},
		{"Content-Type", false},
		{"Accept", false},
		{"User-Agent", false},
		{"X-Team", false},
		{"X-Honeycomb-Dataset", false},
		{"X-Request-Id", false},
		{HeaderIdempotencyKey, false},
		{"Idempotency-Key", false},
		{HeaderTimestamp, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Header: http.Header{http.CanonicalHeaderKey(tc.name): {"s3cr3t-value"}}}
			got := r.RedactedHeader().Get(tc.name)
			if tc.secret {
				assert.Equal(t, redacted, got)
			} else {
				assert.Equal(t, "s3cr3t-value", got)
			}
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
