package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/liquidhook/webhook"
)

// HandlerOptions configures NewHandler. The zero value (or nil) shows
// every form, re-sends with the stored data and logs nothing.
type HandlerOptions struct {
	// ReadOnly hides the Release, Re-send and Cancel forms and refuses
	// every POST with 403 Forbidden.
	ReadOnly bool

	// ResendData returns the data a re-send renders with: the person's
	// current data, as the application holds it now, the way Customer.io
	// re-sends with current data. A nil map keeps the stored data; an
	// error is shown on the delivery's page and nothing is sent. Defaults
	// to the stored data.
	ResendData func(ctx context.Context, d *Delivery) (map[string]any, error)

	// Logger receives the errors that a page answers 500 for, such as a
	// database that fails. Nil logs nothing.
	Logger *slog.Logger

	// PageSize is how many deliveries the list shows at a time. Defaults
	// to 50; at most 1,000.
	PageSize int

	// Refresh is how often the list reloads itself while a delivery is
	// scheduled or sending, and a delivery's page while that delivery is.
	// Defaults to 5 seconds; browsers count it in whole seconds, at least
	// one.
	Refresh time.Duration

	// Now tells the time, for "3 min ago". Defaults to time.Now.
	Now func() time.Time
}

func (o *HandlerOptions) pageSize() int {
	if o.PageSize <= 0 {
		return pageDefaultLimit
	}
	return min(o.PageSize, listMaxLimit)
}

// refreshSeconds returns Refresh in the whole seconds of a meta refresh.
func (o *HandlerOptions) refreshSeconds() int {
	if o.Refresh <= 0 {
		return 5
	}
	return max(1, int(o.Refresh.Round(time.Second)/time.Second))
}

func (o *HandlerOptions) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o *HandlerOptions) logger() *slog.Logger {
	if o.Logger == nil {
		return discardLogger()
	}
	return o.Logger
}

// NewHandler returns the Sent tab: web pages over q's delivery log, as
// Customer.io shows a webhook's sent messages. The list shows deliveries
// newest first, with their state, destination and last attempt, filtered
// by state, host, metadata or idempotency key; each delivery's page shows
// the request (credentials and secret headers redacted), every attempt
// across re-sends with the start of each response, the mapped attributes
// and the metadata, and the forms to release a draft, re-send, or cancel.
//
// The pages are rendered on the server, work without JavaScript and load
// nothing from elsewhere. The handler does no authentication: mount it
// behind the application's own, under a prefix with http.StripPrefix
// (its links are relative):
//
//	mux.Handle("/admin/webhooks/", requireStaff(http.StripPrefix("/admin/webhooks",
//		delivery.NewHandler(q, &delivery.HandlerOptions{ResendData: currentData}))))
//
// Forms change state by POST and redirect; a POST from another site is
// refused with 403 (http.CrossOriginProtection), so a page elsewhere
// cannot make a signed-in person's browser re-send a webhook.
//
// NewHandler panics if q is nil.
func NewHandler(q *Queue, opts *HandlerOptions) http.Handler {
	if q == nil {
		panic("delivery: NewHandler with a nil Queue")
	}
	h := &sentTab{q: q}
	if opts != nil {
		h.opts = *opts
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.list)
	mux.HandleFunc("GET /deliveries/{id}", h.show)
	mux.HandleFunc("POST /deliveries/{id}/{op}", h.act)
	mux.HandleFunc("GET /assets/style.css", serveStyle)
	return securityHeaders(http.NewCrossOriginProtection().Handler(mux))
}

// sentTab serves the pages of NewHandler.
type sentTab struct {
	q    *Queue
	opts HandlerOptions
}

// maxFormBytes bounds the body of a POST: the forms send nothing.
const maxFormBytes = 1 << 10

