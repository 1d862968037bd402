package webhook

import (
	"fmt"
	"net/http"

	"github.com/osteele/liquid"
)

// A first, plain engine: the dialect, limits and error locations come next.
var engine = liquid.NewEngine()

type template struct {
	field string
	tpl   *liquid.Template
}

func parse(field, src string) (*template, error) {
	t, err := engine.ParseString(src)
	if err != nil {
		return nil, fmt.Errorf("webhook: %s: %w", field, err)
	}
	return &template{field: field, tpl: t}, nil
}

func (t *template) render(data map[string]any) (string, error) {
	s, err := t.tpl.RenderString(data)
	if err != nil {
		return "", fmt.Errorf("webhook: %s: %w", t.field, err)
	}
	return s, nil
}

func (a *Action) render(data map[string]any) (*Request, error) {
	u, err := a.url.render(data)
	if err != nil {
		return nil, err
	}
	h := make(http.Header)
	for _, ht := range a.headers {
		v, err := ht.render(data)
		if err != nil {
			return nil, err
		}
		h.Add(ht.field[len("headers."):], v)
	}
	var body string
	if a.body != nil {
		if body, err = a.body.render(data); err != nil {
			return nil, err
		}
	}
	r, err := newRequest(a.spec.Method, u, h, []byte(body))
	if err != nil {
		return nil, err
	}
	r.IdempotencyKey = NewIdempotencyKey()
	r.action, r.data = a, data
	return r, nil
}

// renderResponse renders each response template over data plus the variable
// response (the parsed JSON root, or the body as a string), and returns the
// rendered text per attribute.
func (a *Action) renderResponse(data map[string]any, response any) (map[string]string, error) {
	if len(a.response) == 0 {
		return nil, nil
	}
	bindings := make(map[string]any, len(data)+1)
	for k, v := range data {
		bindings[k] = v
	}
	bindings["response"] = response
	out := make(map[string]string, len(a.response))
	for name, t := range a.response {
		s, err := t.render(bindings)
		if err != nil {
			return nil, err
		}
		out[name] = s
	}
	return out, nil
}
