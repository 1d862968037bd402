package webhook

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osteele/liquid/expressions"
	"github.com/osteele/liquid/filters"
	"github.com/osteele/liquid/parser"
	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/tags"
)

// render.go and its companions (expr.go, print.go, filters.go, dates.go)
// are the only files that know the Liquid engine (github.com/osteele/liquid).
// The engine parses and evaluates; everything Customer.io's dialect needs
// beyond it is layered on here:
//
//   - Before parsing, the source is scanned once: include/render tags and
//     unterminated {{ or {% are refused with their line, unknown filters are
//     refused, comparisons with blank/empty (==, != and when) are rewritten
//     into filters (the engine has no blank), and for loops iterate maps in
//     key order.
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
	// attribute that is not in the data, or used one as a range bound. The
	// message names it as written, customer[key] for a key read from a
	// variable.
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
	plans   map[render.Node]*exprPlan             // the {{ }} nodes of the template being compiled

	formats sync.Map     // strftime format -> *dateFormat
	nformat atomic.Int32 // entries in formats
	zones   sync.Map     // time zone name -> *time.Location
	nzone   atomic.Int32 // entries in zones
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
	prog    program // the template run without the engine, when it can be
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
	e.plans = make(map[render.Node]*exprPlan)
	defer func() { e.plans = nil }()
	if err := e.instrument(root); err != nil {
		return nil, &TemplateError{Field: field, Err: fmt.Errorf("%w: %v", ErrTemplateSyntax, err)}
	}
	t.root = root
	if seq, ok := root.(*render.SeqNode); ok {
		t.prog, _ = e.program(seq.Children)
	}
	return t, nil
}

// program is a template, or part of one, that the dialect renders without
// the engine: text, {{ }} that evaluate directly (see chain), assign of
// such an expression, and if, elsif, else and unless on conditions that
// evaluate directly (see cond). Most webhook templates are nothing else,
// and the engine's tree walk costs more than the rest of a render: it
// allocates for every text and every tag it renders.
//
// A program renders exactly what the engine would. It gives up (see run)
// rather than report an error or meet a value it does not mirror, and the
// engine renders the template from the start instead, with its own errors
// and line numbers.
type program []instr

type instrKind uint8

const (
	opText   instrKind = iota // text
	opOutput                  // {{ chain }}
	opAssign                  // {% assign name = chain %}
	opIf                      // the first branch whose test holds
)

type instr struct {
	kind     instrKind
	text     string
	chain    *chain
	name     string
	branches []branch
}

// branch is a clause of an if or unless; test is nil for else.
type branch struct {
	test *cond
	body program
}

// program translates an instrumented node sequence, or reports false when
// some node needs the engine.
func (e *engine) program(nodes []render.Node) (program, bool) {
	p := make(program, 0, len(nodes))
	for _, n := range nodes {
		switch n := n.(type) {
		case *render.TextNode:
			p = append(p, instr{kind: opText, text: n.Source})
		case *render.TagNode:
			if plan := e.plans[n]; plan != nil && plan.chain != nil {
				p = append(p, instr{kind: opOutput, chain: plan.chain})
				continue
			}
			if n.Name != "assign" {
				return nil, false
			}
			toks, ok := lexExpr(n.Args)
			if !ok || len(toks) < 3 || toks[0].kind != tIdent || reserved[toks[0].text] || !toks[1].is("=") {
				return nil, false
			}
			c := planChain(splitTop(toks[2:], "|"))
			if c == nil {
				return nil, false
			}
			p = append(p, instr{kind: opAssign, name: toks[0].text, chain: c})
		case *render.BlockNode:
			if n.Name != "if" && n.Name != "unless" {
				return nil, false
			}
			in := instr{kind: opIf}
			for i, clause := range append([]*render.BlockNode{n}, n.Clauses...) {
				var br branch
				if clause.Name != "else" {
					c, ok := planCond(clause.Args)
					if !ok {
						return nil, false
					}
					c.negate = i == 0 && n.Name == "unless"
					br.test = c
				}
				body, ok := e.program(clause.Body)
				if !ok {
					return nil, false
				}
				br.body = body
				in.branches = append(in.branches, br)
			}
			p = append(p, in)
		default:
			return nil, false // trims, raw, and the rest
		}
	}
	return p, true
}

