package dialect

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/osteele/tuesday"
)

// Dates: the date filter (Ruby's strftime, through tuesday), the inputs
// it reads ('now', Unix seconds, textual dates), time zones, and
// Customer.io's date filters (add_day and the like, timezone,
// date_to_string and the like).

func init() {
	d := register("date", 1, 2, dateFilter)
	d.prepare = func(args []expr) any {
		if len(args) == 0 {
			return nil
		}
		if lit, ok := args[0].(literal); ok {
			if f, ok := lit.v.(string); ok && !wideDirective(f) {
				if c, err := tuesday.Compile(f); err == nil {
					return c
				}
			}
		}
		return nil
	}
	for _, unit := range []string{"day", "month", "year"} {
		register("add_"+unit, 0, 1, shiftDate(unit, 1))
		register("subtract_"+unit, 0, 1, shiftDate(unit, -1))
	}
	register("timezone", 1, 1, timezoneFilter)
	register("date_to_xmlschema", 0, 0, fixedFormat("%Y-%m-%dT%H:%M:%S%:z"))
	register("date_to_rfc822", 0, 0, fixedFormat("%a, %d %b %Y %H:%M:%S %z"))
	register("date_to_string", 0, 2, jekyllDate("%b"))
	register("date_to_long_string", 0, 2, jekyllDate("%B"))
}

// zonedTime is a time shown in a zone of its own (the timezone filter):
// date formats it there rather than in UTC.
type zonedTime struct{ t time.Time }

// dateLayouts are the textual dates the date filter reads, in UTC unless
// they carry a zone.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05Z07",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04Z0700",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006/01/02",
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
	"2 January 2006",
	"2 Jan 2006",
}

// toTime reads a date as the date filter does: 'now' and 'today', times,
// Unix seconds (numbers or digits), and the common textual forms.
func toTime(st *state, v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), true
	case zonedTime:
		return x.t, true
	case string:
		s := trimSpace(x)
		switch strings.ToLower(s) {
		case "now", "today":
			return st.run.now().UTC(), true
		case "":
			return time.Time{}, false
		}
		if s[0] != '-' && s[0] != '+' {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return time.Unix(n, 0).UTC(), true
			}
			if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && isDecimal(s) {
				return unixFloat(f), true
			}
		}
		for _, layout := range dateLayouts {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				return t.UTC(), true
			}
		}
		return time.Time{}, false
	}
	if s, ok := textOf(v); ok {
		return toTime(st, s)
	}
	n, ok := numberOf(v)
	switch {
	case !ok:
		return time.Time{}, false
	case n.isFloat:
		if math.IsInf(n.f, 0) || math.IsNaN(n.f) || math.Abs(n.f) > 1e15 {
			return time.Time{}, false
		}
		return unixFloat(n.f), true
	}
	return time.Unix(n.i, 0).UTC(), true
}

func unixFloat(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// wideDirective reports a field width (%1000000Y) that could build more
// than a render may print; such formats are refused.
func wideDirective(f string) bool {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(f) && strings.IndexByte("-_^#0:", f[j]) >= 0 {
			j++
		}
		k := j
		for k < len(f) && isDigit(f[k]) {
			k++
		}
		if k-j > 3 {
			return true
		}
		i = k - 1
	}
	return false
}

// dateFilter formats a date with strftime directives, in UTC unless the
// second argument names a zone. Anything it cannot read as a date is
// returned as it is, as in Liquid.
func dateFilter(fa *filterArgs, in any) (any, error) {
	if isNil(in) {
		return nil, nil
	}
	format, err := fa.argText(0)
	if err != nil {
		return nil, err
	}
	if format == "" {
		return in, nil
	}
	loc, err := location(fa.arg(1), fa.has(1), false)
	if err != nil {
		return nil, err
	}
	t, ok := toTime(fa.st, in)
	if !ok {
		return in, nil
	}
	if loc != nil {
		t = t.In(loc)
	}
	f, _ := fa.prep.(*tuesday.Formatter)
	if f == nil {
		if wideDirective(format) {
			return nil, fa.st.run.fail(outputLimit(fa.st.max))
		}
		if f, err = tuesday.Compile(format); err != nil {
			return nil, err
		}
	}
	return fa.result(f.Format(t))
}

