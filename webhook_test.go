package webhook

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name    string
		spec    Spec
		field   string
		line    int
		wantErr error
		errHas  string
	}{
		{name: "unknown method", spec: Spec{Method: "TRACE", URL: "https://x.example"}, field: "method", wantErr: ErrInvalidMethod, errHas: `"TRACE"`},
		{name: "unknown sending", spec: Spec{URL: "https://x.example", Sending: "later"}, field: "sending", wantErr: ErrInvalidSpec, errHas: `"later"`},
		{name: "no URL", spec: Spec{URL: "  "}, field: "url", wantErr: ErrInvalidURL},
		{name: "static URL without a scheme", spec: Spec{URL: "api.example.com/x"}, field: "url", wantErr: ErrInvalidURL, errHas: "http or https"},
		{name: "static URL with credentials stays secret", spec: Spec{URL: "ftp://user:hunter2@x.example"}, field: "url", wantErr: ErrInvalidURL},
		{name: "URL template syntax", spec: Spec{URL: "https://x.example/{{ customer.id | nope }}"}, field: "url", line: 1, wantErr: ErrTemplateSyntax},
		{name: "bad header name", spec: Spec{URL: "https://x.example", Headers: map[string]string{"X Team": "a"}}, field: "headers.X Team", wantErr: ErrInvalidHeader},
		{name: "managed header", spec: Spec{URL: "https://x.example", Headers: map[string]string{"content-length": "5"}}, field: "headers.content-length", wantErr: ErrInvalidHeader, errHas: "set from the body"},
		{name: "signature header", spec: Spec{URL: "https://x.example", Headers: map[string]string{"X-CIO-Signature": "x"}}, field: "headers.X-CIO-Signature", wantErr: ErrInvalidHeader, errHas: "by the Sender"},
		{name: "the same header twice", spec: Spec{URL: "https://x.example", Headers: map[string]string{"X-Team": "a", "x-team": "b"}}, field: "headers.x-team", wantErr: ErrInvalidHeader, errHas: "same header"},
		{name: "static header with a newline", spec: Spec{URL: "https://x.example", Headers: map[string]string{"X-Team": "a\r\nInjected: 1"}}, field: "headers.X-Team", wantErr: ErrInvalidHeader, errHas: "CR"},
		{name: "header template on its second line", spec: Spec{URL: "https://x.example", Headers: map[string]string{"X-Team": "{% if a %}\n{{ a | nope }}{% endif %}"}}, field: "headers.X-Team", line: 2, wantErr: ErrTemplateSyntax},
		{name: "static JSON body", spec: Spec{URL: "https://x.example", Body: "{\"a\": 1,\n \"b\": }"}, field: "body", wantErr: ErrInvalidBody, errHas: "line 2, column 7"},
		{name: "Customer.io's Zendesk body as published", spec: Spec{URL: "https://x.example", Body: cioZendeskBody}, field: "body", line: 5, wantErr: ErrTemplateSyntax},
		{name: "response template", spec: Spec{URL: "https://x.example", Response: map[string]string{"id": "{{ response.id"}}, field: "response.id", line: 1, wantErr: ErrTemplateSyntax},
		{name: "response without a name", spec: Spec{URL: "https://x.example", Response: map[string]string{"": "{{ response.id }}"}}, field: "response.", wantErr: ErrInvalidSpec},
		{name: "a static body above the output cap", spec: Spec{URL: "https://x.example", Headers: map[string]string{"Content-Type": "text/plain"}, Body: strings.Repeat("x", 2<<20)}, field: "body", wantErr: ErrLimitExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Compile(tc.spec)
			require.Error(t, err)
			assert.Nil(t, a)
			assert.ErrorIs(t, err, tc.wantErr)
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tc.field, te.Field)
			assert.Equal(t, tc.line, te.Line)
			assert.True(t, strings.HasPrefix(err.Error(), "webhook: "+tc.field+": "), err.Error())
			if tc.errHas != "" {
				assert.Contains(t, err.Error(), tc.errHas)
			}
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestCompileDefaults(t *testing.T) {
	a, err := Compile(Spec{URL: "https://api.example.com/ping"})
	require.NoError(t, err)
	r, err := a.Render(nil)
	require.NoError(t, err)
	assert.Equal(t, "POST", r.Method)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Empty(t, r.Body)
	assert.Regexp(t, uuidPattern, r.IdempotencyKey)

	lower, err := Compile(Spec{Method: "patch", URL: "https://api.example.com/x", Body: "{}"})
	require.NoError(t, err)
	r, err = lower.Render(nil)
	require.NoError(t, err)
	assert.Equal(t, "PATCH", r.Method)

	assert.False(t, a.Lax(), "strict by default")
	lax, err := (&Compiler{Lax: true}).Compile(Spec{URL: "https://api.example.com/x"})
	require.NoError(t, err)
	assert.True(t, lax.Lax())
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRender(t *testing.T) {
	data := mustData(t, `{"customer": {"id": "c 1/2", "email": "ann@example.com", "name": "Ann \"Nan\" O'Hara\nHR", "team": "blue", "key": "s3cr%t", "bad": "x\r\nX-Injected: 1"}, "event": {"name": "signed up"}}`)
	t.Run("URL, credentials and headers", func(t *testing.T) {
		a, err := Compile(Spec{
			URL:     "https://{{ customer.key | url_encode }}:@api.example.com/v1/{{ customer.id | url_encode }}?src={{ event.name }}&x=1#frag",
			Headers: map[string]string{"X-Team": "{{ customer.team }}", "Content-Type": "application/json; charset=utf-8"},
			Body:    `{"email": {{ customer.email | json }}, "name": {{ customer.name | json }}}`,
		})
		require.NoError(t, err)
		r, err := a.Render(data)
		require.NoError(t, err)
		assert.Equal(t, "https://api.example.com/v1/c+1%2F2?src=signed%20up&x=1", r.URL)
		assert.Equal(t, "Basic czNjciV0Og==", r.Header.Get("Authorization")) // "s3cr%t:"
		assert.Equal(t, "blue", r.Header.Get("X-Team"))
		assert.Equal(t, "application/json; charset=utf-8", r.Header.Get("Content-Type"))
		var body map[string]string
		require.NoError(t, json.Unmarshal(r.Body, &body))
		assert.Equal(t, "Ann \"Nan\" O'Hara\nHR", body["name"])
		assert.NotContains(t, r.String(), "s3cr")
		assert.Equal(t, "REDACTED", r.RedactedHeader().Get("Authorization"))

		again, err := a.Render(data)
		require.NoError(t, err)
		assert.NotEqual(t, r.IdempotencyKey, again.IdempotencyKey, "each Render makes a new key")
	})
	t.Run("form body written the way Customer.io documents it", func(t *testing.T) {
		a, err := Compile(Spec{
			URL:     "https://api.example.com/form",
			Headers: map[string]string{"Content-Type": "x-www-form-urlencoded"},
			Body:    "id={{customer.id | url_encode}}&email={{customer.email | url_encode}}&custom_attribute={{customer.team}}",
		})
		require.NoError(t, err)
		r, err := a.Render(data)
		require.NoError(t, err)
		assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
		assert.Equal(t, "id=c+1%2F2&email=ann%40example.com&custom_attribute=blue", string(r.Body))
	})
	t.Run("text body as rendered", func(t *testing.T) {
		a, err := Compile(Spec{URL: "https://x.example", Headers: map[string]string{"Content-Type": "text/plain"}, Body: "Hi {{ customer.name }} {"})
		require.NoError(t, err)
		r, err := a.Render(data)
		require.NoError(t, err)
		assert.Equal(t, "Hi Ann \"Nan\" O'Hara\nHR {", string(r.Body))
	})

	failures := []struct {
		name    string
		spec    Spec
		field   string
		line    int
		wantErr error
		errHas  string
	}{
		{name: "a header value with CR LF", spec: Spec{URL: "https://x.example", Headers: map[string]string{"x-team": "{{ customer.bad }}"}}, field: "headers.x-team", wantErr: ErrInvalidHeader, errHas: "control character (CR)"},
		{name: "a rendered URL without a host", spec: Spec{URL: "https://{{ customer.nothing | default: '' }}/x"}, field: "url", wantErr: ErrInvalidURL, errHas: "no host"},
		{name: "a rendered URL with bad credentials stays secret", spec: Spec{URL: "https://{{ customer.team }}:s3cr%zz@x.example/"}, field: "url", wantErr: ErrInvalidURL, errHas: "not shown"},
		{name: "credentials twice", spec: Spec{URL: "https://u:p@x.example/", Headers: map[string]string{"Authorization": "Bearer {{ customer.team }}"}}, field: "url", wantErr: ErrInvalidURL, errHas: "use one"},
		{name: "quotes break Customer.io's documented JSON style", spec: Spec{URL: "https://x.example", Body: "{\n  \"name\": \"{{ customer.name }}\"\n}"}, field: "body", wantErr: ErrInvalidBody, errHas: `line 2, column 17`},
		{name: "a missing attribute in the body", spec: Spec{URL: "https://x.example", Body: "{\n\"a\": \"{{ customer.plan }}\"}"}, field: "body", line: 2, wantErr: ErrMissingVariable, errHas: "body: line 2: missing variable customer.plan"},
		{name: "a missing attribute in the URL", spec: Spec{URL: "https://x.example/{{ customer.account_id }}"}, field: "url", line: 1, wantErr: ErrMissingVariable},
		{name: "an empty JSON body for POST", spec: Spec{URL: "https://x.example", Body: "{% if false %}{}{% endif %}"}, field: "body", wantErr: ErrInvalidBody, errHas: "empty"},
		{name: "a bad form body", spec: Spec{URL: "https://x.example", Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: "a=1&b={{ customer.team }}%zz"}, field: "body", wantErr: ErrInvalidBody, errHas: `line 1, column 11: malformed percent-escape "%zz"`},
		{name: "a limit", spec: Spec{URL: "https://x.example", Body: "{% for i in (1..1000000000) %}{% endfor %}"}, field: "body", line: 1, wantErr: ErrLimitExceeded},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Compile(tc.spec)
			require.NoError(t, err)
			r, err := a.Render(data)
			require.Error(t, err)
			assert.Nil(t, r, "nothing half-made")
			assert.ErrorIs(t, err, tc.wantErr)
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tc.field, te.Field)
			assert.Equal(t, tc.line, te.Line)
			assert.Contains(t, err.Error(), tc.errHas)
			assert.True(t, strings.HasPrefix(err.Error(), "webhook: "+tc.field+": "), err.Error())
			assert.NotContains(t, err.Error(), "s3cr")
		})
	}
}

