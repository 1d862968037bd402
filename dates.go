package webhook

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/osteele/liquid/values"
	"github.com/osteele/tuesday"
)

// The date filter: Customer.io's inputs ('now', Unix seconds, textual
// dates), strftime formats, the common ones formatted without the engine's
// help, in UTC or in the time zone given as a second argument.

// dateLayouts are the textual dates the date filter reads, in UTC unless
// they carry a zone.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	// ISO 8601 as other systems write it: offsets without a colon
	// (PHP's DATE_ISO8601, Java) or in hours, minutes without seconds.
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
	"2 January 2006", // a day of one or two digits
	"2 Jan 2006",
}

// dateFilter formats a date with strftime directives, in UTC unless zone
// names another time zone. It reads 'now' and 'today', Unix seconds
// (numbers or digit strings), times and the common textual forms; anything
// else is returned unchanged, as in Liquid.
func (e *engine) dateFilter(v, format, zone any) (any, error) {
	v = values.ToLiquid(v)
	f, err := e.text(format)
	if err != nil {
		return nil, err
	}
	if f == "" {
		return v, nil
	}
	loc, err := e.location(zone)
	if err != nil {
		return nil, err
	}
	t, ok := e.toTime(v)
	if !ok {
		return v, nil
	}
	formatter, err := e.formatter(f)
	if err != nil {
		return nil, err
	}
	out := formatter.format(t.In(loc))
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

// location reads the date filter's time zone: absent or empty for UTC, an
// IANA name such as "America/New_York", or a fixed offset such as "+05:30"
// or "-0800". "Local" is refused, so that a render does not depend on the
// machine it runs on. Names are looked up once per engine.
func (e *engine) location(zone any) (*time.Location, error) {
	if zone == nil {
		return time.UTC, nil
	}
	name, err := e.text(zone)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || name == "UTC" || name == "Z" {
		return time.UTC, nil
	}
	if cached, ok := e.zones.Load(name); ok {
		return cached.(*time.Location), nil
	}
	loc, ok := fixedZone(name)
	if !ok {
		if len(name) > 64 || strings.EqualFold(name, "local") {
			return nil, fmt.Errorf("date: unknown time zone %q", truncate(name, 64))
		}
		if loc, err = time.LoadLocation(name); err != nil {
			return nil, fmt.Errorf("date: unknown time zone %q", name)
		}
	}
	if e.nzone.Add(1) <= 256 {
		e.zones.Store(name, loc)
	}
	return loc, nil
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
