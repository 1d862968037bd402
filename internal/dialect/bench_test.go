package dialect

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

// helpScout reads the Help Scout example's body template and data.
func helpScout(b *testing.B) (body string, data map[string]any) {
	b.Helper()
	raw, err := os.ReadFile("../../examples/helpscout/action.json")
	if err != nil {
		b.Fatal(err)
	}
	var spec struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		b.Fatal(err)
	}
	raw, err = os.ReadFile("../../examples/helpscout/data.json")
	if err != nil {
		b.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		b.Fatal(err)
	}
	customer := data["customer"].(map[string]any)
	for k, v := range customer {
		if n, ok := v.(json.Number); ok {
			i, _ := strconv.Atoi(string(n))
			customer[k] = i
		}
	}
	return spec.Body, data
}

// helpScoutTextTemplate translates the Help Scout body to text/template.
func helpScoutTextTemplate(body string) string {
	return strings.NewReplacer(
		"{{customer.", "{{.customer.",
		`{% assign current_time = 'now' %}{{current_time | date: "%F"}}`, `{{date "2006-01-02"}}`,
	).Replace(body)
}

// BenchmarkRender renders the Help Scout body with the dialect and, for
// scale, the same body as a text/template.
func BenchmarkRender(b *testing.B) {
	body, data := helpScout(b)
	now := func() time.Time { return time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC) }
	tm, err := Compile(body)
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{Now: now}
	funcs := template.FuncMap{"date": func(layout string) string { return now().UTC().Format(layout) }}
	tt := template.Must(template.New("body").Option("missingkey=error").Funcs(funcs).Parse(helpScoutTextTemplate(body)))

	// The two must agree, or the comparison means nothing.
	got, err := opts.NewRun(data).Render(tm, nil)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tt.Execute(&buf, data); err != nil {
		b.Fatal(err)
	}
	if buf.String() != got {
		b.Fatalf("text/template and Liquid disagree:\n%s\n%s", buf.String(), got)
	}

	b.Run("impl=liquid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := opts.NewRun(data).Render(tm, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=text_template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out bytes.Buffer
			if err := tt.Execute(&out, data); err != nil {
				b.Fatal(err)
			}
			_ = out.String()
		}
	})
}

// BenchmarkCompile is the cost a render does not pay: parsing the Help
// Scout body.
func BenchmarkCompile(b *testing.B) {
	body, _ := helpScout(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(body); err != nil {
			b.Fatal(err)
		}
	}
}
