package delivery

import (
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sentTabServer serves the Sent tab under /sent/, as an application
// mounts it, so that every test also checks that its links are relative.
type sentTabServer struct {
	*httptest.Server
	client *http.Client // does not follow redirects
}

func newSentTabServer(t testing.TB, q *Queue, opts *HandlerOptions) *sentTabServer {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/sent/", http.StripPrefix("/sent", NewHandler(q, opts)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &sentTabServer{Server: srv, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// get fetches path (under /sent/) and returns the status and body.
func (s *sentTabServer) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := s.client.Get(s.URL + "/sent/" + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// post submits a form of a delivery's page as a browser on the same site
// does, with header added, and returns the response with its body read.
func (s *sentTabServer) post(t testing.TB, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/sent/"+path, strings.NewReader(""))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

var listedRow = regexp.MustCompile(`<tr id="delivery-(\d+)"`)

// listed returns the ids of the list's rows, in order.
func listed(body string) []int64 {
	out := []int64{}
	for _, m := range listedRow.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, id)
	}
	return out
}

// link returns the unescaped href of the first <a> whose attributes match
// attr, or "".
func link(body, attr string) string {
	m := regexp.MustCompile(`<a href="([^"]*)"[^>]*` + regexp.QuoteMeta(attr)).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestHandlerListFilters(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	ctx := context.Background()
	crm := testAction(t, "https://crm.example.com", webhook.SendingDraft)
	other := testAction(t, "https://other.example.com", webhook.SendingDraft)
	var ids []int64
	for i, e := range []struct {
		action *webhook.Action
		opts   *EnqueueOptions
	}{
		{crm, &EnqueueOptions{Metadata: map[string]string{"person": "1"}}},
		{other, &EnqueueOptions{Metadata: map[string]string{"person": "2", "campaign": "spring sale"}}},
		{crm, &EnqueueOptions{IdempotencyKey: "order-3"}},
		{other, &EnqueueOptions{Metadata: map[string]string{"person": "4"}}},
	} {
		ids = append(ids, mustEnqueue(t, q, e.action, customer("p"+itoa(i)+"@example.com"), e.opts).ID)
	}
	_, err := q.Cancel(ctx, ids[3])
	require.NoError(t, err)
	s := newSentTabServer(t, q, nil)

	tests := []struct {
		name       string
		query      string
		want       []int64
		wantStatus int
		wantText   string
	}{
		{"all, newest first", "", []int64{ids[3], ids[2], ids[1], ids[0]}, http.StatusOK, `cancelled <span class="count">1</span>`},
		{"state", "?state=draft", []int64{ids[2], ids[1], ids[0]}, http.StatusOK, `draft <span class="count">3</span>`},
		{"states", "?state=cancelled&state=draft", []int64{ids[3], ids[2], ids[1], ids[0]}, http.StatusOK, ""},
		{"states, comma-separated", "?state=cancelled,sending", []int64{ids[3]}, http.StatusOK, ""},
		{"host", "?host=crm.example.com", []int64{ids[2], ids[0]}, http.StatusOK, ""},
		{"host and state", "?host=other.example.com&state=draft", []int64{ids[1]}, http.StatusOK, ""},
		{"metadata", "?meta=person%3D2", []int64{ids[1]}, http.StatusOK, ""},
		{"metadata with a space", "?meta=campaign%3Dspring+sale", []int64{ids[1]}, http.StatusOK, ""},
		{"two metadata pairs", "?meta=person%3D2&meta=campaign%3Dspring+sale", []int64{ids[1]}, http.StatusOK, ""},
		{"idempotency key", "?key=order-3", []int64{ids[2]}, http.StatusOK, ""},
		{"empty fields are no filter", "?state=&host=&meta=&key=", []int64{ids[3], ids[2], ids[1], ids[0]}, http.StatusOK, ""},
		{"no match", "?key=nothing", []int64{}, http.StatusOK, "No delivery matches these filters."},
		{"unknown state", "?state=lost", []int64{}, http.StatusBadRequest, `<p class="banner error" role="alert">unknown state &#34;lost&#34;`},
		{"metadata without a value", "?meta=person", []int64{}, http.StatusBadRequest, `want key=value`},
		{"bad host", "?host=a/b", []int64{}, http.StatusBadRequest, `role="alert">invalid host filter`},
		{"bad cursor", "?before=x", []int64{}, http.StatusBadRequest, `page cursor`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := s.get(t, tt.query)
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.want, listed(body))
			assert.Contains(t, body, tt.wantText)
		})
	}

	t.Run("each row links to its delivery's page", func(t *testing.T) {
		_, body := s.get(t, "")
		href := link(body, ">#"+itoa(int(ids[1])))
		require.Equal(t, "deliveries/"+itoa(int(ids[1])), href)
		status, page := s.get(t, href)
		assert.Equal(t, http.StatusOK, status)
		assert.Contains(t, page, "Delivery #"+itoa(int(ids[1])))
		assert.Contains(t, page, "https://other.example.com/hook")
	})
	t.Run("the form shows the filters in force", func(t *testing.T) {
		_, body := s.get(t, "?state=draft&host=crm.example.com&meta=person%3D1&key=k")
		assert.Contains(t, body, `<option value="draft" selected>`)
		assert.Contains(t, body, `name="host" value="crm.example.com"`)
		assert.Contains(t, body, `name="meta" value="person=1"`)
		assert.Contains(t, body, `name="key" value="k"`)
	})
}

func TestHandlerListPages(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		action := testAction(t, "https://example.com", webhook.SendingDraft)
		var ids []int64
		for i := range 5 {
			ids = append(ids, mustEnqueue(t, q, action, customer("p"+itoa(i)+"@example.com"), nil).ID)
		}
		s := newSentTabServer(t, q, &HandlerOptions{PageSize: 2})

		_, body := s.get(t, "?state=draft")
		assert.Equal(t, []int64{ids[4], ids[3]}, listed(body))
		assert.Empty(t, link(body, ">← Newest"), "the first page has no link to itself")
		older := link(body, `rel="next"`)
		require.NotEmpty(t, older)
		assert.Contains(t, older, "state=draft", "paging keeps the filters")

		_, body = s.get(t, older)
		assert.Equal(t, []int64{ids[2], ids[1]}, listed(body))
		older = link(body, `rel="next"`)
		require.NotEmpty(t, older)

		_, body = s.get(t, older)
		assert.Equal(t, []int64{ids[0]}, listed(body))
		assert.Empty(t, link(body, `rel="next"`), "the last page")
		newest := link(body, ">← Newest")
		assert.Equal(t, "?state=draft", newest)
	})
}

