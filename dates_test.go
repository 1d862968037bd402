package webhook

import (
	"testing"
	"time"

	"github.com/osteele/tuesday"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDates(t *testing.T) {
	data := mustData(t, `{"event": {"ts": 1614265384, "ts_text": "1614265384", "ts_float": 1614265384.5, "iso": "2021-02-25T16:03:04+01:00", "day": "2021-02-25", "junk": "not a date", "nothing": null}}`)
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "now in UTC", src: `{{ 'now' | date: "%F" }}`, want: "2021-02-25"},
		{name: "the seed's Help Scout idiom", src: `{% assign current_time = 'now' %}{{current_time | date: "%F"}}`, want: "2021-02-25"},
		{name: "today", src: `{{ "today" | date: "%Y-%m-%d %H:%M" }}`, want: "2021-02-25 23:30"},
		{name: "Unix seconds", src: `{{ event.ts | date: "%F %T %z" }}`, want: "2021-02-25 15:03:04 +0000"},
		{name: "Unix seconds as text", src: `{{ event.ts_text | date: "%s" }}`, want: "1614265384"},
		{name: "Unix seconds with a fraction", src: `{{ event.ts_float | date: "%T.%L" }}`, want: "15:03:04.500"},
		{name: "RFC 3339 converted to UTC", src: `{{ event.iso | date: "%H:%M %Z" }}`, want: "15:03 UTC"},
		{name: "a day", src: `{{ event.day | date: "%d %B %Y" }}`, want: "25 February 2021"},
		{name: "unreadable stays as it is", src: `{{ event.junk | date: "%F" }}`, want: "not a date"},
		{name: "null stays empty", src: `[{{ event.nothing | date: "%F" }}]`, want: "[]"},
		{name: "no format returns the input", src: `{{ event.ts | date: "" }}`, want: "1614265384"},
	})
}

// TestFastStrftimeMatchesTuesday checks the plain directives formatted
// here against tuesday, which formats everything else.
func TestFastStrftimeMatchesTuesday(t *testing.T) {
	times := []time.Time{
		time.Date(2021, 2, 25, 15, 3, 4, 5e8, time.UTC),
		time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC),
		time.Date(5, 7, 4, 1, 2, 3, 0, time.UTC),
		time.Date(2023, 6, 5, 9, 30, 0, 0, time.FixedZone("X", -(9*3600+30*60))),
	}
	for _, code := range fastDirectives {
		format := "<%" + string(code) + ">"
		parts, ok := compileFast(format)
		require.True(t, ok, format)
		df := &dateFormat{parts: parts}
		for _, tm := range times {
			want, err := tuesday.Strftime(format, tm)
			require.NoError(t, err)
			assert.Equal(t, want, df.format(tm), "%s at %v", format, tm)
		}
	}
	for _, format := range []string{"%-d", "%_m", "%10Y", "%:z", "%c", "%", "abc%"} {
		_, ok := compileFast(format)
		assert.False(t, ok, format)
	}
}
