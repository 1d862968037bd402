package dialect

import (
	"errors"
	"fmt"
	"time"
)

// Template is a compiled template, safe for concurrent use.
type Template struct {
	body    []node
	literal string
	static  bool
	// sizeHint is the room a render's output starts with: the source's
	// length, which the output of most templates comes close to.
	sizeHint int
}

// Literal returns the template's text and true when it has no markup:
// what every render of it gives.
func (t *Template) Literal() (string, bool) { return t.literal, t.static }

// Run renders templates for one person's data under one budget: every
// template it renders shares the deadline and the loop budget, as an
// action's URL, headers and body do. A Run is not safe for concurrent
// use; templates are.
type Run struct {
	lax       bool
	now       func() time.Time
	maxOutput int
	maxIter   int
	timeout   time.Duration
	deadline  time.Time

	data  map[string]any
	extra []binding

	iterLeft int
	ops      uint32
	err      error // the first limit hit; every later step fails with it
}

type binding struct {
	name  string
	value any
}

// NewRun starts a Run over data, whose top-level keys are the templates'
// variables. data is never modified.
func (o Options) NewRun(data map[string]any) *Run {
	r := &Run{
		lax:       o.Lax,
		now:       o.Now,
		maxOutput: o.maxOutput(),
		maxIter:   o.maxIterations(),
		timeout:   o.timeout(),
		data:      data,
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.deadline = time.Now().Add(r.timeout)
	r.iterLeft = r.maxIter
	return r
}

// Set adds a variable beside the data for the templates rendered after
// it, hiding a data key of the same name.
func (r *Run) Set(name string, value any) {
	for i := range r.extra {
		if r.extra[i].name == name {
			r.extra[i].value = value
			return
		}
	}
	r.extra = append(r.extra, binding{name, value})
}

// Print is a value printed into a template's output by {{ }}, echo or
// cycle, or the output of an ifchanged block, as a PrintHook sees it.
type Print struct {
	// Value is the value printed, after its filters.
	Value any
	// Text is its text as the template prints it.
	Text string
	// Output is what the template has written before it. It is only
	// valid during the call.
	Output []byte
	// Filter names the filter applied last, or is empty.
	Filter string
	// Source is the expression as written (customer.id | downcase), or
	// the tag's name for cycle and ifchanged.
	Source string
}

// PrintHook sees each value printed into a template's own output (not
// into a capture) and returns the text to print instead, or an error that
// fails the render.
type PrintHook func(p Print) (string, error)

// Render renders t and returns its text. hook, if not nil, sees every
// value t prints. Errors are *Error, wrapping ErrMissingVariable,
// ErrLimitExceeded or ErrTemplate.
func (r *Run) Render(t *Template, hook PrintHook) (string, error) {
	if r.err != nil {
		return "", &Error{Err: r.err}
	}
	if t.static {
		if len(t.literal) > r.maxOutput {
			return "", &Error{Err: outputLimit(r.maxOutput)}
		}
		return t.literal, nil
	}
	st := &state{run: r, lax: r.lax, max: r.maxOutput, hook: hook, out: make([]byte, 0, min(t.sizeHint, r.maxOutput))}
	err := st.renderBody(t.body)
	if err == nil && r.err != nil {
		err = r.err
	}
	if err != nil {
		if r.err != nil && !errors.Is(err, ErrLimitExceeded) {
			err = r.err
		}
		var e *Error
		if !errors.As(err, &e) {
			err = &Error{Err: err}
		}
		return "", err
	}
	return string(st.out), nil
}

// fail records the first limit error and returns it.
func (r *Run) fail(err error) error {
	if r.err == nil {
		r.err = err
	}
	return r.err
}

// step counts one unit of work and checks the deadline every 64 units, so
// the clock is read rarely.
func (r *Run) step() error {
	if r.err != nil {
		return r.err
	}
	r.ops++
	if r.ops&63 == 0 && time.Now().After(r.deadline) {
		return r.fail(fmt.Errorf("%w: rendering took longer than %v", ErrLimitExceeded, r.timeout))
	}
	return nil
}

// iterate spends one loop iteration.
func (r *Run) iterate() error {
	r.iterLeft--
	if r.iterLeft < 0 {
		return r.fail(fmt.Errorf("%w: more than %d loop iterations", ErrLimitExceeded, r.maxIter))
	}
	return r.step()
}

// checkLen refuses an array longer than the iteration budget allows.
func (r *Run) checkLen(n int) error {
	if n > r.maxIter {
		return r.fail(fmt.Errorf("%w: array larger than %d", ErrLimitExceeded, r.maxIter))
	}
	return nil
}

// interrupt is a break or continue on its way to its loop.
type interrupt uint8

const (
	noInterrupt interrupt = iota
	breakLoop
	continueLoop
)

// state is one template's render: its variables, its output and what
// its tags remember.
type state struct {
	run  *Run
	lax  bool
	max  int
	hook PrintHook

	out      []byte
	captures int // open captures: output goes to a captured string

	locals   map[string]any // assign and capture
	frames   []binding      // loop variables, innermost last
	counters map[string]int // increment and decrement
	cycles   map[string]int
	changed  *string // the last ifchanged output
	offsets  map[string]int
	loops    []*forloop

	interrupt interrupt
	args      []any // filter arguments, reused
}

func (st *state) lookup(name string) (any, bool) {
	for i := len(st.frames) - 1; i >= 0; i-- {
		if st.frames[i].name == name {
			return st.frames[i].value, true
		}
	}
	if v, ok := st.locals[name]; ok {
		return v, true
	}
	if n, ok := st.counters[name]; ok {
		return n, true
	}
	for i := range st.run.extra {
		if st.run.extra[i].name == name {
			return st.run.extra[i].value, true
		}
	}
	v, ok := st.run.data[name]
	return v, ok
}

func (st *state) assign(name string, v any) {
	if st.locals == nil {
		st.locals = make(map[string]any)
	}
	st.locals[name] = v
}

// write appends s to the current output, within the cap.
func (st *state) write(s string) error {
	if len(s) > st.max-len(st.out) {
		return st.run.fail(outputLimit(st.max))
	}
	st.out = append(st.out, s...)
	return nil
}

// node is a piece of a compiled template.
type node interface {
	render(st *state) error
}

// renderBody renders nodes in order, stopping at a break or continue.
func (st *state) renderBody(nodes []node) error {
	for _, n := range nodes {
		if err := n.render(st); err != nil {
			return err
		}
		if st.interrupt != noInterrupt {
			return nil
		}
	}
	return nil
}

// textNode is literal text.
type textNode string

func (t textNode) render(st *state) error { return st.write(string(t)) }

// outputNode is {{ expression }}.
type outputNode struct {
	expr   *filteredExpr
	line   int
	source string
}

func (o *outputNode) render(st *state) error {
	if err := st.run.step(); err != nil {
		return err
	}
	v, err := o.expr.eval(st)
	if err != nil {
		return atLine(o.line, err)
	}
	return atLine(o.line, st.print(v, o.expr.lastFilter(), o.source))
}

// print writes v as {{ }} does, through the hook at the top level.
func (st *state) print(v any, filter, source string) error {
	if u, ok := v.(*undefined); ok {
		if !st.lax {
			return missing(u.name)
		}
		v = nil
	}
	if st.hook == nil || st.captures > 0 {
		if s, ok := v.(string); ok {
			return st.write(s)
		}
		out, err := appendOutput(st.out, v, st.max, 0)
		if err != nil {
			return st.run.fail(err)
		}
		st.out = out
		return nil
	}
	b, err := appendOutput(nil, v, st.max, 0)
	if err != nil {
		return st.run.fail(err)
	}
	text, err := st.hook(Print{Value: v, Text: string(b), Output: st.out, Filter: filter, Source: source})
	if err != nil {
		return err
	}
	return st.write(text)
}

// capture renders nodes into a string of their own.
func (st *state) capture(nodes []node) (string, error) {
	saved := st.out
	st.out = nil
	st.captures++
	err := st.renderBody(nodes)
	st.captures--
	s := string(st.out)
	st.out = saved
	return s, err
}

func isOurs(err error) bool {
	return errors.Is(err, ErrMissingVariable) || errors.Is(err, ErrLimitExceeded) || errors.Is(err, ErrTemplate) || errors.Is(err, ErrTemplateSyntax)
}
