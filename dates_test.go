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
		{name: "Customer.io's Help Scout idiom", src: `{% assign current_time = 'now' %}{{current_time | date: "%F"}}`, want: "2021-02-25"},
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

// TestDateTimeZones: a second argument to date names the zone to show the
// time in; without it, or with "UTC", times are shown in UTC.
func TestDateTimeZones(t *testing.T) {
	data := mustData(t, `{"customer": {"tz": "Asia/Kolkata", "bad_tz": "Mars/Olympus_Mons"}, "event": {"ts": 1614265384, "summer": 1625079104, "iso": "2021-02-25T16:03:04+01:00"}}`)
	runDialect(t, Compiler{}, data, []dialectCase{
		{name: "IANA name", src: `{{ event.ts | date: "%F %H:%M %Z %z", "America/New_York" }}`, want: "2021-02-25 10:03 EST -0500"},
		{name: "daylight saving time", src: `{{ event.summer | date: "%F %H:%M %Z", "America/New_York" }}`, want: "2021-06-30 14:51 EDT"},
		{name: "zone from the data", src: `{{ event.ts | date: "%H:%M %z", customer.tz }}`, want: "20:33 +0530"},
		{name: "zoned text converted", src: `{{ event.iso | date: "%H:%M", "Europe/Berlin" }}`, want: "16:03"},
		{name: "now in a zone", src: `{{ 'now' | date: "%F %H:%M", "Asia/Tokyo" }}`, want: "2021-02-26 08:30"},
		{name: "UTC by name", src: `{{ event.ts | date: "%H:%M %Z", "UTC" }}`, want: "15:03 UTC"},
		{name: "empty zone is UTC", src: `{{ event.ts | date: "%H:%M", "" }}`, want: "15:03"},
		{name: "offset with colon", src: `{{ event.ts | date: "%H:%M %z", "+05:30" }}`, want: "20:33 +0530"},
		{name: "offset without colon", src: `{{ event.ts | date: "%H:%M %z", "-0800" }}`, want: "07:03 -0800"},
		{name: "offset in hours", src: `{{ event.ts | date: "%H:%M %Z", "+02" }}`, want: "17:03 +0200"},
		{name: "slow path formats in the zone too", src: `{{ event.ts | date: "%-H:%M %:z", "America/New_York" }}`, want: "10:03 -05:00"},
		{name: "unknown zone fails", src: `{{ event.ts | date: "%F", customer.bad_tz }}`, wantErr: ErrTemplate, errHas: `unknown time zone "Mars/Olympus_Mons"`},
		{name: "machine's zone refused", src: `{{ event.ts | date: "%F", "Local" }}`, wantErr: ErrTemplate, errHas: `unknown time zone "Local"`},
		{name: "path refused", src: `{{ event.ts | date: "%F", "../../etc/passwd" }}`, wantErr: ErrTemplate, errHas: "unknown time zone"},
		{name: "offset out of range", src: `{{ event.ts | date: "%F", "+24:00" }}`, wantErr: ErrTemplate, errHas: "unknown time zone"},
	})
}

func TestFixedZone(t *testing.T) {
	for in, want := range map[string]int{"+05:30": 19800, "-0800": -28800, "+02": 7200, "-00:00": 0, "+23:59": 86340} {
		loc, ok := fixedZone(in)
		require.True(t, ok, in)
		_, off := time.Date(2021, 1, 1, 0, 0, 0, 0, loc).Zone()
		assert.Equal(t, want, off, in)
	}
	for _, in := range []string{"", "+", "+5", "05:30", "+05:", "+0530x", "+05-30", "+0:530", "+24", "+05:60", "+ab", "UTC"} {
		_, ok := fixedZone(in)
		assert.False(t, ok, in)
	}
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

// TestDateTextForms: the date filter reads the textual dates data commonly
// holds, ISO 8601 in its variants above all.
func TestDateTextForms(t *testing.T) {
	runDialect(t, Compiler{}, nil, []dialectCase{
		{name: "RFC 3339", src: `{{ "2021-02-25T16:03:04+01:00" | date: "%F %T" }}`, want: "2021-02-25 15:03:04"},
		{name: "ISO 8601 offset without colon", src: `{{ "2021-02-25T16:03:04+0100" | date: "%F %T" }}`, want: "2021-02-25 15:03:04"},
		{name: "ISO 8601 offset without colon, with fraction", src: `{{ "2021-02-25T16:03:04.250-0130" | date: "%F %T.%L" }}`, want: "2021-02-25 17:33:04.250"},
		{name: "ISO 8601 offset in hours", src: `{{ "2021-02-25T16:03:04+01" | date: "%F %T" }}`, want: "2021-02-25 15:03:04"},
		{name: "ISO 8601 without seconds", src: `{{ "2021-02-25T16:03" | date: "%F %T" }} {{ "2021-02-25T16:03Z" | date: "%T" }} {{ "2021-02-25T16:03+01:00" | date: "%T" }}`, want: "2021-02-25 16:03:00 16:03:00 15:03:00"},
		{name: "space separated with a zone", src: `{{ "2021-02-25 16:03:04+01:00" | date: "%T" }} {{ "2021-02-25 16:03:04Z" | date: "%T" }} {{ "2021-02-25 16:03:04 +0100" | date: "%T" }}`, want: "15:03:04 16:03:04 15:03:04"},
		{name: "a day of one digit", src: `{{ "1 March 2021" | date: "%F" }} {{ "1 Mar 2021" | date: "%F" }} {{ "01 Mar 2021" | date: "%F" }}`, want: "2021-03-01 2021-03-01 2021-03-01"},
		{name: "not a date stays as it is", src: `{{ "2021-02-30" | date: "%F" }} {{ "soon" | date: "%F" }}`, want: "2021-02-30 soon"},
	})
}