// run renders p into w, or reports false, leaving w and the state for the
// engine to start again.
func (e *engine) run(p program, sc *scope, w *outWriter) bool {
	for i := range p {
		in := &p[i]
		if sc.st.step() != nil {
			return false
		}
		switch in.kind {
		case opText:
			if !w.appendDirect(in.text) {
				return false
			}
		case opOutput:
			v, res, err := e.evalChain(sc, in.chain)
			if err != nil || res != pathFound {
				return false
			}
			if s, ok := v.(string); ok {
				if !w.appendDirect(s) {
					return false
				}
				continue
			}
			out, err := e.appendOutput(sc.scratch[:0], v, 0)
			sc.scratch = out
			if err != nil || len(out) > w.max-len(w.buf) {
				return false
			}
			w.buf = append(w.buf, out...)
		case opAssign:
			v, res, err := e.evalChain(sc, in.chain)
			if err != nil || res != pathFound || !plainValue(v) {
				return false
			}
			sc.locals = append(sc.locals, local{in.name, v})
		case opIf:
			for j := range in.branches {
				br := &in.branches[j]
				if br.test != nil {
					holds, known := br.test.test(sc)
					if !known {
						return false
					}
					if !holds {
						continue
					}
				}
				if !e.run(br.body, sc, w) {
					return false
				}
				break
			}
		}
	}
	return true
}

// scope resolves the variables of one Render when the dialect renders a
// template itself: the template's own assigns, then the extra variable
// (response), then the data, as the engine's bindings would.
type scope struct {
	data      map[string]any
	extraName string
	extra     any
	st        *renderState
	locals    []local
	scratch   []byte         // for printing values that are not text
	b         map[string]any // the engine's bindings, made when first needed
}

type local struct {
	name  string
	value any
}

func (s *scope) lookup(name string) (any, bool) {
	for i := len(s.locals) - 1; i >= 0; i-- {
		if s.locals[i].name == name {
			return s.locals[i].value, true
		}
	}
	if s.extraName != "" && name == s.extraName {
		return s.extra, true
	}
	v, ok := s.data[name]
	return v, ok
}

// bindings returns the variables for the engine, made once per Render.
func (s *scope) bindings() map[string]any {
	if s.b == nil {
		s.b = bindings(s.data, s.st, s.extraName, s.extra)
	}
	return s.b
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
	var subjects []string // the expression of each open case, innermost last
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
				source = replaceArgs(source, "", tok.Args, rewriteBlank(tok.Args, lexed))
			}
		case tok.Type == parser.TagTokenType:
			switch tok.Name {
			case "comment":
				inComment, openLine = true, line
			case "raw":
				inRaw, openLine = true, line
			case "include", "render":
				return "", syntax(line, "{%% %s %%} is not supported: templates cannot read files", tok.Name)
			case "case":
				subjects = append(subjects, tok.Args)
			case "endcase":
				if len(subjects) > 0 {
					subjects = subjects[:len(subjects)-1]
				}
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
				source = replaceArgs(source, tok.Name, tok.Args, rewriteBlank(tok.Args, lexed))
			case "for", "tablerow":
				source = replaceArgs(source, tok.Name, tok.Args, rewriteFor(tok.Args, lexed))
			case "when":
				if len(subjects) > 0 {
					source = replaceArgs(source, tok.Name, tok.Args, rewriteWhen(tok.Args, lexed, subjects[len(subjects)-1]))
				}
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

// replaceArgs replaces the arguments of a tag token {% name args %}, or
// of an object token {{ args }} when name is empty.
func replaceArgs(source, name, args, repl string) string {
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
			node, err := e.checkLoopRanges(n)
			if err != nil {
				return err
			}
			nodes[i] = node
		}
	}
	return nil
}

