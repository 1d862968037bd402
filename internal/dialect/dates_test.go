package dialect

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDates(t *testing.T) {
	data := mustData(t, `{"event": {"ts": 1614265384, "ts_text": "1614265384", "ts_float": 1614265384.5, "iso": "2021-02-25T16:03:04+01:00", "day": "2021-02-25", "junk": "not a date", "nothing": null}}`)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "now in UTC", src: `{{ 'now' | date: "%F" }}`, want: "2021-02-25"},
		{name: "Customer.io's Help Scout idiom", src: `{% assign current_time = 'now' %}{{current_time | date: "%F"}}`, want: "2021-02-25"},
		{name: "today", src: `{{ "today" | date: "%Y-%m-%d %H:%M" }}`, want: "2021-02-25 23:30"},
		{name: "Unix seconds", src: `{{ event.ts | date: "%F %T %z" }}`, want: "2021-02-25 15:03:04 +0000"},
		{name: "Unix seconds as text", src: `{{ event.ts_text | date: "%s" }}`, want: "1614265384"},
		{name: "Unix seconds with a fraction", src: `{{ event.ts_float | date: "%T.%L" }}`, want: "15:03:04.500"},
		{name: "RFC 3339 converted to UTC", src: `{{ event.iso | date: "%H:%M %Z" }}`, want: "15:03 UTC"},
		{name: "a day", src: `{{ event.day | date: "%d %B %Y" }}`, want: "25 February 2021"},
		{name: "a format from the data", src: `{% assign f = "%Y" %}{{ event.ts | date: f }}`, want: "2021"},
		{name: "unreadable stays as it is", src: `{{ event.junk | date: "%F" }}`, want: "not a date"},
		{name: "null stays empty", src: `[{{ event.nothing | date: "%F" }}]`, want: "[]"},
		{name: "no format returns the input", src: `{{ event.ts | date: "" }}`, want: "1614265384"},
		{name: "textual forms", src: `{{ "2021-02-25T16:03:04+0100" | date: "%T" }} {{ "1 March 2021" | date: "%F" }} {{ "March 14, 2016" | date: "%s" }}`, want: "15:03:04 2021-03-01 1457913600"},
	})
}

// TestDateTimeZones: date's second argument names the zone to show the
// time in: an IANA name, an offset, or, as in Customer.io, a number of
// minutes behind UTC.
func TestDateTimeZones(t *testing.T) {
	data := mustData(t, `{"customer": {"tz": "Asia/Kolkata", "bad_tz": "Mars/Olympus_Mons", "offset": 360}, "event": {"ts": 1614265384, "summer": 1625079104, "iso": "2021-02-25T16:03:04+01:00"}}`)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "IANA name", src: `{{ event.ts | date: "%F %H:%M %Z %z", "America/New_York" }}`, want: "2021-02-25 10:03 EST -0500"},
		{name: "daylight saving time", src: `{{ event.summer | date: "%F %H:%M %Z", "America/New_York" }}`, want: "2021-06-30 14:51 EDT"},
		{name: "zone from the data", src: `{{ event.ts | date: "%H:%M %z", customer.tz }}`, want: "20:33 +0530"},
		{name: "now in a zone", src: `{{ 'now' | date: "%F %H:%M", "Asia/Tokyo" }}`, want: "2021-02-26 08:30"},
		{name: "UTC by name", src: `{{ event.ts | date: "%H:%M %Z", "UTC" }}`, want: "15:03 UTC"},
		{name: "empty zone is UTC", src: `{{ event.ts | date: "%H:%M", "" }}`, want: "15:03"},
		{name: "offset with colon", src: `{{ event.ts | date: "%H:%M %z", "+05:30" }}`, want: "20:33 +0530"},
		{name: "offset without colon", src: `{{ event.ts | date: "%H:%M %z", "-0800" }}`, want: "07:03 -0800"},
		{name: "offset in hours", src: `{{ event.ts | date: "%H:%M %Z", "+02" }}`, want: "17:03 +0200"},
		{name: "zoned text converted", src: `{{ event.iso | date: "%H:%M", "Europe/Berlin" }}`, want: "16:03"},
		{name: "minutes behind UTC, as Customer.io reads a number", src: `{{ event.ts | date: "%H:%M %z", 360 }} {{ event.ts | date: "%H:%M %z", -330 }} {{ event.ts | date: "%H:%M", customer.offset }}`, want: "09:03 -0600 20:33 +0530 09:03"},
		{name: "padding flags", src: `{{ event.ts | date: "%-H:%M %:z", "America/New_York" }}`, want: "10:03 -05:00"},
		{name: "unknown zone fails", src: `{{ event.ts | date: "%F", customer.bad_tz }}`, wantErr: ErrTemplate, errHas: `unknown time zone "Mars/Olympus_Mons"`},
		{name: "machine's zone refused", src: `{{ event.ts | date: "%F", "Local" }}`, wantErr: ErrTemplate, errHas: `unknown time zone "Local"`},
		{name: "path refused", src: `{{ event.ts | date: "%F", "../../etc/passwd" }}`, wantErr: ErrTemplate, errHas: "unknown time zone"},
		{name: "offset text out of range", src: `{{ event.ts | date: "%F", "+24:00" }}`, wantErr: ErrTemplate, errHas: "unknown time zone"},
		{name: "offset out of range", src: `{{ event.ts | date: "%F", 100000 }}`, wantErr: ErrTemplate, errHas: "out of range"},
	})
}

