package delivery

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/liquidhook/webhook"
)

// What the Sent tab's templates are given: plain values, formatted here,
// so that the templates only lay them out and html/template escapes every
// one of them.

//go:embed ui
var uiFiles embed.FS

var (
	listPage     = parsePage("ui/list.html")
	deliveryPage = parsePage("ui/delivery.html")
	errorPage    = parsePage("ui/error.html")
	style        = mustRead("ui/style.css")
	styleTag     = `"` + hashOf(style) + `"`
)

func parsePage(name string) *template.Template {
	return template.Must(template.New("").ParseFS(uiFiles, "ui/layout.html", name))
}

func mustRead(name string) []byte {
	b, err := uiFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// serveStyle serves the style sheet, which a browser may keep while its
// ETag holds.
func serveStyle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("ETag", styleTag)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "style.css", time.Time{}, bytes.NewReader(style))
}

// head is what the layout shows on every page.
type head struct {
	Title string
	// Root is the relative path from the page to the handler's root; List
	// is the same, never empty, for a link.
	Root, List string
	ReadOnly   bool
	// Refresh is the meta refresh in seconds, or 0; StopRefresh links to
	// the page without it, ResumeRefresh back.
	Refresh       int
	StopRefresh   string
	ResumeRefresh string
	Flash, Error  string
}

// refresh makes the page reload every seconds, unless the person stopped
// it (refresh=0 in the query).
func (h *head) refresh(seconds int, r *http.Request) {
	q := r.URL.Query()
	if q.Get("refresh") == "0" {
		q.Del("refresh")
		h.ResumeRefresh = "?" + q.Encode()
		return
	}
	h.Refresh = seconds
	q.Set("refresh", "0")
	h.StopRefresh = "?" + q.Encode()
}

// timeView is a time shown relative to now and, beneath, absolute in UTC
// to the second; the title and the datetime attribute hold it exactly.
type timeView struct {
	ISO, Abs, Short, Rel string
}

func newTimeView(t, now time.Time) *timeView {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &timeView{
		ISO:   t.Format(time.RFC3339Nano),
		Abs:   t.Format("2006-01-02 15:04:05.000 UTC"),
		Short: t.Format("2006-01-02 15:04:05 UTC"),
		Rel:   relativeTime(t, now),
	}
}