// deliveredOne queues a delivery to a receiver that answers 503 once and
// then a lead id, and works until it is delivered.
func deliveredOne(t *testing.T, q *Queue, metadata map[string]string) *Delivery {
	t.Helper()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"error": "busy"}`, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"id": "lead-`+itoa(n)+`"}`)
	})
	d := mustEnqueue(t, q, testAction(t, rc.URL, webhook.SendingAutomatic), customer("ada@example.com"), &EnqueueOptions{Metadata: metadata})
	workUntilIdle(t, q, testWorker(3))
	require.Equal(t, StateDelivered, mustGet(t, q, d.ID).State)
	return d
}

func TestHandlerDeliveryPage(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	d := deliveredOne(t, q, map[string]string{"person": "42"})
	s := newSentTabServer(t, q, nil)
	status, body := s.get(t, "deliveries/"+itoa(int(d.ID)))
	require.Equal(t, http.StatusOK, status)

	for _, want := range []string{
		`<span class="state st-delivered">delivered</span>`,
		`<span class="method">POST</span>`,
		`/hook</code>`,
		`<th scope="row">X-CIO-Idempotency-Key</th><td><code>` + d.IdempotencyKey,
		`&#34;email&#34;: &#34;ada@example.com&#34;`, // the body, indented
		`<tr id="attempt-1-1">`,
		`<span class="status s-bad">503</span>`,
		`<span class="outcome bad">error status</span> <code class="class" title="error class">status</code>`,
		`unsuccessful status 503`,
		`<tr id="attempt-1-2">`,
		`<span class="status s-ok">200</span>`,
		`&#34;id&#34;: &#34;lead-2&#34;`, // the response excerpt
		`<th scope="row">lead_id</th><td><code>lead-2</code>`,
		`<th scope="row">person</th><td><code>42</code>`,
		`<form method="post" action="../deliveries/` + itoa(int(d.ID)) + `/resend">`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, "/release", "a delivered delivery cannot be released")
	assert.NotContains(t, body, "/cancel", "nor cancelled")
	assert.Regexp(t, `<time datetime="[0-9T:.-]+Z" title="[0-9 :.-]+ UTC">(just now|\d+ s ago)</time><span class="abs">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</span>`, body, "times are relative, with the absolute time beneath")
	assert.NotContains(t, body, `http-equiv="refresh"`, "nothing is being sent")

	status, _ = s.get(t, "deliveries/999")
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = s.get(t, "deliveries/x")
	assert.Equal(t, http.StatusNotFound, status)
}

