package delivery

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRelativeTime(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		at   time.Time
		want string
	}{
		{"now", now, "just now"},
		{"under a second", now.Add(-999 * time.Millisecond), "just now"},
		{"seconds", now.Add(-42 * time.Second), "42 s ago"},
		{"minutes", now.Add(-59 * time.Minute), "59 min ago"},
		{"hours", now.Add(-47 * time.Hour), "47 h ago"},
		{"days", now.Add(-72 * time.Hour), "3 days ago"},
		{"in the future", now.Add(10*time.Second + 500*time.Millisecond), "in 10 s"},
		{"later today", now.Add(3 * time.Hour), "in 3 h"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, relativeTime(tt.at, now))
		})
	}
}

func TestNewTimeView(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := time.Date(2026, 3, 1, 13, 58, 30, 250e6, time.FixedZone("CET", 3600))
	assert.Equal(t, &timeView{ISO: "2026-03-01T12:58:30.25Z", Abs: "2026-03-01 12:58:30.250 UTC", Short: "2026-03-01 12:58:30 UTC", Rel: "in 58 min"}, newTimeView(at, now))
	assert.Nil(t, newTimeView(time.Time{}, now), "no time, no view")
}

func TestDurationText(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 ms"},
		{500 * time.Microsecond, "< 1 ms"},
		{42 * time.Millisecond, "42 ms"},
		{1500 * time.Millisecond, "1.5 s"},
		{10*time.Minute + 20*time.Second + 400*time.Millisecond, "10m20s"},
	} {
		assert.Equal(t, tt.want, durationText(tt.d), tt.d.String())
	}
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int]string{1: "1 byte", 512: "512 bytes", 10 << 10: "10.0 KiB", 3 << 20: "3.0 MiB"} {
		assert.Equal(t, want, sizeText(n))
	}
}

func TestNewBodyView(t *testing.T) {
	long := `{"items": [` + strings.Repeat(`1, `, 400) + `1]}`
	for _, tt := range []struct {
		name string
		body string
		want bodyView
	}{
		{"empty", "", bodyView{Empty: true, Size: "empty"}},
		{"JSON, indented", `{"a":[1,2]}`, bodyView{Text: "{\n  \"a\": [\n    1,\n    2\n  ]\n}", Size: "11 bytes", Kind: "JSON, indented", Open: true}},
		{"text", "OK", bodyView{Text: "OK", Size: "2 bytes", Kind: "text", Open: true}},
		{"not UTF-8", "a\xffb", bodyView{Text: "a\uFFFDb", Size: "3 bytes", Kind: "not UTF-8", Open: true}},
		{"many lines", strings.Repeat("line\n", foldLines), bodyView{Text: strings.Repeat("line\n", foldLines), Size: "60 bytes", Kind: "text"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, newBodyView([]byte(tt.body)))
		})
	}
	t.Run("long JSON is folded", func(t *testing.T) {
		v := newBodyView([]byte(long))
		assert.False(t, v.Open)
		assert.Equal(t, "JSON, indented", v.Kind)
	})
}

func TestNewStatusView(t *testing.T) {
	assert.Equal(t, statusView{Text: "no response", Class: "none"}, newStatusView(0))
	assert.Equal(t, statusView{204, "204", "ok"}, newStatusView(204))
	assert.Equal(t, statusView{302, "302", "redirect"}, newStatusView(302))
	assert.Equal(t, statusView{429, "429", "bad"}, newStatusView(429))
}

func TestParseListFilter(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		want    *PageOptions
		wantErr string
	}{
		{"none", "", &PageOptions{Limit: 50}, ""},
		{"everything", "state=draft,failed&state=sending&host=+api.example.com+&meta=person%3D7&meta=team%3D+a+b&key=k-1&before=12",
			&PageOptions{States: []State{StateDraft, StateFailed, StateSending}, Host: "api.example.com",
				Metadata: map[string]string{"person": "7", "team": "a b"}, IdempotencyKey: "k-1", Before: 12, Limit: 50}, ""},
		{"a value with =", "meta=q%3Da%3Db", &PageOptions{Metadata: map[string]string{"q": "a=b"}, Limit: 50}, ""},
		{"the same pair twice", "meta=a%3D1&meta=a%3D1", &PageOptions{Metadata: map[string]string{"a": "1"}, Limit: 50}, ""},
		{"unknown state", "state=gone", nil, `unknown state "gone"`},
		{"pair without =", "meta=person", nil, `metadata filter "person": want key=value`},
		{"pair without key", "meta=%3D7", nil, `want key=value`},
		{"a key given twice", "meta=a%3D1&meta=a%3D2", nil, `key "a" is given twice`},
		{"cursor not a number", "before=x", nil, `page cursor "x"`},
		{"cursor not positive", "before=0", nil, `page cursor "0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			f, err := parseListFilter(q)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.options(50))
		})
	}
}

func TestListFilterLink(t *testing.T) {
	q, err := url.ParseQuery("state=draft&host=h.example&meta=a%3D1&key=k&before=9&refresh=0")
	require.NoError(t, err)
	f, err := parseListFilter(q)
	require.NoError(t, err)
	assert.Equal(t, "?host=h.example&key=k&meta=a%3D1&refresh=0&state=failed", f.link([]State{StateFailed}, 0),
		"a tab keeps the other filters and starts from the newest")
	assert.Equal(t, "?before=3&host=h.example&key=k&meta=a%3D1&refresh=0&state=draft", f.link(f.States, 3))
	assert.Equal(t, "./", listFilter{}.link(nil, 0), "no filter: the list itself")
}

func TestWaitingText(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		waiting   *Waiting
		want      string
		wantUntil bool
	}{
		{"not waiting", nil, "", false},
		{"paused", &Waiting{Reason: WaitPaused, Until: now.Add(time.Minute)},
			"for its destination, https://a.example:443, paused after failing; a probe is sent", true},
		{"resuming", &Waiting{Reason: WaitResuming},
			"for its destination, https://a.example:443, resumed: it is queued again shortly", false},
		{"disabled", &Waiting{Reason: WaitDisabled},
			"for its destination, https://a.example:443, disabled after failing for long: it will fail", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, until := waitingText(&Delivery{Destination: "https://a.example:443", Waiting: tc.waiting}, now)
			assert.Equal(t, tc.want, text)
			if tc.wantUntil {
				require.NotNil(t, until)
				assert.Equal(t, "in 1 min", until.Rel)
			} else {
				assert.Nil(t, until)
			}
		})
	}
}

// TestOutcomes: the page names the outcome of every error class an attempt
// can have, beside the class.
func TestOutcomes(t *testing.T) {
	for _, class := range []webhook.ErrorClass{"", webhook.ClassStatus, webhook.ClassTimeout,
		webhook.ClassConnection, webhook.ClassTooLarge, webhook.ClassRedirect, webhook.ClassBlocked,
		webhook.ClassMapping, webhook.ClassCanceled, webhook.ClassInvalid, ClassInterrupted, ClassDisabled} {
		t.Run(string(class), func(t *testing.T) {
			assert.NotEmpty(t, outcomes[class])
		})
	}
}