// relativeTime says how long ago, or in how long, t is.
func relativeTime(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// durationText shows a duration to a precision a person reads.
func durationText(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 ms"
	case d < time.Millisecond:
		return "< 1 ms"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func sizeText(n int) string {
	switch {
	case n == 1:
		return "1 byte"
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// statusView is an HTTP status with the class that colours it.
type statusView struct {
	Code  int
	Text  string
	Class string
}

func newStatusView(code int) statusView {
	switch {
	case code == 0:
		return statusView{Text: "no response", Class: "none"}
	case code < 300:
		return statusView{code, strconv.Itoa(code), "ok"}
	case code < 400:
		return statusView{code, strconv.Itoa(code), "redirect"}
	}
	return statusView{code, strconv.Itoa(code), "bad"}
}

// bodyView is a body or response shown as text: indented when it is JSON,
// folded when it is long.
type bodyView struct {
	Empty bool
	Text  string
	Size  string
	Kind  string
	Open  bool
}

// Bodies longer than this, in bytes or lines, are folded.
const (
	foldBytes = 600
	foldLines = 12
)

func newBodyView(b []byte) bodyView {
	if len(b) == 0 {
		return bodyView{Empty: true, Size: "empty"}
	}
	v := bodyView{Size: sizeText(len(b)), Kind: "text"}
	text := string(b)
	var ind bytes.Buffer
	switch {
	case json.Valid(b) && json.Indent(&ind, b, "", "  ") == nil:
		text, v.Kind = ind.String(), "JSON, indented"
	case !utf8.Valid(b):
		text, v.Kind = strings.ToValidUTF8(text, "\uFFFD"), "not UTF-8"
	}
	v.Text = text
	v.Open = len(text) <= foldBytes && strings.Count(text, "\n") < foldLines
	return v
}

// kv is one name and value of a table.
type kv struct{ Name, Value string }

func sortedKV[V any](m map[string]V, show func(V) string) []kv {
	out := make([]kv, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, kv{k, show(m[k])})
	}
	return out
}

// attributeText shows a mapped attribute: a string as it is, anything
// else as JSON.
func attributeText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// listFilter is the list's query: ?state=&host=&meta=k=v&key=&before=.
type listFilter struct {
	States []State
	Host   string
	Meta   []string
	Key    string
	Before int64
	meta   map[string]string
	// refreshOff keeps a stopped refresh stopped across links.
	refreshOff bool
}

func parseListFilter(q url.Values) (listFilter, error) {
	f := listFilter{
		Host:       strings.TrimSpace(q.Get("host")),
		Key:        strings.TrimSpace(q.Get("key")),
		refreshOff: q.Get("refresh") == "0",
	}
	for _, v := range q["state"] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			st, err := ParseState(s)
			if err != nil {
				return f, err
			}
			f.States = append(f.States, st)
		}
	}
	for _, m := range q["meta"] {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		k, v, ok := strings.Cut(m, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return f, fmt.Errorf("metadata filter %q: want key=value", m)
		}
		if f.meta == nil {
			f.meta = make(map[string]string)
		}
		if old, dup := f.meta[k]; dup && old != v {
			return f, fmt.Errorf("metadata filter: key %q is given twice", k)
		}
		f.meta[k] = strings.TrimSpace(v)
		f.Meta = append(f.Meta, m)
	}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return f, fmt.Errorf("page cursor %q: want a delivery id", b)
		}
		f.Before = n
	}
	return f, nil
}

func (f listFilter) options(limit int) *PageOptions {
	return &PageOptions{States: f.States, Host: f.Host, Metadata: f.meta, IdempotencyKey: f.Key, Before: f.Before, Limit: limit}
}

// link returns the query of the list with f's filters, states in place of
// f's, and the cursor before.
func (f listFilter) link(states []State, before int64) string {
	q := url.Values{}
	for _, s := range states {
		q.Add("state", string(s))
	}
	if f.Host != "" {
		q.Set("host", f.Host)
	}
	for _, m := range f.Meta {
		q.Add("meta", m)
	}
	if f.Key != "" {
		q.Set("key", f.Key)
	}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if f.refreshOff {
		q.Set("refresh", "0")
	}
	if len(q) == 0 {
		return "./"
	}
	return "?" + q.Encode()
}

// Selected reports whether the filter keeps exactly state s, for the form.
func (f listFilter) Selected(s State) bool { return len(f.States) == 1 && f.States[0] == s }

// Filtered reports whether any filter is set.
func (f listFilter) Filtered() bool {
	return len(f.States) > 0 || f.Host != "" || len(f.Meta) > 0 || f.Key != ""
}

// FirstMeta is the metadata pair the form shows; MoreMeta, those it
// keeps hidden (a link may carry several).
func (f listFilter) FirstMeta() string {
	if len(f.Meta) == 0 {
		return ""
	}
	return f.Meta[0]
}

func (f listFilter) MoreMeta() []string {
	if len(f.Meta) < 2 {
		return nil
	}
	return f.Meta[1:]
}

// allStates lists the states in the order a delivery moves through them.
var allStates = []State{StateDraft, StateScheduled, StateSending, StateDelivered, StateFailed, StateCancelled}

// stateTab is one of the list's state filters, with its count.
type stateTab struct {
	State  State // empty for all
	Label  string
	Count  int
	Link   string
	Active bool
}

// listView is the list page.
type listView struct {
	head
	Filter  listFilter
	Tabs    []stateTab
	States  []State
	Rows    []rowView
	Running int
	Newest  string
	Older   string
}

// rowView is one delivery in the list.
type rowView struct {
	ID          int64
	Link        string
	State       State
	Destination string
	Metadata    string
	Attempts    int
	Resends     int
	LastStatus  *statusView
	LastAttempt *timeView
	Next        *timeView
}