func TestHandlerForms(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, q *Queue) {
		action := testAction(t, "https://example.com", webhook.SendingDraft)
		draft := mustEnqueue(t, q, action, customer("a@example.com"), nil)
		s := newSentTabServer(t, q, nil)
		page := func(d *Delivery) string { return "deliveries/" + itoa(int(d.ID)) }

		// Each form redirects to the delivery's page (POST-redirect-GET).
		for _, step := range []struct {
			op        string
			wantState State
			wantFlash string
		}{
			{"release", StateScheduled, "Released"},
			{"cancel", StateCancelled, "Cancelled"},
			{"resend", StateScheduled, "Re-sent"},
		} {
			resp, _ := s.post(t, page(draft)+"/"+step.op, nil)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, step.op)
			loc, err := resp.Location()
			require.NoError(t, err)
			assert.Equal(t, "/sent/"+page(draft), loc.Path, "the redirect resolves under the mount point")
			assert.Equal(t, step.wantState, mustGet(t, q, draft.ID).State, step.op)
			_, body := s.get(t, strings.TrimPrefix(loc.RequestURI(), "/sent/"))
			assert.Contains(t, body, `<p class="banner done" role="status">`+step.wantFlash)
		}
		assert.Equal(t, 2, mustGet(t, q, draft.ID).Series, "the re-send started a new series")

		t.Run("scheduled: refreshes, and may be cancelled or re-sent", func(t *testing.T) {
			_, body := s.get(t, page(draft))
			assert.Contains(t, body, `<meta http-equiv="refresh" content="5">`)
			assert.Contains(t, body, "/cancel")
			assert.Contains(t, body, "/resend")
			assert.NotContains(t, body, "/release")
		})
		t.Run("an operation the state refuses", func(t *testing.T) {
			resp, body := s.post(t, page(draft)+"/release", nil)
			assert.Equal(t, http.StatusConflict, resp.StatusCode)
			assert.Contains(t, body, "cannot release delivery "+itoa(int(draft.ID))+": it is scheduled")
			assert.Contains(t, body, `<form method="post" action="../../deliveries/`+itoa(int(draft.ID))+`/cancel">`,
				"the page shown at the form's address links back correctly")
		})
		t.Run("unknown delivery or form", func(t *testing.T) {
			resp, _ := s.post(t, "deliveries/999/release", nil)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			resp, _ = s.post(t, page(draft)+"/delete", nil)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			status, _ := s.get(t, page(draft)+"/cancel")
			assert.Equal(t, http.StatusMethodNotAllowed, status, "a form's address is not a page")
		})
		assert.Equal(t, StateScheduled, mustGet(t, q, draft.ID).State, "nothing changed")
	})
}

func TestHandlerResendData(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	action := testAction(t, "https://example.com", webhook.SendingDraft)
	d := mustEnqueue(t, q, action, customer("old@example.com"), &EnqueueOptions{Metadata: map[string]string{"person": "7"}})
	_, err := q.Cancel(context.Background(), d.ID)
	require.NoError(t, err)
	path := "deliveries/" + itoa(int(d.ID)) + "/resend"

	tests := []struct {
		name       string
		resendData func(ctx context.Context, d *Delivery) (map[string]any, error)
		wantStatus int
		wantText   string
		wantData   map[string]any
	}{
		{"application error", func(context.Context, *Delivery) (map[string]any, error) {
			return nil, errors.New("directory unavailable")
		}, http.StatusInternalServerError, "the application could not give the current data: directory unavailable", customer("old@example.com")},
		{"data that does not render", func(context.Context, *Delivery) (map[string]any, error) {
			return map[string]any{"person": "no customer"}, nil
		}, http.StatusUnprocessableEntity, "customer", customer("old@example.com")},
		{"the person's current data", func(_ context.Context, d *Delivery) (map[string]any, error) {
			return customer("person-" + d.Metadata["person"] + "@example.com"), nil
		}, http.StatusSeeOther, "", customer("person-7@example.com")},
		{"no callback: the stored data", nil, http.StatusSeeOther, "", customer("person-7@example.com")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSentTabServer(t, q, &HandlerOptions{ResendData: tt.resendData})
			resp, body := s.post(t, path, nil)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Contains(t, body, tt.wantText)
			assert.Equal(t, tt.wantData, mustGet(t, q, d.ID).Data)
		})
	}
}