// securityHeaders sets what every answer carries: no script, style or
// form target but the handler's own, no framing (a framed page could be
// clicked through), and nothing cached, since pages show personal data.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if r.URL.Path != "/assets/style.css" {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// list serves the list of deliveries.
func (h *sentTab) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := parseListFilter(r.URL.Query())
	v := &listView{head: h.head("Sent webhooks", r), Filter: f, States: allStates}
	if err != nil {
		v.Error = strings.TrimPrefix(err.Error(), "delivery: ")
		h.render(w, r, http.StatusBadRequest, listPage, v)
		return
	}
	page, err := h.q.Page(ctx, f.options(h.opts.pageSize()))
	if errors.Is(err, ErrInvalidHost) || errors.Is(err, ErrUnknownState) {
		v.Error = strings.TrimPrefix(err.Error(), "delivery: ")
		h.render(w, r, http.StatusBadRequest, listPage, v)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	counts, err := h.q.Counts(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.fillList(v, page, counts)
	if v.Running > 0 {
		v.refresh(h.opts.refreshSeconds(), r)
	}
	h.render(w, r, http.StatusOK, listPage, v)
}

// show serves one delivery's page.
func (h *sentTab) show(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		h.notFound(w, r)
		return
	}
	d, err := h.q.Get(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		h.notFound(w, r)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.deliveryView(d, r)
	v.Flash = doneMessages[r.URL.Query().Get("done")]
	if d.State == StateScheduled || d.State == StateSending {
		v.refresh(h.opts.refreshSeconds(), r)
	}
	h.render(w, r, http.StatusOK, deliveryPage, v)
}

// doneMessages are what a delivery's page says after a form succeeded.
var doneMessages = map[string]string{
	"release": "Released: its first attempt was queued.",
	"resend":  "Re-sent: a new series of attempts was queued, under the same idempotency key.",
	"cancel":  "Cancelled: it will not be sent.",
}

// act handles the forms: release, resend and cancel.
func (h *sentTab) act(w http.ResponseWriter, r *http.Request) {
	if h.opts.ReadOnly {
		http.Error(w, "Forbidden: this Sent tab is read-only.", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad request: the form is too large.", http.StatusRequestEntityTooLarge)
		return
	}
	id, ok := pathID(r)
	op := r.PathValue("op")
	if _, known := doneMessages[op]; !ok || !known {
		h.notFound(w, r)
		return
	}
	ctx := r.Context()
	var err error
	switch op {
	case "release":
		_, err = h.q.Release(ctx, id)
	case "cancel":
		_, err = h.q.Cancel(ctx, id)
	case "resend":
		err = h.resend(ctx, id)
	}
	if err == nil {
		// Relative to .../deliveries/ID/OP, wherever the handler is mounted.
		w.Header().Set("Location", "../"+strconv.FormatInt(id, 10)+"?done="+op)
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	var (
		status = http.StatusInternalServerError
		ae     *applicationError
	)
	switch {
	case errors.Is(err, ErrNotFound):
		h.notFound(w, r)
		return
	case errors.Is(err, ErrWrongState):
		status = http.StatusConflict
	case errors.As(err, &ae):
		h.opts.logger().ErrorContext(ctx, "delivery: Sent tab: re-send data", "id", id, "err", ae.err)
	case isRenderError(err):
		status = http.StatusUnprocessableEntity
	default:
		h.fail(w, r, err)
		return
	}
	d, gerr := h.q.Get(ctx, id)
	if gerr != nil {
		h.fail(w, r, gerr)
		return
	}
	v := h.deliveryView(d, r)
	v.Error = err.Error()
	h.render(w, r, status, deliveryPage, v)
}

// resend re-sends delivery id with the data ResendData gives, or the
// stored data.
func (h *sentTab) resend(ctx context.Context, id int64) error {
	var data map[string]any
	if h.opts.ResendData != nil {
		d, err := h.q.Get(ctx, id)
		if err != nil {
			return err
		}
		if data, err = h.opts.ResendData(ctx, d); err != nil {
			return &applicationError{err}
		}
	}
	_, err := h.q.Resend(ctx, id, data)
	return err
}

// applicationError is an error of HandlerOptions.ResendData.
type applicationError struct{ err error }

func (e *applicationError) Error() string {
	return "the application could not give the current data: " + e.err.Error()
}

// isRenderError reports whether err says that the data does not render.
func isRenderError(err error) bool {
	var (
		te *webhook.TemplateError
		be *webhook.BodyError
	)
	return errors.As(err, &te) || errors.As(err, &be) || errors.Is(err, webhook.ErrInvalidURL) ||
		errors.Is(err, webhook.ErrInvalidHeader) || errors.Is(err, webhook.ErrInvalidMethod)
}

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (h *sentTab) notFound(w http.ResponseWriter, r *http.Request) {
	v := &errorView{head: h.head("Not found", r)}
	v.Error = "There is no such delivery in the log."
	h.render(w, r, http.StatusNotFound, errorPage, v)
}

// fail answers 500 without detail, which may name the database, and logs
// the error. A value that the Queue's keys do not open is not such a
// failure: the page names the delivery and the key, answered 503, as
// another server, one that holds the key, can show it.
func (h *sentTab) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *SealError
	if errors.As(err, &se) {
		h.opts.logger().WarnContext(r.Context(), "delivery: Sent tab", "path", r.URL.Path, "err", err)
		v := &errorView{head: h.head("Sealed", r)}
		v.Error = fmt.Sprintf("Delivery %d cannot be shown: its %s. Give this server that key (Queue.Keys; LIQUIDHOOK_DB_KEY for liquidhook queue ui).",
			se.ID, strings.TrimPrefix(se.Error(), fmt.Sprintf("delivery: delivery %d: ", se.ID)))
		if r.PathValue("id") == "" {
			v.Error = "The list cannot be shown: " + strings.ToLower(v.Error[:1]) + v.Error[1:]
		}
		h.render(w, r, http.StatusServiceUnavailable, errorPage, v)
		return
	}
	h.opts.logger().ErrorContext(r.Context(), "delivery: Sent tab", "path", r.URL.Path, "err", err)
	v := &errorView{head: h.head("Error", r)}
	v.Error = "The delivery log could not be read. The error is in the application's log."
	h.render(w, r, http.StatusInternalServerError, errorPage, v)
}

// rootOf returns the relative path from r's page to the list.
func rootOf(r *http.Request) string {
	if r.PathValue("op") != "" {
		return "../../"
	}
	if r.PathValue("id") != "" {
		return "../"
	}
	return ""
}

// render executes page into a buffer first, so that a template error
// becomes a clean 500 rather than half a page.
func (h *sentTab) render(w http.ResponseWriter, r *http.Request, status int, page *template.Template, v any) {
	var b bytes.Buffer
	if err := page.ExecuteTemplate(&b, "layout", v); err != nil {
		h.opts.logger().ErrorContext(r.Context(), "delivery: Sent tab: template", "err", err)
		http.Error(w, "Internal server error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

// head returns what every page's layout needs.
func (h *sentTab) head(title string, r *http.Request) head {
	root := rootOf(r)
	list := root
	if list == "" {
		list = "./"
	}
	return head{Title: title, Root: root, List: list, ReadOnly: h.opts.ReadOnly}
}