func TestRenderedJSONErrorLocates(t *testing.T) {
	a, err := Compile(Spec{URL: "https://x.example", Body: "{\n  \"name\": \"{{ customer.name }}\"\n}"})
	require.NoError(t, err)
	_, err = a.Render(mustData(t, `{"customer": {"name": "Ann \"Nan\""}}`))
	var be *BodyError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 2, be.Line)
	assert.Equal(t, 17, be.Column)
	assert.Contains(t, be.Snippet, `"Ann "Nan""`)
}

func TestRenderNeedsCompile(t *testing.T) {
	var zero Action
	_, err := zero.Render(nil)
	assert.ErrorIs(t, err, ErrNotCompiled)
	_, err = (*Action)(nil).Render(nil)
	assert.ErrorIs(t, err, ErrNotCompiled)
}

func TestSpecIsACopy(t *testing.T) {
	spec := Spec{URL: "https://x.example", Headers: map[string]string{"X-A": "1"}, Response: map[string]string{"id": "{{ response.id }}"}}
	a, err := Compile(spec)
	require.NoError(t, err)
	spec.Headers["X-A"] = "changed"
	got := a.Spec()
	assert.Equal(t, "1", got.Headers["X-A"])
	got.Response["id"] = "changed"
	assert.Equal(t, "{{ response.id }}", a.Spec().Response["id"])
}