func TestHandlerRefusesCrossSitePosts(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	d := mustEnqueue(t, q, testAction(t, "https://example.com", webhook.SendingDraft), customer("a@example.com"), nil)
	s := newSentTabServer(t, q, nil)
	path := "deliveries/" + itoa(int(d.ID)) + "/release"
	for _, tt := range []struct {
		name   string
		header http.Header
	}{
		{"cross-site fetch", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"same-site but another origin", http.Header{"Sec-Fetch-Site": {"same-site"}}},
		{"another origin, older browser", http.Header{"Sec-Fetch-Site": nil, "Origin": {"https://attacker.example"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := s.post(t, path, tt.header)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.Equal(t, StateDraft, mustGet(t, q, d.ID).State, "nothing changed")
		})
	}
}

func TestHandlerReadOnly(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	action := testAction(t, "https://example.com", webhook.SendingDraft)
	draft := mustEnqueue(t, q, action, customer("a@example.com"), nil)
	s := newSentTabServer(t, q, &HandlerOptions{ReadOnly: true})

	_, body := s.get(t, "deliveries/"+itoa(int(draft.ID)))
	assert.NotContains(t, body, "<form", "no form is shown")
	assert.Contains(t, body, `<span class="readonly"`)
	for _, op := range []string{"release", "resend", "cancel"} {
		resp, _ := s.post(t, "deliveries/"+itoa(int(draft.ID))+"/"+op, nil)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, op)
	}
	assert.Equal(t, StateDraft, mustGet(t, q, draft.ID).State, "nothing changed")
}

func TestHandlerRedactsSecrets(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	action, err := webhook.Compile(webhook.Spec{
		URL: "https://crm-user:url-password@crm.example.com/v1/leads?api_key=query-secret&src=app",
		Headers: map[string]string{
			"Content-Type": "application/json",
			"X-Api-Key":    "header-secret",
			"X-Auth-Token": "{{ customer.token }}",
			"X-Team":       "sales",
			"Cookie":       "session=cookie-secret",
		},
		Body: `{"email": {{ customer.email | json }}}`,
	})
	require.NoError(t, err)
	d := mustEnqueue(t, q, action, map[string]any{"customer": map[string]any{"email": "a@example.com", "token": "data-secret"}}, &EnqueueOptions{Draft: true})
	s := newSentTabServer(t, q, nil)

	_, list := s.get(t, "")
	_, page := s.get(t, "deliveries/"+itoa(int(d.ID)))
	for _, body := range []string{list, page} {
		for _, secret := range []string{"crm-user", "url-password", "query-secret", "header-secret", "data-secret", "cookie-secret"} {
			assert.NotContains(t, body, secret)
		}
		assert.Contains(t, body, "https://crm.example.com/v1/leads?api_key=REDACTED&amp;src=app")
	}
	assert.Contains(t, page, `<th scope="row">Authorization</th><td><code>REDACTED</code>`)
	assert.Contains(t, page, `<th scope="row">X-Api-Key</th><td><code>REDACTED</code>`)
	assert.Contains(t, page, `<th scope="row">X-Team</th><td><code>sales</code>`, "other headers are shown")
}

func TestHandlerEscapesWhatItShows(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<html><body>`+hostile+`</body></html>`)
	})
	action, err := webhook.Compile(webhook.Spec{
		URL:      rc.URL + "/hook",
		Body:     `{"name": {{ customer.name | json }}}`,
		Response: map[string]string{"echo": "{{ customer.name }}"},
		Sending:  webhook.SendingAutomatic,
	})
	require.NoError(t, err)
	d := mustEnqueue(t, q, action, map[string]any{"customer": map[string]any{"name": hostile}}, &EnqueueOptions{
		IdempotencyKey: `"><script>alert(3)</script>`,
		Metadata:       map[string]string{"<script>k</script>": hostile},
	})
	workUntilIdle(t, q, testWorker(0))
	require.Equal(t, StateDelivered, mustGet(t, q, d.ID).State)
	s := newSentTabServer(t, q, nil)

	_, list := s.get(t, "?meta="+url.QueryEscape("<script>k</script>="+hostile))
	_, page := s.get(t, "deliveries/"+itoa(int(d.ID)))
	for name, body := range map[string]string{"list": list, "page": page} {
		assert.NotContains(t, body, "<script>", name)
		assert.NotContains(t, body, "<img", name)
		assert.Contains(t, body, "&lt;script&gt;alert(", name)
	}
	assert.Equal(t, []int64{d.ID}, listed(list), "the hostile metadata filter matched")
}