func (h *sentTab) fillList(v *listView, page *Page, counts map[State]int) {
	now := h.opts.now()
	total := 0
	for _, n := range counts {
		total += n
	}
	v.Tabs = append(v.Tabs, stateTab{Label: "all", Count: total, Link: v.Filter.link(nil, 0), Active: len(v.Filter.States) == 0})
	for _, s := range allStates {
		v.Tabs = append(v.Tabs, stateTab{State: s, Label: string(s), Count: counts[s], Link: v.Filter.link([]State{s}, 0), Active: v.Filter.Selected(s)})
	}
	v.Running = counts[StateScheduled] + counts[StateSending]
	for _, d := range page.Deliveries {
		row := rowView{
			ID:          d.ID,
			Link:        "deliveries/" + strconv.FormatInt(d.ID, 10),
			State:       d.State,
			Destination: h.destinationText(d),
			Metadata:    metadataText(d.Metadata),
			Attempts:    len(d.Attempts),
			Resends:     d.Series - 1,
		}
		if n := len(d.Attempts); n > 0 {
			last := d.Attempts[n-1]
			s := newStatusView(last.Status)
			row.LastStatus = &s
			row.LastAttempt = newTimeView(last.Start, now)
		}
		if d.State == StateScheduled {
			row.Next = newTimeView(d.NextAt, now)
		}
		v.Rows = append(v.Rows, row)
	}
	if v.Filter.Before > 0 {
		v.Newest = v.Filter.link(v.Filter.States, 0)
	}
	if page.Before > 0 {
		v.Older = v.Filter.link(v.Filter.States, page.Before)
	}
}

// destinationText is d's URL as rendered, redacted.
func (h *sentTab) destinationText(d *Delivery) string {
	req, err := h.q.request(d)
	if err != nil {
		return "(cannot be rendered)"
	}
	return webhook.RedactURL(req.URL)
}

func metadataText(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, p := range sortedKV(m, func(v string) string { return v }) {
		parts = append(parts, p.Name+"="+p.Value)
	}
	return strings.Join(parts, " · ")
}

// deliveryView is a delivery's page.
type deliveryView struct {
	head
	ID          int64
	Self        string
	State       State
	Key         string
	Created     *timeView
	Updated     *timeView
	Next        *timeView
	NextLabel   string
	Waiting     string
	WaitUntil   *timeView
	Resends     int
	Conversion  bool
	LastError   string
	Request     *requestView
	RenderError string
	Series      []seriesView
	Attributes  []kv
	Metadata    []kv
	CanRelease  bool
	CanResend   bool
	CanCancel   bool
	ResendNote  string
}

// requestView is the request as the delivery's attempts send it.
type requestView struct {
	Method  string
	URL     string
	Headers []kv
	Body    bodyView
}

// seriesView is one series of attempts: the first send or a re-send.
type seriesView struct {
	Number   int
	Label    string
	Attempts []attemptView
}

type attemptView struct {
	Anchor     string
	Number     int
	Start      *timeView
	Duration   string
	Status     statusView
	Delivered  bool
	Class      string
	Outcome    string
	Error      string
	RetryAfter string
	Wait       string
	Response   bodyView
}