// location reads a time zone: absent or empty for none (UTC), an IANA
// name such as "America/New_York", an offset such as "+05:30" or
// "-0800", or a number: minutes behind UTC, as in Customer.io's date
// (360 is UTC-6), or hours ahead of it for the timezone filter. "Local"
// is refused, so that a render does not depend on the machine it runs on.
func location(zone any, given, hours bool) (*time.Location, error) {
	if !given || isNil(zone) {
		return nil, nil
	}
	if n, ok := numberOf(zone); ok {
		off := n.float()
		if hours {
			off *= 60
		} else {
			off = -off
		}
		if math.Abs(off) > 18*60 {
			return nil, fmt.Errorf("time zone offset %v is out of range", n.value())
		}
		sec := int(math.Round(off * 60))
		sign, abs := '+', sec
		if sec < 0 {
			sign, abs = '-', -sec
		}
		return time.FixedZone(fmt.Sprintf("%c%02d%02d", sign, abs/3600, abs/60%60), sec), nil
	}
	name, ok := textOf(zone)
	if !ok {
		return nil, fmt.Errorf("unknown time zone")
	}
	name = trimSpace(name)
	switch {
	case name == "":
		return nil, nil
	case name == "UTC" || name == "Z":
		return time.UTC, nil
	}
	if loc, ok := fixedZone(name); ok {
		return loc, nil
	}
	if len(name) > 64 || strings.EqualFold(name, "local") || strings.Contains(name, "..") {
		return nil, fmt.Errorf("unknown time zone %q", truncateText(name, 64))
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// fixedZone reads a UTC offset: +hh, +hhmm or +hh:mm, with + or -.
func fixedZone(s string) (*time.Location, bool) {
	var digits string
	switch {
	case len(s) == 3, len(s) == 5:
		digits = s[1:]
	case len(s) == 6 && s[3] == ':':
		digits = s[1:3] + s[4:]
	default:
		return nil, false
	}
	if s[0] != '+' && s[0] != '-' {
		return nil, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return nil, false
		}
	}
	h, _ := strconv.Atoi(digits[:2])
	m := 0
	if len(digits) == 4 {
		m, _ = strconv.Atoi(digits[2:])
	}
	if h > 23 || m > 59 {
		return nil, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return time.FixedZone(fmt.Sprintf("%c%02d%02d", s[0], h, m), off), true
}

// shiftDate adds (sign 1) or subtracts n units to a date and returns Unix
// seconds, as Customer.io's add_day, subtract_month and the like do.
func shiftDate(unit string, sign int) func(fa *filterArgs, in any) (any, error) {
	return func(fa *filterArgs, in any) (any, error) {
		t, ok := toTime(fa.st, in)
		if !ok {
			return nil, fmt.Errorf("%s is not a date", describe(in))
		}
		n, err := fa.intArg(0, 1)
		if err != nil {
			return nil, err
		}
		if n > 1e6 || n < -1e6 {
			return nil, fmt.Errorf("%d is too many", n)
		}
		n *= sign
		switch unit {
		case "day":
			t = t.AddDate(0, 0, n)
		case "month":
			t = t.AddDate(0, n, 0)
		default:
			t = t.AddDate(n, 0, 0)
		}
		return number{i: t.Unix()}.value(), nil
	}
}

// timezoneFilter shows a date in a zone: an IANA name, an offset, or a
// number of hours (as in Customer.io's legacy Liquid, where this filter
// comes from). A following date formats it there.
func timezoneFilter(fa *filterArgs, in any) (any, error) {
	t, ok := toTime(fa.st, in)
	if !ok {
		return in, nil
	}
	loc, err := location(fa.arg(0), true, true)
	if err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.UTC
	}
	return zonedTime{t.In(loc)}, nil
}

func fixedFormat(format string) func(fa *filterArgs, in any) (any, error) {
	f, err := tuesday.Compile(format)
	if err != nil {
		panic(err)
	}
	return func(fa *filterArgs, in any) (any, error) {
		t, ok := toTime(fa.st, in)
		if !ok {
			return in, nil
		}
		return f.Format(t), nil
	}
}

// jekyllDate is Jekyll's date_to_string and date_to_long_string: "07 Nov
// 2008", with "ordinal" "7th Nov 2008", and with "ordinal", "US" "Nov
// 7th, 2008".
func jekyllDate(month string) func(fa *filterArgs, in any) (any, error) {
	return func(fa *filterArgs, in any) (any, error) {
		t, ok := toTime(fa.st, in)
		if !ok {
			return in, nil
		}
		kind, err := fa.argText(0)
		if err != nil {
			return nil, err
		}
		style, err := fa.argText(1)
		if err != nil {
			return nil, err
		}
		m, _ := tuesday.Strftime(month, t)
		if kind != "ordinal" {
			return fmt.Sprintf("%02d %s %d", t.Day(), m, t.Year()), nil
		}
		day := strconv.Itoa(t.Day()) + ordinal(t.Day())
		if style == "US" {
			return fmt.Sprintf("%s %s, %d", m, day, t.Year()), nil
		}
		return fmt.Sprintf("%s %s %d", day, m, t.Year()), nil
	}
}

func ordinal(day int) string {
	if day%100 >= 11 && day%100 <= 13 {
		return "th"
	}
	switch day % 10 {
	case 1:
		return "st"
	case 2:
		return "nd"
	case 3:
		return "rd"
	}
	return "th"
}
