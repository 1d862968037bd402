package dialect_test

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/liquidhook/webhook/internal/dialect"
)

func Example() {
	tm, err := dialect.Compile(`{"name": {{ customer.name | json }}, "plan": "{{ customer.plan | default: "free" }}"}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	run := dialect.Options{}.NewRun(map[string]any{"customer": map[string]any{"name": "Ann"}})
	body, err := run.Render(tm, nil)
	fmt.Println(body, err)
	// Output: {"name": "Ann", "plan": "free"} <nil>
}

func Example_missingVariable() {
	tm, _ := dialect.Compile("Hi\n{{ customer.nickname }}")
	_, err := dialect.Options{}.NewRun(map[string]any{"customer": map[string]any{}}).Render(tm, nil)
	var e *dialect.Error
	fmt.Println(errors.Is(err, dialect.ErrMissingVariable), errors.As(err, &e) && e.Line == 2)
	fmt.Println(err)
	// Output:
	// true true
	// line 2: webhook: missing variable customer.nickname
}

func ExamplePrintHook() {
	tm, _ := dialect.Compile("https://api.example.com/people/{{ customer.id }}?q={{ customer.id | url_encode }}")
	escapeSegment := func(p dialect.Print) (string, error) {
		if p.Filter == "url_encode" {
			return p.Text, nil // already escaped
		}
		return url.PathEscape(p.Text), nil
	}
	out, err := dialect.Options{}.NewRun(map[string]any{"customer": map[string]any{"id": "a b"}}).Render(tm, escapeSegment)
	fmt.Println(out, err)
	// Output: https://api.example.com/people/a%20b?q=a+b <nil>
}