func (h *sentTab) deliveryView(d *Delivery, r *http.Request) *deliveryView {
	now := h.opts.now()
	id := strconv.FormatInt(d.ID, 10)
	v := &deliveryView{
		head:       h.head("Delivery "+id, r),
		ID:         d.ID,
		State:      d.State,
		Key:        d.IdempotencyKey,
		Created:    newTimeView(d.CreatedAt, now),
		Updated:    newTimeView(d.UpdatedAt, now),
		Resends:    d.Series - 1,
		Conversion: d.Conversion,
		LastError:  strings.TrimPrefix(d.LastError, "webhook: "),
		Attributes: sortedKV(d.Attributes, attributeText),
		Metadata:   sortedKV(d.Metadata, func(v string) string { return v }),
	}
	v.Self = v.Root + "deliveries/" + id
	switch d.State {
	case StateScheduled:
		v.Next, v.NextLabel = newTimeView(d.NextAt, now), "Next attempt"
		v.Waiting, v.WaitUntil = waitingText(d, now)
	case StateDraft:
		v.Next, v.NextLabel = newTimeView(d.NextAt, now), "Send at"
	}
	if !h.opts.ReadOnly {
		v.CanRelease = d.State == StateDraft
		v.CanCancel = d.State == StateDraft || d.State == StateScheduled
		v.CanResend = d.State == StateDelivered || d.State == StateFailed || d.State == StateCancelled || d.State == StateScheduled
	}
	v.ResendNote = "with the stored data"
	if h.opts.ResendData != nil {
		v.ResendNote = "with the person's current data"
	}

	req, err := h.q.request(d)
	if err != nil {
		v.RenderError = err.Error()
	} else {
		rv := &requestView{Method: req.Method, URL: webhook.RedactURL(req.URL), Body: newBodyView(req.Body)}
		header := req.RedactedHeader()
		header[webhook.HeaderIdempotencyKey] = []string{req.IdempotencyKey}
		for _, name := range slices.Sorted(maps.Keys(header)) {
			for _, value := range header[name] {
				rv.Headers = append(rv.Headers, kv{name, value})
			}
		}
		v.Request = rv
	}

	for _, a := range d.Attempts {
		if len(v.Series) == 0 || v.Series[len(v.Series)-1].Number != a.Series {
			label := "First send"
			if a.Series > 1 {
				label = fmt.Sprintf("Re-send %d", a.Series-1)
			}
			v.Series = append(v.Series, seriesView{Number: a.Series, Label: label})
		}
		av := attemptView{
			Anchor:    fmt.Sprintf("attempt-%d-%d", a.Series, a.Number),
			Number:    a.Number,
			Start:     newTimeView(a.Start, now),
			Duration:  durationText(a.Duration),
			Status:    newStatusView(a.Status),
			Delivered: a.Class == "",
			Class:     string(a.Class),
			Outcome:   outcomes[a.Class],
			Error:     strings.TrimPrefix(a.Error, "webhook: "),
			Response:  newBodyView(a.Response),
		}
		if a.RetryAfter > 0 {
			av.RetryAfter = durationText(a.RetryAfter)
		}
		if a.Wait > 0 {
			av.Wait = durationText(a.Wait)
		}
		s := &v.Series[len(v.Series)-1]
		s.Attempts = append(s.Attempts, av)
	}
	return v
}

// outcomes names each error class for a person; the class itself is
// shown beside.
var outcomes = map[webhook.ErrorClass]string{
	"":                      "delivered",
	webhook.ClassStatus:     "error status",
	webhook.ClassTimeout:    "timed out",
	webhook.ClassConnection: "connection failed",
	webhook.ClassTooLarge:   "response too large",
	webhook.ClassRedirect:   "redirect not followed",
	webhook.ClassBlocked:    "address refused",
	webhook.ClassMapping:    "mapping failed",
	webhook.ClassCanceled:   "cancelled",
	webhook.ClassInvalid:    "invalid request",
	ClassInterrupted:        "interrupted",
	ClassDisabled:           "destination disabled",
}

// errorView is a page that only says what went wrong.
type errorView struct {
	head
}

// waitingText says why a held delivery waits, and until when.
func waitingText(d *Delivery, now time.Time) (string, *timeView) {
	if d.Waiting == nil {
		return "", nil
	}
	switch d.Waiting.Reason {
	case WaitPaused:
		return "for its destination, " + d.Destination + ", paused after failing; a probe is sent", newTimeView(d.Waiting.Until, now)
	case WaitDisabled:
		return "for its destination, " + d.Destination + ", disabled after failing for long: it will fail", nil
	}
	return "for its destination, " + d.Destination + ", resumed: it is queued again shortly", nil
}