// checkLoopRanges puts a for or tablerow over a range with path bounds,
// (1..customer.count), after a node that checks the bounds (see
// checkRanges). The two go in a sequence node, which renders its children
// into the same writer, so whitespace control around the loop is as it was.
func (e *engine) checkLoopRanges(n *render.BlockNode) (render.Node, error) {
	if n.Name != "for" && n.Name != "tablerow" {
		return n, nil
	}
	toks, ok := lexExpr(n.Args)
	if !ok {
		return n, nil
	}
	bounds := rangeBounds(toks)
	if len(bounds) == 0 {
		return n, nil
	}
	check, err := e.synthetic(n.SourceLoc, func(_ io.Writer, ctx render.Context) error {
		return e.checkRanges(mapVars(ctx.Bindings()), bounds)
	})
	if err != nil {
		return nil, err
	}
	return &render.SeqNode{Children: []render.Node{check, n}}, nil
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

// renderRun is the scratch state of one Render or one response mapping:
// the budget, the variables and the output buffers. Runs are pooled, so a
// Render allocates little beyond what it returns.
type renderRun struct {
	st   renderState
	sc   scope
	w    outWriter // for the short fields, copied out as strings
	body outWriter // for the body, copied into the Request
}

var renderRuns = sync.Pool{New: func() any { return new(renderRun) }}

// maxPooledBuffer bounds the buffers a pooled run keeps, so that one huge
// render does not pin its memory.
const maxPooledBuffer = 64 << 10

func (e *engine) newRun(data map[string]any, extraName string, extra any) *renderRun {
	r := renderRuns.Get().(*renderRun)
	r.st = renderState{deadline: time.Now().Add(e.timeout), timeout: e.timeout, iterLeft: e.maxIter, maxIter: e.maxIter}
	r.sc = scope{data: data, extraName: extraName, extra: extra, st: &r.st, locals: r.sc.locals[:0], scratch: r.sc.scratch[:0]}
	r.w = outWriter{buf: r.w.buf[:0], max: e.maxOutput, st: &r.st, eng: e}
	r.body = outWriter{buf: r.body.buf[:0], max: e.maxOutput, st: &r.st, eng: e}
	return r
}

// release returns r to the pool, keeping its buffers but nothing of the
// data it rendered.
func (r *renderRun) release() {
	clear(r.sc.locals[:cap(r.sc.locals)])
	r.sc = scope{locals: r.sc.locals[:0], scratch: shrink(r.sc.scratch)}
	r.w = outWriter{buf: shrink(r.w.buf)}
	r.body = outWriter{buf: shrink(r.body.buf)}
	r.st = renderState{}
	renderRuns.Put(r)
}

func shrink(b []byte) []byte {
	if cap(b) > maxPooledBuffer {
		return nil
	}
	return b[:0]
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

// appendDirect appends s for a program, or reports false if it would
// exceed the cap (the engine then reports it).
func (w *outWriter) appendDirect(s string) bool {
	if len(s) > w.max-len(w.buf) {
		return false
	}
	w.buf = append(w.buf, s...)
	return true
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
func (t *tmpl) execute(st *renderState, sc *scope, w *outWriter) (err error) {
	if t.static {
		if len(t.literal) > w.max-len(w.buf) {
			return &TemplateError{Field: t.field, Err: t.eng.outputLimit()}
		}
		w.buf = append(w.buf, t.literal...)
		return nil
	}
	if t.prog != nil {
		mark := len(w.buf)
		sc.locals = sc.locals[:0]
		if t.eng.run(t.prog, sc, w) {
			return nil
		}
		w.buf = w.buf[:mark]
	}
	bindings := sc.bindings()
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

// renderString renders t with a scratch writer and returns the text.
func (t *tmpl) renderString(st *renderState, b *scope, w *outWriter) (string, error) {
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
	run := a.eng.newRun(data, "", nil)
	defer run.release()
	st, sc := &run.st, &run.sc
	u, err := a.url.renderString(st, sc, &run.w)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(a.headers)+2)
	for _, ht := range a.headers {
		v, err := ht.t.renderString(st, sc, &run.w)
		if err != nil {
			return nil, err
		}
		h[ht.key] = []string{v}
	}
	var body []byte
	scratch := false
	if a.body != nil {
		if a.body.static {
			body = []byte(a.body.literal)
		} else {
			if err := a.body.execute(st, sc, &run.body); err != nil {
				return nil, err
			}
			// A body template that renders nothing gives an empty body,
			// never none: a fresh run's buffer is nil.
			body, scratch = run.body.buf, true
			if body == nil {
				body = []byte{}
			}
		}
	}
	r, err := buildRequest(requestParts{
		method: a.method, url: u, prepared: a.staticURL,
		header: h, ownHeader: true,
		body: body, scratchBody: scratch,
	})
	if err != nil {
		return nil, a.fieldError(err)
	}
	r.IdempotencyKey = NewIdempotencyKey()
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
// hands each attribute's rendered text to set. A template that prints a
// missing response field fails with ErrMissingVariable naming it.
func (a *Action) renderResponse(data map[string]any, response any, set func(name, text string)) error {
	if len(a.response) == 0 {
		return nil
	}
	run := a.eng.newRun(data, "response", response)
	defer run.release()
	for _, rt := range a.response {
		s, err := rt.t.renderString(&run.st, &run.sc, &run.w)
		if err != nil {
			return err
		}
		set(rt.name, s)
	}
	return nil
}
