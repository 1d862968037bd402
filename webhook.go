// Package webhook sends Customer.io-style webhook actions from any Go
// service and verifies them in any Go server.
//
// (The full package documentation is written once the API settles.)
package webhook

// Spec is the JSON-able definition of a webhook action. Every string field
// except Sending is a Liquid template in Customer.io's dialect.
//
// The zero value of each field has a documented default, so a Spec read from
// a file need only name what differs.
type Spec struct {
	// Method is GET, POST, PUT, DELETE or PATCH. Defaults to POST.
	Method string `json:"method,omitempty"`

	// URL is the destination. Credentials written as user:pass@ are sent as
	// HTTP basic authentication and never as part of the URL.
	URL string `json:"url"`

	// Headers maps header names to value templates. Defaults to
	// Content-Type: application/json.
	Headers map[string]string `json:"headers,omitempty"`

	// Body is the request body template. Its Content-Type header decides how
	// the rendered body is checked: JSON must parse, a form must decode, and
	// anything else is sent as rendered.
	Body string `json:"body,omitempty"`

	// Response maps attribute names to templates rendered over the parsed
	// response (as the variable response) and the same data.
	Response map[string]string `json:"response,omitempty"`

	// Sending is SendingAutomatic or SendingDraft. Defaults to SendingDraft,
	// as in Customer.io: a draft waits until someone releases it.
	Sending Sending `json:"sending,omitempty"`
}

// Sending says whether a delivery goes out as soon as it is queued or waits
// as a draft until released.
type Sending string

// The two sending behaviours.
const (
	SendingDraft     Sending = "draft"
	SendingAutomatic Sending = "automatic"
)

// Action is a compiled Spec: every template parsed once. An Action is safe
// for concurrent use.
type Action struct {
	spec     Spec
	url      *template
	headers  []*template
	body     *template
	response map[string]*template
}

// Compile parses every template in spec once.
func Compile(spec Spec) (*Action, error) {
	a := &Action{spec: spec}
	var err error
	if a.url, err = parse("url", spec.URL); err != nil {
		return nil, err
	}
	for name, v := range spec.Headers {
		t, err := parse("headers."+name, v)
		if err != nil {
			return nil, err
		}
		a.headers = append(a.headers, t)
	}
	if spec.Body != "" {
		if a.body, err = parse("body", spec.Body); err != nil {
			return nil, err
		}
	}
	for name, v := range spec.Response {
		t, err := parse("response."+name, v)
		if err != nil {
			return nil, err
		}
		if a.response == nil {
			a.response = make(map[string]*template)
		}
		a.response[name] = t
	}
	return a, nil
}

// Spec returns the Spec a was compiled from.
func (a *Action) Spec() Spec { return a.spec }

// Render renders the request for one person's data.
func (a *Action) Render(data map[string]any) (*Request, error) { return a.render(data) }
