package webhook_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/liquidhook/webhook"
)

func ExampleCompile() {
	action, err := webhook.Compile(webhook.Spec{
		URL:     "https://api.example.com/v1/people/{{ customer.id }}",
		Headers: map[string]string{"X-Plan": "{{ customer.plan | upcase }}"},
		Body:    `{"email": {{ customer.email | json }}}`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(action.Spec().URL)

	// A template that does not compile names its field and line.
	_, err = webhook.Compile(webhook.Spec{
		URL:  "https://api.example.com/v1/people",
		Body: "{\n  \"name\": \"{{ customer.name | upcasee }}\"\n}",
	})
	var te *webhook.TemplateError
	if errors.As(err, &te) {
		fmt.Println(te.Field, te.Line, errors.Is(err, webhook.ErrTemplateSyntax))
	}
	fmt.Println(err)
	// Output:
	// https://api.example.com/v1/people/{{ customer.id }}
	// body 2 true
	// webhook: body: line 2: template syntax error: unknown filter "upcasee"
}

func ExampleAction_Render() {
	action, err := webhook.Compile(webhook.Spec{
		URL: "https://API-KEY:@api.example.com/v1/leads?source={{ event.name | url_encode }}",
		Body: `{
  "name": {{ customer.name | json }},
  "url": "{% if customer.company_url.size > 0 %}{{ customer.company_url }}{% else %}mycompany.com{% endif %}",
  "seats": {{ customer.seats | plus: 1 }},
  "customer": {{ customer | replace: "=>", ":" }}
}`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := webhook.ParseData([]byte(`{
  "customer": {"name": "Zoë \"Z\" Ng", "seats": 41, "created_at": 1700000000},
  "event": {"name": "trial ended"}
}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	req, err := action.Render(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.Method, req.URL)
	fmt.Println(req.RedactedHeader().Get("Authorization"))
	fmt.Println(string(req.Body))

	// Printing an attribute the data lacks fails the render and names it.
	_, err = action.Render(map[string]any{"customer": map[string]any{"seats": 1}, "event": map[string]any{"name": "x"}})
	fmt.Println(errors.Is(err, webhook.ErrMissingVariable))
	fmt.Println(err)
	// Output:
	// POST https://api.example.com/v1/leads?source=trial+ended
	// REDACTED
	// {
	//   "name": "Zoë \"Z\" Ng",
	//   "url": "mycompany.com",
	//   "seats": 42,
	//   "customer": {"created_at":1700000000, "name":"Zoë \"Z\" Ng", "seats":41}
	// }
	// true
	// webhook: body: line 2: missing variable customer.name
}

func ExampleCompiler() {
	c := webhook.Compiler{
		Lax:           true, // a missing attribute prints as empty text
		MaxIterations: 1000,
		Now:           func() time.Time { return time.Date(2021, 2, 25, 15, 3, 4, 0, time.UTC) },
	}
	action, err := c.Compile(webhook.Spec{
		URL:     "https://hooks.example.com/catch",
		Headers: map[string]string{"Content-Type": "text/plain"},
		Body:    `{{ 'now' | date: "%F" }} [{{ customer.nickname }}] {% for i in (1..1000000) %}{% endfor %}`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = action.Render(map[string]any{"customer": map[string]any{}})
	fmt.Println(errors.Is(err, webhook.ErrLimitExceeded))
	fmt.Println(err)
	// Output:
	// true
	// webhook: body: line 1: template limit exceeded: more than 1000 loop iterations
}

func ExampleParseData() {
	data, err := webhook.ParseData([]byte(`{"customer": {"created_at": 1700000000, "ltv": 1234.50}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	customer := data["customer"].(map[string]any)
	fmt.Printf("%T %T\n", customer["created_at"], customer["ltv"])

	_, err = webhook.ParseData([]byte("{\n  \"customer\": {\"id\": 1,}\n}"))
	fmt.Println(err)
	// Output:
	// int float64
	// webhook: invalid data: line 2, column 24: invalid character '}' looking for beginning of object key string
}

// NewRequest builds a request without templates; Build checks it as Render
// would and reports the first problem.
func ExampleNewRequest() {
	req, err := webhook.NewRequest("post", "https://KEY:@api.example.com/v1/events").
		Header("X-Team", "growth").
		JSON(map[string]any{"event": "signup", "email": "ada@example.com"}).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req)
	fmt.Println(req.RedactedHeader().Get("Authorization"), req.Header.Get("Content-Type"))
	fmt.Println(string(req.Body))

	_, err = webhook.NewRequest("POST", "https://api.example.com/v1/events").
		Body("application/json", []byte(`{"event": signup}`)).
		Build()
	fmt.Println(errors.Is(err, webhook.ErrInvalidBody))
	// Output:
	// POST https://api.example.com/v1/events (44 bytes)
	// REDACTED application/json
	// {"email":"ada@example.com","event":"signup"}
	// true
}

// ParseSpec reads an action file strictly, so a typo is caught with its
// line and column instead of silently dropping a field.
func ExampleParseSpec() {
	spec, err := webhook.ParseSpec([]byte(`{
  "url": "https://api.example.com/v1/leads",
  "body": "{\"email\": {{ customer.email | json }}}",
  "sending": "automatic"
}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(spec.URL, spec.Sending)

	_, err = webhook.ParseSpec([]byte("{\n  \"url\": \"https://api.example.com/v1/leads\",\n  \"bdy\": \"{}\"\n}"))
	fmt.Println(errors.Is(err, webhook.ErrInvalidSpec))
	fmt.Println(err)
	// Output:
	// https://api.example.com/v1/leads automatic
	// true
	// webhook: invalid spec: line 3, column 3: unknown field "bdy" (did you mean "body"?)
}