// goldenRequest is the rendered request as the CLI's render command
// prints it.
type goldenRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// TestExamples renders each of Customer.io's integrations in examples/ with
// its data and compares the request with testdata/golden/NAME.json. Run
// with -update to rewrite the golden files.
func TestExamples(t *testing.T) {
	dirs, err := filepath.Glob("examples/*/action.json")
	require.NoError(t, err)
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	sort.Strings(names)
	assert.Equal(t, []string{"close", "helpscout", "ifttt", "lob", "medallia", "trello", "zapier", "zendesk"}, names)
	clock := func() time.Time { return time.Date(2024, 3, 1, 23, 30, 0, 0, time.FixedZone("PST", -8*3600)) }
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join("examples", name, "action.json"))
			require.NoError(t, err)
			spec, err := ParseSpec(doc)
			require.NoError(t, err)
			a, err := (&Compiler{Now: clock}).Compile(spec)
			require.NoError(t, err)
			dataDoc, err := os.ReadFile(filepath.Join("examples", name, "data.json"))
			require.NoError(t, err)
			data, err := ParseData(dataDoc)
			require.NoError(t, err)
			r, err := a.Render(data)
			require.NoError(t, err)
			assert.True(t, json.Valid(r.Body), "%s renders invalid JSON:\n%s", name, r.Body)

			g := goldenRequest{Method: r.Method, URL: RedactURL(r.URL), Headers: map[string]string{}, Body: string(r.Body)}
			for k, v := range r.RedactedHeader() {
				g.Headers[k] = strings.Join(v, ", ")
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			require.NoError(t, enc.Encode(g))
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -run TestExamples -update to create it")
			assert.Equal(t, string(want), buf.String())
			assert.NotContains(t, buf.String(), "API-KEY:", "credentials must not reach the output")
		})
	}
}

// TestLimitsSpanTheRequest checks that one Render shares one iteration
// budget across the URL, headers and body.
func TestLimitsSpanTheRequest(t *testing.T) {
	c := Compiler{MaxIterations: 10}
	a, err := c.Compile(Spec{
		URL:     "https://x.example/{% for i in (1..4) %}{{ i }}{% endfor %}",
		Headers: map[string]string{"X-Count": "{% for i in (1..4) %}{{ i }}{% endfor %}"},
		Body:    "[{% for i in (1..2) %}{{ i }}{% unless forloop.last %},{% endunless %}{% endfor %}]",
	})
	require.NoError(t, err)
	r, err := a.Render(nil)
	require.NoError(t, err, "10 iterations fit")
	assert.Equal(t, "https://x.example/1234", r.URL)
	assert.Equal(t, "[1,2]", string(r.Body))

	over, err := c.Compile(Spec{
		URL:  "https://x.example/{% for i in (1..6) %}{{ i }}{% endfor %}",
		Body: "[{% for i in (1..6) %}{{ i }}{% unless forloop.last %},{% endunless %}{% endfor %}]",
	})
	require.NoError(t, err)
	_, err = over.Render(nil)
	assert.ErrorIs(t, err, ErrLimitExceeded)
	var te *TemplateError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "body", te.Field)
	_, err = over.Render(nil)
	assert.ErrorIs(t, err, ErrLimitExceeded, "each Render starts with a full budget, and fails the same way")
}