// TestDateTextForms: the date filter reads the textual dates data commonly
// holds, ISO 8601 in its variants above all.
func TestDateTextForms(t *testing.T) {
	runDialect(t, Options{}, nil, []dialectCase{
		{name: "RFC 3339", src: `{{ "2021-02-25T16:03:04+01:00" | date: "%F %T" }}`, want: "2021-02-25 15:03:04"},
		{name: "ISO 8601 offset without colon, with fraction", src: `{{ "2021-02-25T16:03:04.250-0130" | date: "%F %T.%L" }}`, want: "2021-02-25 17:33:04.250"},
		{name: "ISO 8601 offset in hours", src: `{{ "2021-02-25T16:03:04+01" | date: "%F %T" }}`, want: "2021-02-25 15:03:04"},
		{name: "ISO 8601 without seconds", src: `{{ "2021-02-25T16:03" | date: "%F %T" }} {{ "2021-02-25T16:03Z" | date: "%T" }} {{ "2021-02-25T16:03+01:00" | date: "%T" }}`, want: "2021-02-25 16:03:00 16:03:00 15:03:00"},
		{name: "space separated with a zone", src: `{{ "2021-02-25 16:03:04+01:00" | date: "%T" }} {{ "2021-02-25 16:03:04Z" | date: "%T" }} {{ "2021-02-25 16:03:04 +0100" | date: "%T" }}`, want: "15:03:04 16:03:04 15:03:04"},
		{name: "a day of one digit", src: `{{ "1 Mar 2021" | date: "%F" }} {{ "01 Mar 2021" | date: "%F" }}`, want: "2021-03-01 2021-03-01"},
		{name: "not a date stays as it is", src: `{{ "2021-02-30" | date: "%F" }} {{ "soon" | date: "%F" }}`, want: "2021-02-30 soon"},
	})
}

func TestCustomerIODateFilters(t *testing.T) {
	data := mustData(t, `{"ts": 1614265384}`)
	runDialect(t, Options{}, data, []dialectCase{
		{name: "add_day", src: `{{ ts | add_day: 5 | date: "%F" }} {{ ts | add_day | date: "%F" }}`, want: "2021-03-02 2021-02-26"},
		{name: "subtract_day", src: `{{ ts | subtract_day: 25 | date: "%F" }}`, want: "2021-01-31"},
		{name: "months and years", src: `{{ ts | add_month: 1 | date: "%F" }} {{ ts | subtract_month: 2 | date: "%F" }} {{ ts | add_year: 1 | date: "%F" }} {{ ts | subtract_year: 3 | date: "%F" }}`, want: "2021-03-25 2020-12-25 2022-02-25 2018-02-25"},
		{name: "Unix seconds out", src: `{{ ts | add_day: 1 | minus: ts }}`, want: "86400"},
		{name: "now", src: `{{ 'now' | date: '%s' | plus: 0 | add_day: 1 | date: '%F' }}`, want: "2021-02-26"},
		{name: "timezone, in hours as Customer.io's legacy Liquid reads them", src: `{{ ts | timezone: "America/New_York" | date: "%H:%M %Z" }} {{ ts | timezone: -8 | date: "%H:%M %z" }}`, want: "10:03 EST 07:03 -0800"},
		{name: "Jekyll's date strings", src: `{{ ts | date_to_string }}|{{ ts | date_to_string: "ordinal" }}|{{ ts | date_to_long_string: "ordinal", "US" }}|{{ ts | date_to_xmlschema }}|{{ ts | date_to_rfc822 }}`, want: "25 Feb 2021|25th Feb 2021|February 25th, 2021|2021-02-25T15:03:04+00:00|Thu, 25 Feb 2021 15:03:04 +0000"},
		{name: "not a date", src: `{{ 'soon' | add_day: 1 }}`, wantErr: ErrTemplate, errHas: "text is not a date"},
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
