package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/osteele/liquid/expressions"
	"github.com/osteele/liquid/filters"
	"github.com/osteele/liquid/parser"
	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/tags"
	"github.com/osteele/liquid/values"
	"github.com/osteele/tuesday"
)

// This file is the only place that knows about the Liquid engine
// (github.com/osteele/liquid). The engine parses and evaluates; everything
// Customer.io's dialect needs beyond it is layered on here:
//
//   - Before parsing, the source is scanned once: include/render tags and
//     unterminated {{ or {% are refused with their line, unknown filters are
//     refused, comparisons with blank/empty are rewritten into filters (the
//     engine has no blank), and for loops iterate maps in key order.
//   - After parsing, the tree is instrumented: every {{ }} becomes our own
//     node (strict missing-variable checks, Ruby-style printing of objects,
//     exact numbers), every loop body starts with a node that spends the
//     iteration budget and checks the deadline, and every capture writes
//     through a counter, so no loop or buffer grows without bound.
//   - Filters that build strings or arrays are bounded, and those the engine
//     gets wrong for this dialect (date, json, join, append, replace, ...)
//     are replaced.
//
// Per-render state (deadline, budget) travels in the bindings under a key
// that no template can name, because the engine gives tags no other channel.

// Errors a template can fail with, at Compile or at Render. Each reaches the
// caller inside a *TemplateError that names the field and the line; test for
// them with errors.Is.
var (
	// ErrTemplateSyntax: a template does not parse (Compile).
	ErrTemplateSyntax = errors.New("webhook: template syntax error")
	// ErrMissingVariable: a template printed or assigned a variable or
	// attribute that is not in the data. The message names it.
	ErrMissingVariable = errors.New("webhook: missing variable")
	// ErrLimitExceeded: a render ran out of time, output, iterations or
	// value size (see Compiler).
	ErrLimitExceeded = errors.New("webhook: template limit exceeded")
	// ErrTemplate: any other failure while rendering, such as a filter given
	// a value it cannot use.
	ErrTemplate = errors.New("webhook: template error")
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

// Defaults for Compiler's zero fields.
const (
	defaultTimeout       = time.Second
	defaultMaxOutput     = 1 << 20
	defaultMaxIterations = 100_000
)

// limits are a Compiler's resolved options that shape an engine.
type limits struct {
	lax       bool
	timeout   time.Duration
	maxOutput int // bytes per rendered template and per string value
	maxIter   int // loop iterations per render; also elements per array value
}

func (c *Compiler) limits() limits {
	l := limits{lax: c.Lax, timeout: c.Timeout, maxOutput: c.MaxOutput, maxIter: c.MaxIterations}
	if l.timeout <= 0 {
		l.timeout = defaultTimeout
	}
	if l.maxOutput <= 0 {
		l.maxOutput = defaultMaxOutput
	}
	if l.maxIter <= 0 {
		l.maxIter = defaultMaxIterations
	}
	return l
}

// engine is a Liquid configuration for one set of limits: the standard tags
// and filters with the dialect on top. It is read-only once built, except
// while compiling, which holds mu.
type engine struct {
	limits
	now func() time.Time

	cfg     render.Config
	filters map[string]bool

	mu      sync.Mutex
	pending func(io.Writer, render.Context) error // the next synthetic node's renderer

	formats sync.Map     // strftime format -> *dateFormat
	nformat atomic.Int32 // entries in formats
}

// engines caches engines by limits; an engine with a custom clock is not
// cached, since a func cannot be a map key.
var engines struct {
	sync.Mutex
	m map[limits]*engine
}

func (c *Compiler) engine() *engine {
	l := c.limits()
	if c.Now != nil {
		return newEngine(l, c.Now)
	}
	engines.Lock()
	defer engines.Unlock()
	if e := engines.m[l]; e != nil {
		return e
	}
	e := newEngine(l, time.Now)
	if engines.m == nil {
		engines.m = make(map[limits]*engine)
	}
	if len(engines.m) < 32 {
		engines.m[l] = e
	}
	return e
}

// nodeTag names the tag behind synthetic nodes. A template that uses it
// gets "unknown tag", since no renderer is pending then.
const nodeTag = "liquidhook_node"

// stateKey is the binding that carries a render's state. It holds a space,
// so no variable, assign or capture can name it.
const stateKey = "liquidhook render"

// filterSet collects the engine's standard filters so they can be wrapped.
type filterSet map[string]any

func (f filterSet) AddFilter(name string, fn any) { f[name] = fn }

// noFiles refuses every template file: templates never read files.
type noFiles struct{}

func (noFiles) ReadTemplate(string) ([]byte, error) {
	return nil, errors.New("templates cannot read files")
}

func newEngine(l limits, now func() time.Time) *engine {
	e := &engine{limits: l, now: now, filters: make(map[string]bool)}
	e.cfg = render.NewConfig()
	e.cfg.TemplateStore = noFiles{}
	tags.AddStandardTags(&e.cfg)
	for _, name := range []string{"include", "render"} {
		e.cfg.AddTag(name, func(string) (func(io.Writer, render.Context) error, error) {
			return nil, fmt.Errorf("{%% %s %%} is not supported: templates cannot read files", name)
		})
	}
	assign, _ := e.cfg.FindTagDefinition("assign")
	e.cfg.AddTag("assign", e.assignTag(assign))
	e.cfg.AddTag(nodeTag, func(string) (func(io.Writer, render.Context) error, error) {
		fn := e.pending
		if fn == nil {
			return nil, fmt.Errorf("unknown tag %q", nodeTag)
		}
		return fn, nil
	})

	std := filterSet{}
	filters.AddStandardFilters(std)
	for name, fn := range std {
		switch name {
		case "default", "size":
			// Neither builds anything; default is variadic.
		case "type", "inspect":
			continue // debugging aids that print Go types
		default:
			fn = e.guard(fn)
		}
		e.addFilter(name, fn)
	}
	for name, fn := range e.dialectFilters() {
		e.addFilter(name, fn)
	}
	return e
}

func (e *engine) addFilter(name string, fn any) {
	e.cfg.AddFilter(name, fn)
	e.filters[name] = true
}

// tmpl is one compiled field template.
type tmpl struct {
	field   string
	eng     *engine
	static  bool   // no Liquid markup: the source is the output
	literal string // the output when static
	root    render.Node
}

// compile parses src for field and instruments it. Errors are
// *TemplateError with ErrTemplateSyntax (or ErrLimitExceeded for a static
// text above the output cap).
func (e *engine) compile(field, src string) (t *tmpl, err error) {
	t = &tmpl{field: field, eng: e}
	if !strings.Contains(src, "{{") && !strings.Contains(src, "{%") {
		if len(src) > e.maxOutput {
			return nil, &TemplateError{Field: field, Err: e.outputLimit()}
		}
		t.static, t.literal = true, src
		return t, nil
	}
	prepared, perr := e.prepare(field, src)
	if perr != nil {
		return nil, perr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	defer func() {
		// The expression lexer panics on some input (an integer too large
		// for int64, for one); find the line by parsing token by token.
		if r := recover(); r != nil {
			e.pending = nil
			t, err = nil, &TemplateError{Field: field, Line: panicLine(field, prepared), Err: fmt.Errorf("%w: %v", ErrTemplateSyntax, r)}
		}
	}()
	root, cerr := e.cfg.Compile(prepared, parser.SourceLoc{Pathname: field, LineNo: 1})
	if cerr != nil {
		return nil, &TemplateError{Field: field, Line: cerr.LineNumber(), Err: fmt.Errorf("%w: %s", ErrTemplateSyntax, engineMessage(cerr, field))}
	}
	if err := e.instrument(root); err != nil {
		return nil, &TemplateError{Field: field, Err: fmt.Errorf("%w: %v", ErrTemplateSyntax, err)}
	}
	t.root = root
	return t, nil
}

// panicLine returns the line of the first token whose expression makes the
// parser panic, or 0.
func panicLine(field, src string) int {
	for _, tok := range parser.Scan(src, parser.SourceLoc{Pathname: field, LineNo: 1}, nil) {
		var args, sel string
		switch {
		case tok.Type == parser.ObjTokenType:
			args = tok.Args
		case tok.Type == parser.TagTokenType && tok.Name == "assign":
			args, sel = tok.Args, expressions.AssignStatementSelector
		case tok.Type == parser.TagTokenType && (tok.Name == "for" || tok.Name == "tablerow"):
			args, sel = tok.Args, expressions.LoopStatementSelector
		case tok.Type == parser.TagTokenType && tok.Name == "when":
			args, sel = tok.Args, expressions.WhenStatementSelector
		case tok.Type == parser.TagTokenType:
			args = tok.Args
		default:
			continue
		}
		if parsePanics(sel, args) {
			return tok.SourceLoc.LineNo
		}
	}
	return 0
}

func parsePanics(sel, args string) (panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	if sel != "" {
		_, _ = expressions.ParseStatement(sel, args)
	} else {
		_, _ = expressions.Parse(args)
	}
	return false
}

// engineMessage extracts the engine's message from one of its errors,
// without its "Liquid error (line N): ... in field" decoration.
func engineMessage(err parser.Error, field string) string {
	if c := err.Cause(); c != nil {
		if rc, ok := c.(interface{ Cause() error }); ok && rc.Cause() != nil {
			c = rc.Cause() // a rethrown panic carries a stack trace in its text
		}
		return c.Error()
	}
	msg := err.Error()
	if i := strings.Index(msg, "): "); strings.HasPrefix(msg, "Liquid error (line ") && i >= 0 {
		msg = msg[i+3:]
	} else {
		msg = strings.TrimPrefix(msg, "Liquid error: ")
	}
	return strings.TrimSuffix(msg, " in "+field)
}

// prepare checks src token by token and returns it with the dialect's
// rewrites applied. Lines are preserved: rewrites never add a newline.
func (e *engine) prepare(field, src string) (string, *TemplateError) {
	toks := parser.Scan(src, parser.SourceLoc{Pathname: field, LineNo: 1}, nil)
	var out strings.Builder
	out.Grow(len(src) + 32)
	syntax := func(line int, format string, a ...any) *TemplateError {
		return &TemplateError{Field: field, Line: line, Err: fmt.Errorf("%w: "+format, append([]any{ErrTemplateSyntax}, a...)...)}
	}
	var inRaw, inComment bool
	openLine := 0
	for _, tok := range toks {
		source := tok.Source
		line := tok.SourceLoc.LineNo
		switch {
		case inComment:
			if tok.Type == parser.TagTokenType && tok.Name == "endcomment" {
				inComment = false
			}
		case inRaw:
			if tok.Type == parser.TagTokenType && tok.Name == "endraw" {
				inRaw = false
			}
		case tok.Type == parser.TextTokenType:
			// The scanner leaves an unclosed {{ or {% as text; Customer.io
			// refuses it, and it is almost always a typo.
			if i := strings.Index(source, "{{"); i >= 0 {
				return "", syntax(line+strings.Count(source[:i], "\n"), "{{ is not closed by }} on the same line (use {%% raw %%} for literal braces)")
			}
			if i := strings.Index(source, "{%"); i >= 0 {
				return "", syntax(line+strings.Count(source[:i], "\n"), "{%% does not start a tag closed by %%} (use {%% raw %%} for literal braces)")
			}
		case tok.Type == parser.ObjTokenType:
			lexed, ok := lexExpr(tok.Args)
			if ok {
				if name := e.unknownFilter(lexed); name != "" {
					return "", syntax(line, "unknown filter %q", name)
				}
				source = replaceArgs(source, tok.Args, rewriteBlank(tok.Args, lexed))
			}
		case tok.Type == parser.TagTokenType:
			switch tok.Name {
			case "comment":
				inComment, openLine = true, line
			case "raw":
				inRaw, openLine = true, line
			case "include", "render":
				return "", syntax(line, "{%% %s %%} is not supported: templates cannot read files", tok.Name)
			}
			lexed, ok := lexExpr(tok.Args)
			if !ok {
				break
			}
			if name := e.unknownFilter(lexed); name != "" {
				return "", syntax(line, "unknown filter %q", name)
			}
			switch tok.Name {
			case "if", "elsif", "unless", "assign":
				source = replaceTagArgs(source, tok.Name, tok.Args, rewriteBlank(tok.Args, lexed))
			case "for", "tablerow":
				source = replaceTagArgs(source, tok.Name, tok.Args, rewriteFor(tok.Args, lexed))
			}
		}
		out.WriteString(source)
	}
	switch {
	case inComment:
		return "", syntax(openLine, "{%% comment %%} is not closed by {%% endcomment %%}")
	case inRaw:
		return "", syntax(openLine, "{%% raw %%} is not closed by {%% endraw %%}")
	}
	return out.String(), nil
}

// replaceArgs replaces the arguments of an object token {{ args }}.
func replaceArgs(source, args, repl string) string {
	if repl == args {
		return source
	}
	i := 2
	if i < len(source) && source[i] == '-' {
		i++
	}
	for i < len(source) && isSpaceByte(source[i]) {
		i++
	}
	if !strings.HasPrefix(source[i:], args) {
		return source
	}
	return source[:i] + repl + source[i+len(args):]
}

// replaceTagArgs replaces the arguments of a tag token {% name args %}.
func replaceTagArgs(source, name, args, repl string) string {
	if repl == args {
		return source
	}
	i := 2
	if i < len(source) && source[i] == '-' {
		i++
	}
	for i < len(source) && isSpaceByte(source[i]) {
		i++
	}
	if !strings.HasPrefix(source[i:], name) {
		return source
	}
	i += len(name)
	for i < len(source) && isSpaceByte(source[i]) {
		i++
	}
	if !strings.HasPrefix(source[i:], args) {
		return source
	}
	return source[:i] + repl + source[i+len(args):]
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// unknownFilter returns the first filter name in toks that the engine does
// not define, or "".
func (e *engine) unknownFilter(toks []token) string {
	for i := 0; i+1 < len(toks); i++ {
		if toks[i].is("|") && (toks[i+1].kind == tIdent || toks[i+1].kind == tKeyword) && !e.filters[toks[i+1].text] {
			return toks[i+1].text
		}
	}
	return ""
}

// instrument rewires the compiled tree: {{ }} nodes become our own, loop
// bodies spend the iteration budget, captures are counted.
func (e *engine) instrument(n render.Node) error {
	switch n := n.(type) {
	case *render.SeqNode:
		return e.instrumentSeq(n.Children)
	case *render.BlockNode:
		return e.instrumentBlock(n)
	}
	return nil
}

// instrumentSeq replaces nodes in place: some block renderers hold a copy
// of their node taken at compile time, which shares the slice's array but
// would not see a new slice.
func (e *engine) instrumentSeq(nodes []render.Node) error {
	for i, n := range nodes {
		switch n := n.(type) {
		case *render.ObjectNode:
			node, err := e.objectNode(n)
			if err != nil {
				return err
			}
			nodes[i] = node
		case *render.SeqNode:
			if err := e.instrumentSeq(n.Children); err != nil {
				return err
			}
		case *render.BlockNode:
			if err := e.instrumentBlock(n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *engine) instrumentBlock(n *render.BlockNode) error {
	if err := e.instrumentSeq(n.Body); err != nil {
		return err
	}
	for _, c := range n.Clauses {
		if err := e.instrumentSeq(c.Body); err != nil {
			return err
		}
	}
	// for, tablerow and capture render their body through the node itself
	// (RenderChildren), so a new Body slice is seen.
	switch n.Name {
	case "for", "tablerow":
		tick, err := e.synthetic(n.SourceLoc, e.tick)
		if err != nil {
			return err
		}
		n.Body = append([]render.Node{tick}, n.Body...)
	case "capture":
		wrapped, err := e.synthetic(n.SourceLoc, e.captureRenderer(n.Body))
		if err != nil {
			return err
		}
		n.Body = []render.Node{wrapped}
	}
	return nil
}

// synthetic makes a tag node that runs fn, located at loc for errors. The
// engine offers no other way to build a node; e.mu is held.
func (e *engine) synthetic(loc parser.SourceLoc, fn func(io.Writer, render.Context) error) (render.Node, error) {
	e.pending = fn
	defer func() { e.pending = nil }()
	root, err := e.cfg.Compile("{% "+nodeTag+" %}", loc)
	if err != nil {
		return nil, err
	}
	seq, ok := root.(*render.SeqNode)
	if !ok || len(seq.Children) != 1 {
		return nil, errors.New("unexpected synthetic node")
	}
	return seq.Children[0], nil
}

// renderState is what one Render (all of an Action's templates) may still
// spend.
type renderState struct {
	deadline time.Time
	timeout  time.Duration
	iterLeft int
	maxIter  int
	ops      uint32
	err      error // the first limit hit; sticky, since the engine may panic on it
}

func (e *engine) newState() *renderState {
	return &renderState{deadline: time.Now().Add(e.timeout), timeout: e.timeout, iterLeft: e.maxIter, maxIter: e.maxIter}
}

// fail records the first limit error and returns it.
func (s *renderState) fail(err error) error {
	if s.err == nil {
		s.err = err
	}
	return s.err
}

// step counts one unit of work and checks the deadline every 32 units, so
// the clock is read rarely.
func (s *renderState) step() error {
	if s.err != nil {
		return s.err
	}
	s.ops++
	if s.ops&31 == 0 && time.Now().After(s.deadline) {
		return s.fail(fmt.Errorf("%w: rendering took longer than %v", ErrLimitExceeded, s.timeout))
	}
	return nil
}

func stateOf(ctx render.Context) (*renderState, error) {
	st, ok := ctx.Get(stateKey).(*renderState)
	if !ok {
		return nil, errors.New("render state missing")
	}
	return st, nil
}

// tick starts every loop iteration.
func (e *engine) tick(_ io.Writer, ctx render.Context) error {
	st, err := stateOf(ctx)
	if err != nil {
		return err
	}
	st.iterLeft--
	if st.iterLeft < 0 {
		return st.fail(fmt.Errorf("%w: more than %d loop iterations", ErrLimitExceeded, st.maxIter))
	}
	return st.step()
}

func (e *engine) outputLimit() error {
	return fmt.Errorf("%w: output larger than %d bytes", ErrLimitExceeded, e.maxOutput)
}

func (e *engine) valueLimit(what string, n int) error {
	return fmt.Errorf("%w: %s larger than %d", ErrLimitExceeded, what, n)
}

// captureRenderer renders a capture's body through a counting writer, so a
// captured string is bounded like the output.
func (e *engine) captureRenderer(body []render.Node) func(io.Writer, render.Context) error {
	block := &render.BlockNode{Body: body}
	return func(w io.Writer, ctx render.Context) error {
		st, err := stateOf(ctx)
		if err != nil {
			return err
		}
		return ctx.RenderBlock(&countingWriter{w: w, max: e.maxOutput, st: st, eng: e}, block)
	}
}

// countingWriter passes writes on while they fit under max.
type countingWriter struct {
	w   io.Writer
	n   int
	max int
	st  *renderState
	eng *engine
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if len(p) > c.max-c.n {
		return 0, c.st.fail(c.eng.outputLimit())
	}
	if err := c.st.step(); err != nil {
		return 0, err
	}
	c.n += len(p)
	return c.w.Write(p)
}

// outWriter collects one template's output up to max bytes.
type outWriter struct {
	buf []byte
	max int
	st  *renderState
	eng *engine
}

func (w *outWriter) Write(p []byte) (int, error) {
	if len(p) > w.max-len(w.buf) {
		return 0, w.st.fail(w.eng.outputLimit())
	}
	if err := w.st.step(); err != nil {
		return 0, err
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// execute renders t into w.buf. Every failure, panics included, comes back
// as a *TemplateError.
func (t *tmpl) execute(st *renderState, bindings map[string]any, w *outWriter) (err error) {
	if t.static {
		if len(t.literal) > w.max-len(w.buf) {
			return &TemplateError{Field: t.field, Err: t.eng.outputLimit()}
		}
		w.buf = append(w.buf, t.literal...)
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			if st.err != nil {
				err = &TemplateError{Field: t.field, Err: st.err}
				return
			}
			if re, ok := r.(interface{ Cause() error }); ok && re.Cause() != nil {
				r = re.Cause()
			}
			err = &TemplateError{Field: t.field, Err: fmt.Errorf("%w: %v", ErrTemplate, r)}
		}
	}()
	if rerr := render.Render(t.root, w, bindings, t.eng.cfg); rerr != nil {
		return t.renderError(st, rerr)
	}
	if st.err != nil {
		return &TemplateError{Field: t.field, Err: st.err}
	}
	return nil
}

// renderError turns an engine error into a *TemplateError whose cause
// matches one of this file's sentinels.
func (t *tmpl) renderError(st *renderState, rerr render.Error) error {
	te := &TemplateError{Field: t.field, Line: rerr.LineNumber()}
	cause := rerr.Cause()
	var fe expressions.FilterError
	switch {
	case st.err != nil:
		te.Err = st.err
	case errors.As(cause, &fe):
		if isOurs(fe.Err) {
			te.Err = fe.Err
		} else {
			te.Err = fmt.Errorf("%w: filter %s: %v", ErrTemplate, fe.FilterName, fe.Err)
		}
	case isOurs(cause):
		te.Err = cause
	default:
		te.Err = fmt.Errorf("%w: %s", ErrTemplate, engineMessage(rerr, t.field))
	}
	return te
}

func isOurs(err error) bool {
	return errors.Is(err, ErrMissingVariable) || errors.Is(err, ErrLimitExceeded) || errors.Is(err, ErrTemplate)
}

// bindings returns the variables for one render: data, plus extra (such as
// response), plus the render state. data itself is never modified.
func bindings(data map[string]any, st *renderState, extraName string, extra any) map[string]any {
	b := make(map[string]any, len(data)+2)
	for k, v := range data {
		b[k] = v
	}
	if extraName != "" {
		b[extraName] = extra
	}
	b[stateKey] = st
	return b
}

// ---- {{ }} and assign: strictness and printing ----

// objectNode replaces a {{ }} node with one that applies the dialect.
func (e *engine) objectNode(n *render.ObjectNode) (render.Node, error) {
	plan, err := e.planExpr(n.Args)
	if err != nil {
		return nil, err
	}
	return e.synthetic(n.SourceLoc, e.objectRenderer(plan))
}

// exprPlan is an expression with what strictness needs to know about it.
type exprPlan struct {
	expr   expressions.Expression
	chain  *chain     // non-nil when we can evaluate it ourselves
	checks []*varPath // paths that must exist (strict mode) when the engine evaluates
}

func (e *engine) planExpr(src string) (*exprPlan, error) {
	expr, err := expressions.Parse(src)
	if err != nil {
		return nil, err
	}
	p := &exprPlan{expr: expr}
	toks, ok := lexExpr(src)
	if !ok {
		return p, nil
	}
	parts := splitTop(toks, "|")
	p.checks = strictPaths(parts)
	p.chain = planChain(parts)
	return p, nil
}

// chain is an expression evaluated without the engine: a path or a
// literal followed by filters from directFilters whose arguments are paths
// or literals. Most {{ }} in webhook templates are of this form, and the
// engine's reflective filter calls cost more than the rest of a render.
type chain struct {
	head    operand
	filters []chainFilter
}

type operand struct {
	path      *varPath // nil for a literal
	value     any
	tolerated bool // a later default filter stands in for it when missing
}

type chainFilter struct {
	name       string
	fn         directFilter
	args       [2]operand
	nargs      int
	allowFalse bool
}

// directFilter is a filter with at most two positional arguments.
type directFilter func(e *engine, in, a, b any, allowFalse bool) (any, error)

type directSpec struct {
	min, max int
	fn       directFilter
}

func unary(f func(e *engine, in any) (any, error)) directFilter {
	return func(e *engine, in, _, _ any, _ bool) (any, error) { return f(e, in) }
}

func binary(f func(e *engine, in, a any) (any, error)) directFilter {
	return func(e *engine, in, a, _ any, _ bool) (any, error) { return f(e, in, a) }
}

func textFilter(f func(string) string) directFilter {
	return func(e *engine, in, _, _ any, _ bool) (any, error) {
		s, err := e.text(in)
		if err != nil {
			return nil, err
		}
		out := f(s)
		if len(out) > e.maxOutput {
			return nil, e.outputLimit()
		}
		return out, nil
	}
}

// directFilters are the filters a chain may call. Each matches the filter
// of the same name that the engine would call.
var directFilters = map[string]directSpec{
	"date":          {0, 1, binary((*engine).dateFilter)},
	"json":          {0, 0, unary((*engine).jsonFilter)},
	"append":        {1, 1, binary(func(e *engine, in, a any) (any, error) { return e.concatText(false)(in, a) })},
	"prepend":       {1, 1, binary(func(e *engine, in, a any) (any, error) { return e.concatText(true)(in, a) })},
	"replace":       {2, 2, func(e *engine, in, a, b any, _ bool) (any, error) { return e.replaceFilter(-1)(in, a, b) }},
	"replace_first": {2, 2, func(e *engine, in, a, b any, _ bool) (any, error) { return e.replaceFilter(1)(in, a, b) }},
	"replace_last":  {2, 2, func(e *engine, in, a, b any, _ bool) (any, error) { return e.replaceLastFilter(in, a, b) }},
	"join":          {0, 1, binary((*engine).joinFilter)},
	"url_encode":    {0, 0, textFilter(url.QueryEscape)},
	"url_decode":    {0, 0, textFilter(lenientUnescape)},
	"upcase":        {0, 0, textFilter(strings.ToUpper)},
	"downcase":      {0, 0, textFilter(strings.ToLower)},
	"strip":         {0, 0, textFilter(strings.TrimSpace)},
	"default": {1, 1, func(_ *engine, in, d, _ any, allowFalse bool) (any, error) {
		if allowFalse {
			if in == nil || isEmpty(in) {
				return d, nil
			}
			return in, nil
		}
		if in == nil || in == false || isEmpty(in) {
			return d, nil
		}
		return in, nil
	}},
}

// planChain returns the chain for an expression's parts, or nil if the
// engine must evaluate it.
func planChain(parts [][]token) *chain {
	tolerated := 0
	for i := 1; i < len(parts); i++ {
		if len(parts[i]) > 0 && parts[i][0].text == "default" {
			tolerated = i
			break
		}
	}
	head, ok := planOperand(parts[0])
	if !ok {
		return nil
	}
	head.tolerated = tolerated > 0
	c := &chain{head: head}
	for i := 1; i < len(parts); i++ {
		part := parts[i]
		if len(part) == 0 {
			return nil
		}
		spec, ok := directFilters[part[0].text]
		if !ok {
			return nil
		}
		f := chainFilter{name: part[0].text, fn: spec.fn}
		if part[0].kind == tKeyword {
			for _, arg := range splitTop(part[1:], ",") {
				if len(arg) == 2 && arg[0].kind == tKeyword && arg[0].text == "allow_false" && f.name == "default" && arg[1].kind == tIdent && (arg[1].text == "true" || arg[1].text == "false") {
					f.allowFalse = arg[1].text == "true"
					continue
				}
				op, ok := planOperand(arg)
				if !ok || f.nargs == len(f.args) {
					return nil
				}
				op.tolerated = i < tolerated
				f.args[f.nargs] = op
				f.nargs++
			}
		} else if len(part) != 1 {
			return nil
		}
		if f.nargs < spec.min || f.nargs > spec.max {
			return nil // let the engine report it
		}
		c.filters = append(c.filters, f)
	}
	return c
}

// planOperand reads toks as a path or a literal.
func planOperand(toks []token) (operand, bool) {
	if vp, ok := parsePath(toks); ok {
		return operand{path: vp}, true
	}
	if len(toks) != 1 {
		return operand{}, false
	}
	t := toks[0]
	switch t.kind {
	case tString:
		return operand{value: t.text}, true
	case tNumber:
		if n, err := strconv.ParseInt(t.text, 10, strconv.IntSize); err == nil {
			return operand{value: int(n)}, true
		}
		if f, err := strconv.ParseFloat(t.text, 64); err == nil {
			return operand{value: f}, true
		}
	case tIdent:
		switch t.text {
		case "true", "false":
			return operand{value: t.text == "true"}, true
		case "nil":
			return operand{}, true
		}
	}
	return operand{}, false
}

// evalChain evaluates c over b; pathUnknown means the engine must.
func (e *engine) evalChain(b map[string]any, c *chain) (any, lookupResult, error) {
	v, res, err := e.operandValue(b, &c.head)
	if res != pathFound {
		return nil, res, err
	}
	for i := range c.filters {
		f := &c.filters[i]
		var args [2]any
		for j := range f.nargs {
			if args[j], res, err = e.operandValue(b, &f.args[j]); res != pathFound {
				return nil, res, err
			}
		}
		if v, err = f.fn(e, v, args[0], args[1], f.allowFalse); err != nil {
			if !isOurs(err) {
				err = fmt.Errorf("%w: filter %s: %v", ErrTemplate, f.name, err)
			}
			return nil, pathFound, err
		}
	}
	return v, pathFound, nil
}

// operandValue resolves an operand. A missing path is nil where a default
// stands in for it or in lax mode, and an error otherwise (reported with
// pathMissing).
func (e *engine) operandValue(b map[string]any, o *operand) (any, lookupResult, error) {
	if o.path == nil {
		return o.value, pathFound, nil
	}
	v, res := lookupPath(b, o.path)
	switch res {
	case pathFound:
		return values.ToLiquid(v), pathFound, nil
	case pathMissing:
		if o.tolerated || e.lax {
			return nil, pathFound, nil
		}
		return nil, pathMissing, missingError(o.path)
	}
	return nil, pathUnknown, nil
}

// strictPaths lists the paths a filtered expression must find: its head
// and the filters' arguments, except those that come before a default
// filter, which exists to stand in for them.
func strictPaths(parts [][]token) []*varPath {
	tolerated := 0 // parts [0, tolerated) are stood in for by a default
	for i := 1; i < len(parts); i++ {
		if len(parts[i]) > 0 && parts[i][0].text == "default" {
			tolerated = i
			break
		}
	}
	var out []*varPath
	if tolerated == 0 {
		if vp, ok := parsePath(parts[0]); ok {
			out = append(out, vp)
		}
	}
	for i := max(1, tolerated); i < len(parts); i++ {
		if len(parts[i]) < 2 || parts[i][0].kind != tKeyword {
			continue
		}
		for _, arg := range splitTop(parts[i][1:], ",") {
			if len(arg) > 0 && arg[0].kind == tKeyword {
				arg = arg[1:] // a named argument such as allow_false: true
			}
			if vp, ok := parsePath(arg); ok {
				out = append(out, vp)
			}
		}
	}
	return out
}

func missingError(p *varPath) error {
	return fmt.Errorf("%w %s", ErrMissingVariable, p.text)
}

func (e *engine) objectRenderer(p *exprPlan) func(io.Writer, render.Context) error {
	return func(w io.Writer, ctx render.Context) error {
		b := ctx.Bindings()
		if p.chain != nil {
			v, res, err := e.evalChain(b, p.chain)
			if err != nil {
				return err
			}
			if res == pathFound {
				return e.writeOutput(w, v)
			}
		}
		if !e.lax {
			for _, c := range p.checks {
				if _, found := lookupPath(b, c); found == pathMissing {
					return missingError(c)
				}
			}
		}
		v, err := ctx.Evaluate(p.expr)
		if err != nil {
			return err
		}
		return e.writeOutput(w, v)
	}
}

// assignTag wraps the standard assign: the assigned value's paths must
// exist, and each assign counts as work for the deadline.
func (e *engine) assignTag(orig render.TagCompiler) render.TagCompiler {
	return func(args string) (func(io.Writer, render.Context) error, error) {
		fn, err := orig(args)
		if err != nil {
			return nil, err
		}
		var checks []*varPath
		if toks, ok := lexExpr(args); ok && len(toks) > 2 && toks[1].is("=") {
			checks = strictPaths(splitTop(toks[2:], "|"))
		}
		return func(w io.Writer, ctx render.Context) error {
			st, err := stateOf(ctx)
			if err != nil {
				return err
			}
			if err := st.step(); err != nil {
				return err
			}
			if !e.lax {
				b := ctx.Bindings()
				for _, c := range checks {
					if _, found := lookupPath(b, c); found == pathMissing {
						return missingError(c)
					}
				}
			}
			return fn(w, ctx)
		}, nil
	}
}

// varPath is a variable with static properties and indexes:
// customer.address.city, event.items[0].name, customer["first name"].
type varPath struct {
	text string
	segs []pathSeg
}

type segKind uint8

const (
	segProp  segKind = iota // .name (and the variable itself)
	segIndex                // [3]
	segKey                  // ["name"]
)

type pathSeg struct {
	kind  segKind
	name  string
	index int
}

// lookupResult says what lookupPath found.
type lookupResult uint8

const (
	pathUnknown lookupResult = iota // a value the engine resolves in ways we do not mirror
	pathFound
	pathMissing
)

// lookupPath resolves p in b the way the engine does, but tells a missing
// key from a null value.
func lookupPath(b map[string]any, p *varPath) (any, lookupResult) {
	v, ok := b[p.segs[0].name]
	if !ok {
		return nil, pathMissing
	}
	for _, s := range p.segs[1:] {
		v = values.ToLiquid(v)
		var found lookupResult
		v, found = stepInto(v, s)
		if found != pathFound {
			return nil, found
		}
	}
	return v, pathFound
}

func stepInto(v any, s pathSeg) (any, lookupResult) {
	switch x := v.(type) {
	case map[string]any:
		switch s.kind {
		case segProp, segKey:
			if e, ok := x[s.name]; ok {
				return e, pathFound
			}
			if s.kind == segProp && s.name == "size" {
				return len(x), pathFound
			}
			return nil, pathMissing
		}
		return nil, pathUnknown // an integer index on a map: the engine converts it oddly
	case []any:
		return stepItems(x, s)
	case string:
		return stepText(len(x), s)
	case json.Number: // the engine treats it as text
		return stepText(len(x), s)
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return nil, pathMissing
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String || s.kind == segIndex {
			return nil, pathUnknown
		}
		if e := rv.MapIndex(reflect.ValueOf(s.name).Convert(rv.Type().Key())); e.IsValid() {
			return e.Interface(), pathFound
		}
		if s.kind == segProp && s.name == "size" {
			return rv.Len(), pathFound
		}
		return nil, pathMissing
	case reflect.Slice, reflect.Array:
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return stepItems(items, s)
	case reflect.String:
		return stepText(rv.Len(), s)
	}
	return nil, pathUnknown
}

// stepText: text has a size (in bytes, as the engine counts) and nothing
// else.
func stepText(n int, s pathSeg) (any, lookupResult) {
	if s.kind == segProp && s.name == "size" {
		return n, pathFound
	}
	return nil, pathMissing
}

// stepItems: an array has first, last, size and integer indexes
// (negative ones count from the end).
func stepItems(items []any, s pathSeg) (any, lookupResult) {
	n := len(items)
	switch s.kind {
	case segProp:
		switch s.name {
		case "size":
			return n, pathFound
		case "first":
			if n == 0 {
				return nil, pathFound
			}
			return items[0], pathFound
		case "last":
			if n == 0 {
				return nil, pathFound
			}
			return items[n-1], pathFound
		}
	case segIndex:
		i := s.index
		if i < 0 {
			i += n
		}
		if 0 <= i && i < n {
			return items[i], pathFound
		}
	}
	return nil, pathMissing
}

// parsePath reads toks as a static variable path, or reports false.
func parsePath(toks []token) (*varPath, bool) {
	if len(toks) == 0 || toks[0].kind != tIdent || reserved[toks[0].text] {
		return nil, false
	}
	p := &varPath{segs: []pathSeg{{kind: segProp, name: toks[0].text}}}
	var text strings.Builder
	text.WriteString(toks[0].text)
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == tProp:
			p.segs = append(p.segs, pathSeg{kind: segProp, name: t.text})
			text.WriteString(".")
			text.WriteString(t.text)
		case t.is("[") && i+2 < len(toks) && toks[i+2].is("]"):
			in := toks[i+1]
			switch {
			case in.kind == tString:
				p.segs = append(p.segs, pathSeg{kind: segKey, name: in.text})
				text.WriteString("[" + strconv.Quote(in.text) + "]")
			case in.kind == tNumber && !strings.Contains(in.text, "."):
				n, err := strconv.Atoi(in.text)
				if err != nil {
					return nil, false
				}
				p.segs = append(p.segs, pathSeg{kind: segIndex, index: n})
				text.WriteString("[" + in.text + "]")
			default:
				return nil, false
			}
			i += 2
		default:
			return nil, false
		}
	}
	p.text = text.String()
	return p, true
}

// reserved are the words the expression lexer does not read as variables.
var reserved = map[string]bool{"and": true, "or": true, "contains": true, "in": true, "true": true, "false": true, "nil": true}

// ---- a small lexer for Liquid expressions, mirroring the engine's ----

type tokKind uint8

const (
	tIdent   tokKind = iota + 1 // name, name-with-dashes, name?
	tProp                       // .name (text without the dot)
	tKeyword                    // name: (text without the colon)
	tString                     // "..." or '...' (text unquoted)
	tNumber                     // -12, 3.5
	tOp                         // == != >= <= < >
	tPunct                      // | , : [ ] ( ) .. =
)

type token struct {
	kind       tokKind
	text       string
	start, end int // byte offsets in the source
}

func (t token) is(p string) bool { return (t.kind == tPunct || t.kind == tOp) && t.text == p }

// lexExpr splits an expression into tokens, or reports false for input the
// analysis should not touch (the engine then reports any error itself).
func lexExpr(s string) ([]token, bool) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		start := i
		switch {
		case isSpaceByte(c):
			i++
			continue
		case c == '"':
			var b strings.Builder
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					switch s[i] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					case '"', '\\':
						b.WriteByte(s[i])
					default:
						b.WriteByte('\\')
						b.WriteByte(s[i])
					}
					i++
					continue
				}
				b.WriteByte(s[i])
				i++
			}
			if i >= len(s) {
				return nil, false
			}
			i++
			toks = append(toks, token{tString, b.String(), start, i})
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, false
			}
			i += j + 2
			toks = append(toks, token{tString, s[start+1 : i-1], start, i})
		case isDigit(c) || (c == '-' && i+1 < len(s) && isDigit(s[i+1])):
			i++
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
				i++
				for i < len(s) && isDigit(s[i]) {
					i++
				}
			}
			toks = append(toks, token{tNumber, s[start:i], start, i})
		case c == '.' && i+1 < len(s) && s[i+1] == '.':
			i += 2
			toks = append(toks, token{tPunct, "..", start, i})
		case c == '.' && i+1 < len(s) && isIdentStart(s[i+1]):
			i = scanIdent(s, i+1)
			toks = append(toks, token{tProp, s[start+1 : i], start, i})
		case isIdentStart(c):
			i = scanIdent(s, i)
			if i < len(s) && s[i] == ':' {
				toks = append(toks, token{tKeyword, s[start:i], start, i + 1})
				i++
			} else {
				toks = append(toks, token{tIdent, s[start:i], start, i})
			}
		case (c == '=' || c == '!' || c == '<' || c == '>') && i+1 < len(s) && s[i+1] == '=':
			i += 2
			toks = append(toks, token{tOp, s[start:i], start, i})
		case c == '<' || c == '>':
			i++
			toks = append(toks, token{tOp, s[start:i], start, i})
		default:
			i++
			toks = append(toks, token{tPunct, s[start:i], start, i})
		}
	}
	return toks, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool {
	return c == '_' || c >= 0x80 || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func scanIdent(s string, i int) int {
	for i < len(s) && (isIdentStart(s[i]) || isDigit(s[i]) || s[i] == '-') {
		i++
	}
	if i < len(s) && s[i] == '?' {
		i++
	}
	return i
}

// splitTop splits toks at sep outside brackets and parentheses.
func splitTop(toks []token, sep string) [][]token {
	var parts [][]token
	depth, from := 0, 0
	for i, t := range toks {
		switch {
		case t.is("(") || t.is("["):
			depth++
		case t.is(")") || t.is("]"):
			depth--
		case depth == 0 && t.is(sep):
			parts = append(parts, toks[from:i])
			from = i + 1
		}
	}
	return append(parts, toks[from:])
}

// rewriteBlank turns comparisons with blank and empty, which the engine
// reads as undefined variables, into the dialect's filters:
// "x == blank" becomes "(x | __blank)", "x != empty" "(x | __not_empty)".
func rewriteBlank(src string, toks []token) string {
	type edit struct {
		from, to int
		text     string
	}
	var edits []edit
	isWord := func(i int) bool {
		return i >= 0 && i < len(toks) && toks[i].kind == tIdent && (toks[i].text == "blank" || toks[i].text == "empty")
	}
	bare := func(i int) bool { // not followed by .prop or [index]
		return i+1 >= len(toks) || (toks[i+1].kind != tProp && !toks[i+1].is("["))
	}
	for i, t := range toks {
		if t.kind != tOp || (t.text != "==" && t.text != "!=") {
			continue
		}
		var word string
		var from, to int // operand token range
		switch {
		case isWord(i+1) && bare(i+1):
			word = toks[i+1].text
			from, to = operandBefore(toks, i-1), i-1
			if from < 0 {
				continue
			}
			edits = append(edits, edit{toks[from].start, toks[i+1].end, ""})
		case isWord(i-1) && (i-2 < 0 || !toks[i-2].is("[")):
			word = toks[i-1].text
			from, to = i+1, operandAfter(toks, i+1)
			if to < 0 {
				continue
			}
			edits = append(edits, edit{toks[i-1].start, toks[to].end, ""})
		default:
			continue
		}
		filter := "__" + word
		if t.text == "!=" {
			filter = "__not_" + word
		}
		edits[len(edits)-1].text = "(" + src[toks[from].start:toks[to].end] + " | " + filter + ")"
	}
	if len(edits) == 0 {
		return src
	}
	var b strings.Builder
	last := 0
	for _, ed := range edits {
		if ed.from < last {
			return src // overlapping: leave the expression alone
		}
		b.WriteString(src[last:ed.from])
		b.WriteString(ed.text)
		last = ed.to
	}
	b.WriteString(src[last:])
	return b.String()
}

// operandBefore returns the first token of the postfix expression ending at
// end, or -1.
func operandBefore(toks []token, end int) int {
	k := end
	for k >= 0 {
		t := toks[k]
		switch {
		case t.kind == tProp:
			k--
		case t.is("]"):
			k = matchBack(toks, k, "[", "]")
			if k <= 0 {
				return -1
			}
			k--
		case t.is(")"):
			return matchBack(toks, k, "(", ")")
		case t.kind == tString || t.kind == tNumber || (t.kind == tIdent && !reserved[t.text]) || (t.kind == tIdent && (t.text == "true" || t.text == "false" || t.text == "nil")):
			return k
		default:
			return -1
		}
	}
	return -1
}

// operandAfter returns the last token of the postfix expression starting at
// start, or -1.
func operandAfter(toks []token, start int) int {
	if start >= len(toks) {
		return -1
	}
	k := start
	switch t := toks[k]; {
	case t.is("("):
		k = matchFwd(toks, k, "(", ")")
		if k < 0 {
			return -1
		}
	case t.kind == tString || t.kind == tNumber || (t.kind == tIdent && (!reserved[t.text] || t.text == "true" || t.text == "false" || t.text == "nil")):
	default:
		return -1
	}
	for k+1 < len(toks) {
		switch t := toks[k+1]; {
		case t.kind == tProp:
			k++
		case t.is("["):
			k = matchFwd(toks, k+1, "[", "]")
			if k < 0 {
				return -1
			}
		default:
			return k
		}
	}
	return k
}

func matchBack(toks []token, k int, open, close string) int {
	depth := 0
	for ; k >= 0; k-- {
		switch {
		case toks[k].is(close):
			depth++
		case toks[k].is(open):
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

func matchFwd(toks []token, k int, open, close string) int {
	depth := 0
	for ; k < len(toks); k++ {
		switch {
		case toks[k].is(open):
			depth++
		case toks[k].is(close):
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

// rewriteFor adds the __for filter to a loop's collection so that objects
// are iterated in key order: "item in coll limit: 2" becomes
// "item in coll | __for limit: 2".
func rewriteFor(src string, toks []token) string {
	if len(toks) < 3 || toks[0].kind != tIdent || toks[1].kind != tIdent || toks[1].text != "in" {
		return src
	}
	end := len(src)
	depth := 0
	for k := 2; k < len(toks); k++ {
		t := toks[k]
		switch {
		case t.is("(") || t.is("["):
			depth++
			continue
		case t.is(")") || t.is("]"):
			depth--
			continue
		}
		if depth != 0 || k == 2 {
			continue
		}
		prev := toks[k-1]
		afterOperand := !(prev.is("|") || prev.is(",") || prev.is(":") || prev.kind == tKeyword || prev.kind == tOp || prev.is("(") || prev.is("[") || prev.is(".."))
		isModifier := (t.kind == tKeyword && (t.text == "limit" || t.text == "offset" || t.text == "cols") && !prev.is("|")) ||
			(t.kind == tIdent && t.text == "reversed" && afterOperand)
		if isModifier {
			end = t.start
			break
		}
	}
	head := strings.TrimRight(src[:end], " \t\r\n")
	return head + " | __for " + src[end:]
}

// ---- printing ----

// maxDepth bounds nesting when printing or encoding a value, so cyclic Go
// data fails instead of exhausting the stack.
const maxDepth = 1000

var errTooDeep = fmt.Errorf("%w: value nested more than %d levels deep", ErrLimitExceeded, maxDepth)

// writeOutput prints v as {{ }} does: strings as they are, numbers exactly,
// arrays as their elements' text run together, objects in Ruby hash style.
func (e *engine) writeOutput(w io.Writer, v any) error {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		_, err := io.WriteString(w, x)
		return err
	}
	b, err := e.appendOutput(nil, v, 0)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (e *engine) appendOutput(b []byte, v any, depth int) ([]byte, error) {
	v = values.ToLiquid(v)
	if depth > maxDepth {
		return b, errTooDeep
	}
	switch x := v.(type) {
	case []any:
		var err error
		for _, item := range x {
			if b, err = e.appendOutput(b, item, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case string, []byte, nil, map[string]any:
		return e.appendText(b, v, depth)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		var err error
		for i := range rv.Len() {
			if b, err = e.appendOutput(b, rv.Index(i).Interface(), depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	return e.appendText(b, v, depth)
}

// text converts v to a string as Ruby's to_s does, for filters.
func (e *engine) text(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := e.appendText(nil, v, 0)
	return string(b), err
}

// appendText appends Ruby's to_s of v: nil is empty, collections inspect.
func (e *engine) appendText(b []byte, v any, depth int) ([]byte, error) {
	v = values.ToLiquid(v)
	switch x := v.(type) {
	case nil:
		return b, nil
	case string:
		return e.appendBounded(b, x)
	case []byte:
		return e.appendBounded(b, string(x))
	case json.Number:
		return append(b, x...), nil
	case time.Time:
		return x.UTC().AppendFormat(b, "2006-01-02 15:04:05 -0700"), nil
	case values.Range:
		return appendRange(b, x), nil
	}
	if nb, ok := appendScalar(b, v); ok {
		return nb, nil
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Map, reflect.Slice, reflect.Array:
		return e.appendInspect(b, v, depth)
	case reflect.Pointer:
		rv := reflect.ValueOf(v)
		if rv.IsNil() {
			return b, nil
		}
		return e.appendText(b, rv.Elem().Interface(), depth+1)
	}
	return e.appendBounded(b, fmt.Sprint(v))
}

func (e *engine) appendBounded(b []byte, s string) ([]byte, error) {
	if len(s) > e.maxOutput-len(b) {
		return b, e.outputLimit()
	}
	return append(b, s...), nil
}

func appendRange(b []byte, r values.Range) []byte {
	first, _ := r.Index(0).(int)
	b = strconv.AppendInt(b, int64(first), 10)
	b = append(b, ".."...)
	return strconv.AppendInt(b, int64(first+r.Len()-1), 10)
}

// appendScalar appends booleans and numbers; floats print exactly in plain
// decimal (1700000000, not 1.7e+09).
func appendScalar(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case bool:
		return strconv.AppendBool(b, x), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int8:
		return strconv.AppendInt(b, int64(x), 10), true
	case int16:
		return strconv.AppendInt(b, int64(x), 10), true
	case int32:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(b, x, 10), true
	case float32:
		return appendFloat(b, float64(x), 32), true
	case float64:
		return appendFloat(b, x, 64), true
	}
	return b, false
}

func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	return strconv.AppendFloat(b, f, 'f', -1, bits)
}

// appendInspect appends v the way Customer.io prints an object: Ruby's
// inspect, {"id"=>"1", "tags"=>["a", "b"], "n"=>nil}, keys sorted so the
// output is deterministic. Times print as quoted strings so the
// replace: "=>", ":" idiom still yields JSON.
func (e *engine) appendInspect(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, errTooDeep
	}
	if len(b) > e.maxOutput {
		return b, e.outputLimit()
	}
	v = values.ToLiquid(v)
	switch x := v.(type) {
	case nil:
		return append(b, "nil"...), nil
	case string:
		return appendRubyString(b, x), nil
	case []byte:
		return appendRubyString(b, string(x)), nil
	case json.Number:
		return append(b, x...), nil
	case time.Time:
		return appendRubyString(b, x.UTC().Format("2006-01-02 15:04:05 -0700")), nil
	case values.Range:
		return appendRange(b, x), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendRubyString(b, k)
			b = append(b, "=>"...)
			if b, err = e.appendInspect(b, x[k], depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		var err error
		for i, item := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			if b, err = e.appendInspect(b, item, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	if nb, ok := appendScalar(b, v); ok {
		return nb, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		m := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			k, err := e.text(iter.Key().Interface())
			if err != nil {
				return b, err
			}
			m[k] = iter.Value().Interface()
		}
		return e.appendInspect(b, m, depth)
	case reflect.Slice, reflect.Array:
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return e.appendInspect(b, items, depth)
	case reflect.Pointer:
		if rv.IsNil() {
			return append(b, "nil"...), nil
		}
		return e.appendInspect(b, rv.Elem().Interface(), depth+1)
	}
	return appendRubyString(b, fmt.Sprint(v)), nil
}

// appendRubyString appends s quoted and escaped as Ruby's String#inspect
// does for UTF-8 text.
func appendRubyString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\x`...)
			b = append(b, strings.ToUpper(hex.EncodeToString([]byte{s[i]}))...)
			i++
			continue
		}
		switch r {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\t':
			b = append(b, `\t`...)
		case '\r':
			b = append(b, `\r`...)
		case '\f':
			b = append(b, `\f`...)
		case '\v':
			b = append(b, `\v`...)
		case '\b':
			b = append(b, `\b`...)
		case '\a':
			b = append(b, `\a`...)
		case 0x1b:
			b = append(b, `\e`...)
		case '#':
			if i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '$' || s[i+1] == '@') {
				b = append(b, '\\')
			}
			b = append(b, '#')
		default:
			switch {
			case unicode.IsPrint(r):
				b = append(b, s[i:i+size]...)
			case r < 0x10000:
				b = fmt.Appendf(b, `\u%04X`, r)
			default:
				b = fmt.Appendf(b, `\u{%X}`, r)
			}
		}
		i += size
	}
	return append(b, '"')
}

// appendJSON appends v as JSON: keys sorted, no HTML escaping, numbers
// exact, times as RFC 3339 strings in UTC. NaN and infinities have no JSON
// form and are an error.
func (e *engine) appendJSON(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, errTooDeep
	}
	if len(b) > e.maxOutput {
		return b, e.outputLimit()
	}
	v = values.ToLiquid(v)
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case []byte:
		return appendJSONString(b, string(x)), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case json.Number:
		if !json.Valid([]byte(x)) {
			return appendJSONString(b, string(x)), nil
		}
		return append(b, x...), nil
	case float32, float64:
		f := reflect.ValueOf(x).Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, fmt.Errorf("%w: json: %v has no JSON form", ErrTemplate, f)
		}
		nb, _ := appendScalar(b, x)
		return nb, nil
	case time.Time:
		return appendJSONString(b, x.UTC().Format(time.RFC3339Nano)), nil
	case values.Range:
		if x.Len() > e.maxIter {
			return b, e.valueLimit("array", e.maxIter)
		}
		return e.appendJSON(b, x.AsArray(), depth)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			if b, err = e.appendJSON(b, x[k], depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		var err error
		for i, item := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = e.appendJSON(b, item, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	if nb, ok := appendScalar(b, v); ok {
		return nb, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		m := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			k, err := e.text(iter.Key().Interface())
			if err != nil {
				return b, err
			}
			m[k] = iter.Value().Interface()
		}
		return e.appendJSON(b, m, depth)
	case reflect.Slice, reflect.Array:
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return e.appendJSON(b, items, depth)
	case reflect.Pointer:
		if rv.IsNil() {
			return append(b, "null"...), nil
		}
		return e.appendJSON(b, rv.Elem().Interface(), depth+1)
	}
	// Structs and the like: let encoding/json apply their tags.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return b, fmt.Errorf("%w: json: %v", ErrTemplate, err)
	}
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...), nil
}

// appendJSONString quotes s for JSON. Unlike encoding/json it leaves <, >
// and & alone; like it, it escapes U+2028 and U+2029 and replaces invalid
// UTF-8 with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20:
				b = append(b, `\u00`...)
				b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = fmt.Appendf(b, `\u%04x`, r)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// ---- filters ----

var (
	anyType      = reflect.TypeFor[any]()
	anySliceType = reflect.TypeFor[[]any]()
	errorType    = reflect.TypeFor[error]()
)

// guard wraps a standard filter so that it cannot build a string or array
// beyond the limits, nor be handed a huge range (the engine would expand
// it into an array before the filter runs), and so that numbers passed
// where text is expected print exactly.
func (e *engine) guard(fn any) any {
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	if ft.IsVariadic() {
		return fn
	}
	in := make([]reflect.Type, ft.NumIn())
	conv := make([]reflect.Type, ft.NumIn())
	for i := range in {
		switch t := ft.In(i); t.Kind() {
		case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
			in[i], conv[i] = anyType, t
		default:
			in[i] = t
		}
	}
	wt := reflect.FuncOf(in, []reflect.Type{anyType, errorType}, false)
	fail := func(err error) []reflect.Value {
		return []reflect.Value{reflect.Zero(anyType), reflect.ValueOf(&err).Elem()}
	}
	return reflect.MakeFunc(wt, func(args []reflect.Value) []reflect.Value {
		call := make([]reflect.Value, len(args))
		for i, a := range args {
			switch {
			case conv[i] != nil:
				v, err := e.convertArg(a.Interface(), conv[i])
				if err != nil {
					return fail(err)
				}
				call[i] = v
				continue
			case in[i].Kind() == reflect.Interface:
				// The filter may expand a range itself (slice does).
				if err := e.checkValue(a.Interface()); err != nil {
					return fail(err)
				}
			}
			call[i] = a
		}
		out := fv.Call(call)
		if len(out) == 2 && !out[1].IsNil() {
			return fail(out[1].Interface().(error))
		}
		res := out[0].Interface()
		if err := e.checkValue(res); err != nil {
			return fail(err)
		}
		return []reflect.Value{reflect.ValueOf(&res).Elem(), reflect.Zero(errorType)}
	}).Interface()
}

// convertArg converts a filter argument to the type the filter declares,
// after checking its size.
func (e *engine) convertArg(v any, t reflect.Type) (reflect.Value, error) {
	v = values.ToLiquid(v)
	if v == nil {
		return reflect.Zero(t), nil
	}
	if t.Kind() == reflect.String {
		s, err := e.text(v)
		if err != nil {
			return reflect.Value{}, err
		}
		return reflect.ValueOf(s).Convert(t), nil
	}
	if err := e.checkValue(v); err != nil {
		return reflect.Value{}, err
	}
	if t == anySliceType {
		// Convert would convert each element to any, and fails on nil.
		if r, ok := v.(values.Range); ok {
			return reflect.ValueOf(r.AsArray()), nil
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
			if _, isBytes := v.([]byte); !isBytes {
				items := make([]any, rv.Len())
				for i := range items {
					items[i] = rv.Index(i).Interface()
				}
				return reflect.ValueOf(items), nil
			}
		}
	}
	out, err := values.Convert(v, t)
	if err != nil {
		return reflect.Value{}, err
	}
	return reflect.ValueOf(out), nil
}

// checkValue refuses strings above the output cap and arrays (ranges
// included) above the iteration budget.
func (e *engine) checkValue(v any) error {
	switch x := v.(type) {
	case string:
		if len(x) > e.maxOutput {
			return e.outputLimit()
		}
		return nil
	case values.Range:
		if x.Len() > e.maxIter {
			return e.valueLimit("range", e.maxIter)
		}
		return nil
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		if rv.Len() > e.maxIter {
			return e.valueLimit("array", e.maxIter)
		}
	}
	return nil
}

// dialectFilters are Customer.io's filters that the engine lacks or gets
// wrong for this dialect. Each checks its own sizes.
func (e *engine) dialectFilters() map[string]any {
	str := func(f func(string) (string, error)) func(any) (any, error) {
		return func(v any) (any, error) {
			s, err := e.text(v)
			if err != nil {
				return nil, err
			}
			out, err := f(s)
			if err != nil {
				return nil, err
			}
			if len(out) > e.maxOutput {
				return nil, e.outputLimit()
			}
			return out, nil
		}
	}
	digest := func(h func() hash.Hash) func(any) (any, error) {
		return str(func(s string) (string, error) {
			d := h()
			d.Write([]byte(s))
			return hex.EncodeToString(d.Sum(nil)), nil
		})
	}
	mac := func(h func() hash.Hash) func(v, key any) (any, error) {
		return func(v, key any) (any, error) {
			s, err := e.text(v)
			if err != nil {
				return nil, err
			}
			k, err := e.text(key)
			if err != nil {
				return nil, err
			}
			m := hmac.New(h, []byte(k))
			m.Write([]byte(s))
			return hex.EncodeToString(m.Sum(nil)), nil
		}
	}
	decode64 := func(encs ...*base64.Encoding) func(any) (any, error) {
		return str(func(s string) (string, error) {
			for _, enc := range encs {
				if b, err := enc.DecodeString(strings.TrimSpace(s)); err == nil {
					return string(b), nil
				}
			}
			return "", errors.New("not valid base64")
		})
	}
	return map[string]any{
		"json":          e.jsonFilter,
		"date":          e.dateFilter,
		"append":        e.concatText(false),
		"prepend":       e.concatText(true),
		"replace":       e.replaceFilter(-1),
		"replace_first": e.replaceFilter(1),
		"replace_last":  e.replaceLastFilter,
		"join":          e.joinFilter,
		"url_decode":    str(func(s string) (string, error) { return lenientUnescape(s), nil }),
		"base64_encode": str(func(s string) (string, error) { return base64.StdEncoding.EncodeToString([]byte(s)), nil }),
		"base64_decode": decode64(base64.StdEncoding, base64.RawStdEncoding),
		"base64_url_safe_encode": str(func(s string) (string, error) {
			return base64.URLEncoding.EncodeToString([]byte(s)), nil
		}),
		"base64_url_safe_decode": decode64(base64.URLEncoding, base64.RawURLEncoding),
		"md5":                    digest(md5.New),
		"sha1":                   digest(sha1.New),
		"sha256":                 digest(sha256.New),
		"hmac_sha1":              mac(sha1.New),
		"hmac_sha256":            mac(sha256.New),
		"__blank":                func(v any) any { return isBlank(v) },
		"__not_blank":            func(v any) any { return !isBlank(v) },
		"__empty":                func(v any) any { return isEmpty(v) },
		"__not_empty":            func(v any) any { return !isEmpty(v) },
		"__for":                  forIterable,
	}
}

// jsonFilter encodes v as JSON; the result is always valid JSON.
func (e *engine) jsonFilter(v any) (any, error) {
	b, err := e.appendJSON(nil, v, 0)
	if err != nil {
		return nil, err
	}
	if len(b) > e.maxOutput {
		return nil, e.outputLimit()
	}
	return string(b), nil
}

func (e *engine) concatText(prepend bool) func(s, other any) (any, error) {
	return func(s, other any) (any, error) {
		a, err := e.text(s)
		if err != nil {
			return nil, err
		}
		o, err := e.text(other)
		if err != nil {
			return nil, err
		}
		if len(a)+len(o) > e.maxOutput {
			return nil, e.outputLimit()
		}
		if prepend {
			return o + a, nil
		}
		return a + o, nil
	}
}

// replaceFilter replaces the first n occurrences (all when n < 0), after
// checking the result's size: a replacement can multiply a string.
func (e *engine) replaceFilter(n int) func(s, old, repl any) (any, error) {
	return func(s, old, repl any) (any, error) {
		a, o, r, err := e.texts3(s, old, repl)
		if err != nil {
			return nil, err
		}
		count := strings.Count(a, o)
		if n >= 0 {
			count = min(count, n)
		}
		if len(a)+count*(len(r)-len(o)) > e.maxOutput {
			return nil, e.outputLimit()
		}
		return strings.Replace(a, o, r, n), nil
	}
}

func (e *engine) replaceLastFilter(s, old, repl any) (any, error) {
	a, o, r, err := e.texts3(s, old, repl)
	if err != nil {
		return nil, err
	}
	i := strings.LastIndex(a, o)
	if i < 0 {
		return a, nil
	}
	if len(a)+len(r)-len(o) > e.maxOutput {
		return nil, e.outputLimit()
	}
	return a[:i] + r + a[i+len(o):], nil
}

func (e *engine) texts3(x, y, z any) (string, string, string, error) {
	a, err := e.text(x)
	if err != nil {
		return "", "", "", err
	}
	b, err := e.text(y)
	if err != nil {
		return "", "", "", err
	}
	c, err := e.text(z)
	return a, b, c, err
}

// joinFilter joins an array's elements (nested arrays flattened, nils
// skipped) with sep, " " by default.
func (e *engine) joinFilter(v, sep any) (any, error) {
	s := " "
	if sep != nil {
		var err error
		if s, err = e.text(sep); err != nil {
			return nil, err
		}
	}
	var b []byte
	first := true
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > maxDepth {
			return errTooDeep
		}
		v = values.ToLiquid(v)
		if r, ok := v.(values.Range); ok {
			if r.Len() > e.maxIter {
				return e.valueLimit("range", e.maxIter)
			}
			v = r.AsArray()
		}
		rv := reflect.ValueOf(v)
		if k := rv.Kind(); k == reflect.Slice || k == reflect.Array {
			if _, isBytes := v.([]byte); !isBytes {
				for i := range rv.Len() {
					if err := walk(rv.Index(i).Interface(), depth+1); err != nil {
						return err
					}
				}
				return nil
			}
		}
		if v == nil {
			return nil
		}
		if !first {
			if len(s) > e.maxOutput-len(b) {
				return e.outputLimit()
			}
			b = append(b, s...)
		}
		first = false
		var err error
		b, err = e.appendText(b, v, depth)
		return err
	}
	if err := walk(v, 0); err != nil {
		return nil, err
	}
	return string(b), nil
}

// lenientUnescape decodes %XX and + like Ruby's CGI.unescape, keeping
// malformed escapes as they are instead of failing.
func lenientUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v, _ := hex.DecodeString(s[i+1 : i+3])
			b = append(b, v[0])
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// isBlank is Ruby on Rails' blank?: nil, false, whitespace-only text and
// empty collections.
func isBlank(v any) bool {
	v = values.ToLiquid(v)
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return strings.TrimFunc(x, unicode.IsSpace) == ""
	}
	return isEmpty(v)
}

// isEmpty is Ruby's empty?: empty text and collections; nil is not empty.
func isEmpty(v any) bool {
	v = values.ToLiquid(v)
	if v == nil {
		return false
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len() == 0
	}
	return false
}

// forIterable makes a for loop walk an object's [key, value] pairs in key
// order; the engine would use Go's random map order.
func forIterable(v any) any {
	if _, ok := v.(tags.IterationKeyedMap); ok {
		return v
	}
	rv := reflect.ValueOf(values.ToLiquid(v))
	if rv.Kind() != reflect.Map {
		return v
	}
	type pair struct {
		key string
		kv  []any
	}
	pairs := make([]pair, 0, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		k := iter.Key().Interface()
		pairs = append(pairs, pair{fmt.Sprint(k), []any{k, iter.Value().Interface()}})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.key, b.key) })
	out := make([]any, len(pairs))
	for i, p := range pairs {
		out[i] = p.kv
	}
	return out
}

// ---- dates ----

// dateLayouts are the textual dates the date filter reads, in UTC unless
// they carry a zone.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	time.RFC1123Z,
	time.RFC1123,
	time.RFC822Z,
	time.RFC822,
	time.RFC850,
	time.RubyDate,
	time.UnixDate,
	time.ANSIC,
	"January 2, 2006",
	"January 2 2006",
	"Jan 2, 2006",
	"Jan 2 2006",
	"02 January 2006",
	"02 Jan 2006",
}

// dateFilter formats a date with strftime directives, in UTC. It reads
// 'now' and 'today', Unix seconds (numbers or digit strings), times and the
// common textual forms; anything else is returned unchanged, as in Liquid.
func (e *engine) dateFilter(v, format any) (any, error) {
	v = values.ToLiquid(v)
	f, err := e.text(format)
	if err != nil {
		return nil, err
	}
	if f == "" {
		return v, nil
	}
	t, ok := e.toTime(v)
	if !ok {
		return v, nil
	}
	formatter, err := e.formatter(f)
	if err != nil {
		return nil, err
	}
	out := formatter.format(t.UTC())
	if len(out) > e.maxOutput {
		return nil, e.outputLimit()
	}
	return out, nil
}

var strftimeWidth = regexp.MustCompile(`%[-_^#0]*(\d+)`)

// dateFormat is a compiled strftime format: plain directives are formatted
// here (tuesday formats each with fmt, which dominates a render), the rest
// by tuesday.
type dateFormat struct {
	parts []strftimePart
	slow  *tuesday.Formatter
}

type strftimePart struct {
	lit  string
	code byte // 0 for a literal
}

func (f *dateFormat) format(t time.Time) string {
	if f.slow != nil {
		return f.slow.Format(t)
	}
	b := make([]byte, 0, 32)
	for _, p := range f.parts {
		if p.code == 0 {
			b = append(b, p.lit...)
			continue
		}
		b = appendDirective(b, p.code, t)
	}
	return string(b)
}

// fastDirectives are the codes appendDirective formats exactly as tuesday
// does when they carry no flag, width or colon.
const fastDirectives = "YmdejHkIlMSLspPZzAaBbhuwyFTDRnt%"

// compileFast splits f into literals and plain directives, or reports
// false when it holds anything else.
func compileFast(f string) ([]strftimePart, bool) {
	var parts []strftimePart
	last := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i+1 >= len(f) || strings.IndexByte(fastDirectives, f[i+1]) < 0 {
			return nil, false
		}
		if last < i {
			parts = append(parts, strftimePart{lit: f[last:i]})
		}
		parts = append(parts, strftimePart{code: f[i+1]})
		i++
		last = i + 1
	}
	if last < len(f) {
		parts = append(parts, strftimePart{lit: f[last:]})
	}
	return parts, true
}

func appendPadded(b []byte, n int64, width int, pad byte) []byte {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], n, 10)
	for i := len(d); i < width; i++ {
		b = append(b, pad)
	}
	return append(b, d...)
}

func appendDirective(b []byte, code byte, t time.Time) []byte {
	switch code {
	case 'Y':
		return appendPadded(b, int64(t.Year()), 4, '0')
	case 'y':
		return appendPadded(b, int64(t.Year()%100), 2, '0')
	case 'm':
		return appendPadded(b, int64(t.Month()), 2, '0')
	case 'd':
		return appendPadded(b, int64(t.Day()), 2, '0')
	case 'e':
		return appendPadded(b, int64(t.Day()), 2, ' ')
	case 'j':
		return appendPadded(b, int64(t.YearDay()), 3, '0')
	case 'H':
		return appendPadded(b, int64(t.Hour()), 2, '0')
	case 'k':
		return appendPadded(b, int64(t.Hour()), 2, ' ')
	case 'I':
		return appendPadded(b, int64((t.Hour()+11)%12+1), 2, '0')
	case 'l':
		return appendPadded(b, int64((t.Hour()+11)%12+1), 2, ' ')
	case 'M':
		return appendPadded(b, int64(t.Minute()), 2, '0')
	case 'S':
		return appendPadded(b, int64(t.Second()), 2, '0')
	case 'L':
		return appendPadded(b, int64(t.Nanosecond()/1e6), 3, '0')
	case 's':
		return strconv.AppendInt(b, t.Unix(), 10)
	case 'p':
		if t.Hour() < 12 {
			return append(b, "AM"...)
		}
		return append(b, "PM"...)
	case 'P':
		if t.Hour() < 12 {
			return append(b, "am"...)
		}
		return append(b, "pm"...)
	case 'Z':
		zone, _ := t.Zone()
		return append(b, zone...)
	case 'z':
		_, off := t.Zone()
		sign := byte('+')
		if off < 0 {
			sign, off = '-', -off
		}
		return appendPadded(append(b, sign), int64(off/3600*100+off/60%60), 4, '0')
	case 'A':
		return append(b, t.Weekday().String()...)
	case 'a':
		return append(b, t.Weekday().String()[:3]...)
	case 'B':
		return append(b, t.Month().String()...)
	case 'b', 'h':
		return append(b, t.Month().String()[:3]...)
	case 'u':
		return strconv.AppendInt(b, int64((t.Weekday()+6)%7+1), 10)
	case 'w':
		return strconv.AppendInt(b, int64(t.Weekday()), 10)
	case 'F':
		b = appendPadded(b, int64(t.Year()), 4, '0')
		b = appendPadded(append(b, '-'), int64(t.Month()), 2, '0')
		return appendPadded(append(b, '-'), int64(t.Day()), 2, '0')
	case 'T':
		b = appendPadded(b, int64(t.Hour()), 2, '0')
		b = appendPadded(append(b, ':'), int64(t.Minute()), 2, '0')
		return appendPadded(append(b, ':'), int64(t.Second()), 2, '0')
	case 'D':
		b = appendPadded(b, int64(t.Month()), 2, '0')
		b = appendPadded(append(b, '/'), int64(t.Day()), 2, '0')
		return appendPadded(append(b, '/'), int64(t.Year()%100), 2, '0')
	case 'R':
		b = appendPadded(b, int64(t.Hour()), 2, '0')
		return appendPadded(append(b, ':'), int64(t.Minute()), 2, '0')
	case 'n':
		return append(b, '\n')
	case 't':
		return append(b, '\t')
	}
	return append(b, '%')
}

// formatter compiles a strftime format, refusing field widths that would
// build more than the output cap, and caches short formats.
func (e *engine) formatter(f string) (*dateFormat, error) {
	if cached, ok := e.formats.Load(f); ok {
		return cached.(*dateFormat), nil
	}
	df := &dateFormat{}
	if parts, ok := compileFast(f); ok {
		df.parts = parts
	} else {
		total := len(f)
		for _, m := range strftimeWidth.FindAllStringSubmatch(f, -1) {
			w, err := strconv.Atoi(m[1])
			if err != nil || w > e.maxOutput {
				return nil, e.outputLimit()
			}
			total += w
			if total > e.maxOutput {
				return nil, e.outputLimit()
			}
		}
		slow, err := tuesday.Compile(f)
		if err != nil {
			return nil, err
		}
		df.slow = slow
	}
	if len(f) <= 64 && e.nformat.Add(1) <= 256 {
		e.formats.Store(f, df)
	}
	return df, nil
}

func (e *engine) toTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		s := strings.TrimSpace(x)
		switch strings.ToLower(s) {
		case "now", "today":
			return e.now(), true
		case "":
			return time.Time{}, false
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0), true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return unixFloat(f), true
		}
		for _, layout := range dateLayouts {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	case json.Number:
		return e.toTime(string(x))
	case float32:
		return unixFloat(float64(x)), true
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return time.Time{}, false
		}
		return unixFloat(x), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return time.Unix(rv.Int(), 0), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return time.Time{}, false
		}
		return time.Unix(int64(rv.Uint()), 0), true
	}
	return time.Time{}, false
}

func unixFloat(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// ---- data ----

// ErrInvalidData marks a data document that ParseData cannot use.
var ErrInvalidData = errors.New("webhook: invalid data")

// ParseData decodes a JSON object into template data: each top-level key
// (customer, event, ...) becomes a variable. Numbers are converted so that
// they print exactly and work in arithmetic and comparisons: integers that
// fit become int, others float64. An error is a *ParseError with the line
// and column.
func ParseData(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	first := skipSpace(b, 0)
	if first < len(b) && b[first] != '{' {
		return nil, newParseError(ErrInvalidData, b, first, "", errors.New("data must be a JSON object"))
	}
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(ErrInvalidData, b, err, false)
	}
	if v == nil {
		return nil, newParseError(ErrInvalidData, b, first, "", errors.New("data must be a JSON object"))
	}
	if off := skipSpace(b, int(dec.InputOffset())); off < len(b) {
		return nil, newParseError(ErrInvalidData, b, off, "", errors.New("unexpected text after the object"))
	}
	for k, x := range v {
		c, err := convertNumbers(x, k)
		if err != nil {
			return nil, &ParseError{Field: err.field, Err: err.err, kind: ErrInvalidData}
		}
		v[k] = c
	}
	return v, nil
}

type numberError struct {
	field string
	err   error
}

// convertNumbers replaces json.Number values in place.
func convertNumbers(v any, path string) (any, *numberError) {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, strconv.IntSize); err == nil {
			return int(n), nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, &numberError{path, fmt.Errorf("number %s is out of range", truncate(string(x), 40))}
		}
		return f, nil
	case map[string]any:
		for k, item := range x {
			c, err := convertNumbers(item, path+"."+k)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	case []any:
		for i, item := range x {
			c, err := convertNumbers(item, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	}
	return v, nil
}

// ---- rendering an Action ----

// renderString renders t with a scratch writer and returns the text.
func (t *tmpl) renderString(st *renderState, b map[string]any, w *outWriter) (string, error) {
	w.buf = w.buf[:0]
	if t.static {
		return t.literal, nil
	}
	if err := t.execute(st, b, w); err != nil {
		return "", err
	}
	return string(w.buf), nil
}

func (a *Action) render(data map[string]any) (*Request, error) {
	e := a.eng
	st := e.newState()
	b := bindings(data, st, "", nil)
	w := &outWriter{max: e.maxOutput, st: st, eng: e}
	u, err := a.url.renderString(st, b, w)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(a.headers)+2)
	for _, ht := range a.headers {
		v, err := ht.t.renderString(st, b, w)
		if err != nil {
			return nil, err
		}
		h[ht.key] = []string{v}
	}
	var body []byte
	if a.body != nil {
		if a.body.static {
			body = []byte(a.body.literal)
		} else {
			bw := &outWriter{buf: make([]byte, 0, a.bodyHint), max: e.maxOutput, st: st, eng: e}
			if err := a.body.execute(st, b, bw); err != nil {
				return nil, err
			}
			body = bw.buf
		}
	}
	r, err := newRequest(a.method, u, h, body)
	if err != nil {
		return nil, a.fieldError(err)
	}
	r.IdempotencyKey = NewIdempotencyKey()
	r.action, r.data = a, data
	return r, nil
}

// fieldError attributes a request check's error to the Spec field whose
// rendered text failed it.
func (a *Action) fieldError(err error) error {
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
// variable response (the parsed JSON root, or the body as a string), and
// returns the rendered text per attribute. A template that prints a
// missing response field fails with ErrMissingVariable naming it.
func (a *Action) renderResponse(data map[string]any, response any) (map[string]string, error) {
	if len(a.response) == 0 {
		return nil, nil
	}
	st := a.eng.newState()
	b := bindings(data, st, "response", response)
	w := &outWriter{max: a.eng.maxOutput, st: st, eng: a.eng}
	out := make(map[string]string, len(a.response))
	for _, rt := range a.response {
		s, err := rt.t.renderString(st, b, w)
		if err != nil {
			return nil, err
		}
		out[rt.name] = s
	}
	return out, nil
}
