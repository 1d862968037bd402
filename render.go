package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/liquidhook/webhook/internal/dialect"
)

// Errors a template can fail with, at Compile or at Render. Each reaches the
// caller inside a *TemplateError that names the field and the line; test for
// them with errors.Is.
var (
	// ErrTemplateSyntax: a template does not parse (Compile), or uses a
	// filter or tag that does not exist.
	ErrTemplateSyntax = dialect.ErrTemplateSyntax
	// ErrMissingVariable: a template printed a variable or attribute that
	// is not in the data, or used one as a range bound. The message names
	// it as written, customer[key] for a key read from a variable.
	ErrMissingVariable = dialect.ErrMissingVariable
	// ErrLimitExceeded: a render ran out of time, output, iterations or
	// value size (see Compiler).
	ErrLimitExceeded = dialect.ErrLimitExceeded
	// ErrTemplate: any other failure while rendering, such as a filter given
	// a value it cannot use.
	ErrTemplate = dialect.ErrTemplate
)

// TemplateError reports what is wrong with one field of an Action: a
// template that does not compile or render, or rendered text that does not
// make a valid request (a bad URL, header or body). It wraps the cause, so
// errors.Is finds the sentinel (ErrMissingVariable, ErrInvalidBody, ...).
type TemplateError struct {
	// Field names the Spec field: "method", "url", "headers.X-Team",
	// "body", "response.lead_id" or "sending".
	Field string
	// Line is the 1-based line within the field's template, or 0 when the
	// problem concerns the field as a whole (such as rendered JSON that does
	// not parse; its own error then gives the line in the rendered body).
	Line int
	// Err is the cause.
	Err error
}

// Error names the field, the line when known, and the cause, as
// "webhook: body: line 3: missing variable customer.email".
func (e *TemplateError) Error() string {
	var b strings.Builder
	b.WriteString("webhook: ")
	b.WriteString(e.Field)
	if e.Line > 0 {
		b.WriteString(": line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "webhook: "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *TemplateError) Unwrap() error { return e.Err }

// options are the dialect's options for c's fields.
func (c *Compiler) options() dialect.Options {
	return dialect.Options{
		Lax:           c.Lax,
		Timeout:       c.Timeout,
		MaxOutput:     c.MaxOutput,
		MaxIterations: c.MaxIterations,
		Now:           c.Now,
	}
}

// fieldTemplate is one Spec field's compiled template.
type fieldTemplate struct {
	field string
	t     *dialect.Template
}

// literal returns the template's text when it has no markup.
func (ft *fieldTemplate) literal() (string, bool) { return ft.t.Literal() }

// maxOutput resolves MaxOutput.
func (c *Compiler) maxOutput() int {
	if c.MaxOutput <= 0 {
		return dialect.DefaultMaxOutput
	}
	return c.MaxOutput
}

// compileField compiles src as the template of field. A text without
// markup longer than c's output cap is refused now, as every render of it
// would be.
func (c *Compiler) compileField(field, src string) (*fieldTemplate, error) {
	t, err := dialect.Compile(src)
	if err != nil {
		return nil, fieldError(field, err)
	}
	if lit, static := t.Literal(); static && len(lit) > c.maxOutput() {
		return nil, &TemplateError{Field: field, Err: fmt.Errorf("%w: output larger than %d bytes", ErrLimitExceeded, c.maxOutput())}
	}
	return &fieldTemplate{field: field, t: t}, nil
}

// fieldError attributes a dialect error to field, with its line.
func fieldError(field string, err error) error {
	var de *dialect.Error
	if errors.As(err, &de) {
		return &TemplateError{Field: field, Line: de.Line, Err: de.Err}
	}
	return &TemplateError{Field: field, Err: err}
}

// render renders ft in run; hook, if not nil, sees what ft prints.
func (ft *fieldTemplate) render(run *dialect.Run, hook dialect.PrintHook) (string, error) {
	s, err := run.Render(ft.t, hook)
	if err != nil {
		return "", fieldError(ft.field, err)
	}
	return s, nil
}

// Render renders the request for one person's data: each top-level key of
// data (customer, event, ...) is a Liquid variable. The URL, the headers
// and the body are rendered in one budget (see Compiler), each value
// printed into the URL stays in the part of the URL it was printed in
// (see the package doc), and a JSON or form body is checked before the
// Request is returned. The
// Request has a new idempotency key. A problem is reported as a
// *TemplateError naming the field.
//
// Numbers in data are Go numbers (int, int64, float64, ...). A json.Number,
// as a json.Decoder with UseNumber gives, prints as written but is text to
// Liquid: it does no arithmetic and compares as text. ParseData decodes
// JSON data with numbers that do both.
func (a *Action) Render(data map[string]any) (*Request, error) {
	if a == nil || a.url == nil {
		return nil, ErrNotCompiled
	}
	run := a.opts.NewRun(data)
	u, err := a.renderURL(run)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(a.headers)+2)
	for _, ht := range a.headers {
		v, err := ht.t.render(run, nil)
		if err != nil {
			return nil, err
		}
		h[ht.key] = []string{v}
	}
	var body []byte
	if a.body != nil {
		s, err := a.body.render(run, nil)
		if err != nil {
			return nil, err
		}
		// A body template that renders nothing gives an empty body, never
		// none.
		body = []byte(s)
	}
	r, err := buildRequest(requestParts{
		method: a.method, url: u, prepared: a.staticURL,
		header: h, ownHeader: true, body: body,
	})
	if err != nil {
		return nil, a.partFieldError(err)
	}
	r.IdempotencyKey = NewIdempotencyKey()
	return r, nil
}

// renderURL renders the URL template, keeping each value printed after
// the scheme inside the part of the URL it was printed in.
func (a *Action) renderURL(run *dialect.Run) (string, error) {
	if a.staticURL != nil {
		return "", nil // buildRequest takes the URL prepared at Compile
	}
	var prints urlPrints
	raw, err := a.url.render(run, prints.hook)
	if err != nil {
		return "", err
	}
	u, err := placeURLPrints(raw, prints)
	if err != nil {
		return "", &TemplateError{Field: a.url.field, Err: err}
	}
	return u, nil
}

// partFieldError attributes a request check's error to the Spec field
// whose rendered text failed it.
func (a *Action) partFieldError(err error) error {
	var pe *partError
	if !errors.As(err, &pe) {
		return err
	}
	field := pe.part
	if name, ok := strings.CutPrefix(pe.part, "header "); ok {
		field = "headers." + name
		for _, ht := range a.headers {
			if ht.key == http.CanonicalHeaderKey(name) {
				field = ht.t.field
			}
		}
	}
	return &TemplateError{Field: field, Err: pe.err}
}

// renderResponse renders each response template over data plus the
// variable response (the parsed JSON root, or the body as a string), all
// in one budget, and hands each attribute's rendered text to set. A
// template that prints a missing response field fails with
// ErrMissingVariable naming it.
func (a *Action) renderResponse(data map[string]any, response any, set func(name, text string)) error {
	if len(a.response) == 0 {
		return nil
	}
	run := a.opts.NewRun(data)
	run.Set("response", response)
	for _, rt := range a.response {
		s, err := rt.t.render(run, nil)
		if err != nil {
			return err
		}
		set(rt.name, s)
	}
	return nil
}