func TestHandlerRefresh(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	s := newSentTabServer(t, q, &HandlerOptions{Refresh: 2 * time.Second})
	d := mustEnqueue(t, q, testAction(t, "https://example.com", webhook.SendingDraft), customer("a@example.com"), nil)

	_, body := s.get(t, "")
	assert.NotContains(t, body, `http-equiv="refresh"`, "nothing is being sent")

	_, err := q.Release(context.Background(), d.ID)
	require.NoError(t, err)
	_, body = s.get(t, "?state=scheduled")
	assert.Contains(t, body, `<meta http-equiv="refresh" content="2">`)
	stop := link(body, ">Stop reloading")
	assert.Equal(t, "?refresh=0&state=scheduled", stop)

	_, body = s.get(t, stop)
	assert.NotContains(t, body, `http-equiv="refresh"`, "the person stopped it")
	assert.Equal(t, "?state=scheduled", link(body, ">Reload while"))
	assert.Contains(t, link(body, `><span class="dot st-draft">`), "refresh=0", "links keep it stopped")
}

func TestHandlerHeadersAndStyle(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	s := newSentTabServer(t, q, nil)
	resp, err := http.Get(s.URL + "/sent/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	resp, err = http.Get(s.URL + "/sent/assets/style.css")
	require.NoError(t, err)
	css, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/css; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, style, css)
	req, err := http.NewRequest(http.MethodGet, s.URL+"/sent/assets/style.css", nil)
	require.NoError(t, err)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
}

func TestHandlerDatabaseFailure(t *testing.T) {
	t.Parallel()
	q, _ := openSQLiteTest(t)
	var logged bytes.Buffer
	s := newSentTabServer(t, q, &HandlerOptions{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	require.NoError(t, q.Close())
	status, body := s.get(t, "")
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, body, "The delivery log could not be read.")
	assert.NotContains(t, body, "closed", "the page gives no detail")
	assert.Contains(t, logged.String(), "queue is closed", "the log does")
}

func TestNewHandlerWithoutQueue(t *testing.T) {
	assert.Panics(t, func() { NewHandler(nil, nil) })
}

// TestHandlerSealedLog: over a sealed log the pages show the handler's
// user the opened values (the person's data, the responses) while the
// database holds none of them in plain text, and still redact what is
// secret on screen; a server with a wrong key answers a page that names
// the delivery and the key, for the list, the delivery's page and a
// re-send alike.
func TestHandlerSealedLog(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			q, dsn := b.open(t)
			q.Keys = [][]byte{keyA}
			rc := secretReceiver(t)
			d := mustEnqueue(t, q, secretAction(t, rc.URL), customer(secretPerson), nil)
			workUntilIdle(t, q, testWorker(3))
			require.Equal(t, StateDelivered, mustGet(t, q, d.ID).State)

			s := newSentTabServer(t, q, nil)
			status, list := s.get(t, "")
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, []int64{d.ID}, listed(list))
			status, page := s.get(t, "deliveries/"+itoa(int(d.ID)))
			require.Equal(t, http.StatusOK, status)
			for _, opened := range []string{secretPerson, secretError, secretResponse} {
				assert.Contains(t, page, opened, "opened for the handler's user")
			}
			for _, body := range []string{list, page} {
				assert.NotContains(t, body, secretPassword)
				assert.NotContains(t, body, secretAuth)
			}
			assertNoSecret(t, rawLog(t, b.name, dsn), secretPassword, secretAuth, secretPerson, secretError, secretResponse)

			var logged bytes.Buffer
			wrong := reopen(t, b.name, dsn)
			wrong.Keys = [][]byte{keyB}
			ws := newSentTabServer(t, wrong, &HandlerOptions{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			for _, tc := range []struct {
				name, says string
				do         func() (int, string)
			}{
				{"list", "The list cannot be shown: delivery", func() (int, string) { return ws.get(t, "") }},
				{"delivery", "Delivery", func() (int, string) { return ws.get(t, "deliveries/"+itoa(int(d.ID))) }},
				{"re-send", "Delivery", func() (int, string) {
					resp, body := ws.post(t, "deliveries/"+itoa(int(d.ID))+"/resend", nil)
					return resp.StatusCode, body
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					status, body := tc.do()
					assert.Equal(t, http.StatusServiceUnavailable, status)
					assert.Regexp(t, tc.says+` `+itoa(int(d.ID))+` cannot be shown: its (spec|data) is sealed with key [0-9a-f]{8}, which is not among the queue&#39;s keys`, body,
						"the delivery and the key, by its id")
					assert.NotContains(t, body, "goroutine", "no stack")
					assert.NotContains(t, body, secretPerson)
				})
			}
			assert.Contains(t, logged.String(), "level=WARN")
			got := mustGet(t, q, d.ID)
			assert.Equal(t, StateDelivered, got.State, "nothing changed")
			assert.Equal(t, 1, got.Series)
		})
	}
}
