package webhook

import (
	"bytes"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/liquidhook/webhook/internal/dialect"
)

// A value printed into an action's URL ({{ }}, echo, cycle or ifchanged)
// stays in the part of the URL where the template printed it, so that
// data cannot send a request, with the action's credentials, to another
// endpoint:
//
//   - in the path, it stays inside its segment: every byte but the
//     unreserved ones (letters, digits, - . _ ~) is percent-encoded, so it
//     adds no / and ends the path with no ? or #. A segment that the value
//     leaves empty, "." or ".." fails the render, naming the value, since
//     no escape keeps it from naming another resource;
//   - in the query, it stays inside its parameter's name or value: &, =,
//     #, + and every other byte but the unreserved ones are
//     percent-encoded;
//   - in the userinfo (user:pass@), it is percent-encoded, and decoded
//     again into the Authorization header;
//   - in the host or port, it may hold only what a host or port holds
//     (letters, digits, - . _ : [ ]); anything else fails the render,
//     naming the value.
//
// A value whose last filter is url_encode, cgi_escape or uri_escape is
// already encoded: its percent-escapes and its + (a space, as url_encode
// writes it) are kept, and any other byte is escaped as above. A value
// printed before the template has written a scheme's :// is used as
// given: {{ event.callback_url }} is a whole URL from data, and its host
// still meets the Sender's address guard.
//
// Customer.io itself does not escape what a template prints into a URL.

// urlPrint is a value printed into a URL after its scheme: its bytes
// [start, end) in the rendered URL, and how it was printed.
type urlPrint struct {
	start, end int
	source     string
	encoded    bool
}

// urlPrints collects the values a URL template prints.
type urlPrints []urlPrint

// hook is the URL template's dialect.PrintHook: it records where each
// value lands and prints it unchanged, for placeURLPrints to place once
// the URL's shape, which the template's own text gives, is known.
func (ps *urlPrints) hook(p dialect.Print) (string, error) {
	if !bytes.Contains(p.Output, []byte("://")) {
		return p.Text, nil // the scheme, and what follows it, from data
	}
	encoded := p.Filter == "url_encode" || p.Filter == "cgi_escape" || p.Filter == "uri_escape"
	*ps = append(*ps, urlPrint{start: len(p.Output), end: len(p.Output) + len(p.Text), source: p.Source, encoded: encoded})
	return p.Text, nil
}

// urlPart is a part of a URL that a printed value can land in.
type urlPart uint8

const (
	partUserinfo urlPart = iota
	partHost
	partPath
	partQuery
	partFragment
)

// placeURLPrints escapes each printed value of raw, the rendered URL, for
// the part of the URL it was printed in. The parts are found in the
// template's own text (and in values used as given) alone: a printed
// value never moves a boundary. It takes time linear in raw's length.
func placeURLPrints(raw string, prints urlPrints) (string, error) {
	if len(prints) == 0 {
		return raw, nil
	}
	printed := make([]bool, len(raw))
	for _, p := range prints {
		for i := p.start; i < p.end; i++ {
			printed[i] = true
		}
	}
	// next finds the first byte of set at or after i outside the printed
	// values, or len(raw).
	next := func(i int, set string) int {
		for ; i < len(raw); i++ {
			if !printed[i] && strings.IndexByte(set, raw[i]) >= 0 {
				return i
			}
		}
		return len(raw)
	}
	authority := strings.Index(raw, "://") + len("://") // before the first print: see hook
	pathStart := next(authority, "/?#")
	// The userinfo ends at the template's last @ before the path; an @
	// inside a value was printed into the userinfo or the host, and is
	// escaped or refused there.
	hostStart := authority
	for i := pathStart - 1; i >= authority; i-- {
		if raw[i] == '@' && !printed[i] {
			hostStart = i + 1
			break
		}
	}
	queryStart := next(pathStart, "?#")
	fragmentStart := queryStart
	if queryStart < len(raw) && raw[queryStart] == '?' {
		fragmentStart = next(queryStart, "#")
	}
	// A value's part is the one its first byte is in; an empty value
	// printed just before a boundary belongs to the part the boundary
	// ends.
	partAt := func(i int) urlPart {
		switch {
		case i < hostStart:
			return partUserinfo
		case i <= pathStart:
			return partHost
		case i <= queryStart:
			return partPath
		case i <= fragmentStart:
			return partQuery
		}
		return partFragment
	}

	var b strings.Builder
	b.Grow(len(raw) + len(raw)/2)
	shifts := make([]int, len(prints)) // len(placed) - len(raw) after each print
	pos := 0
	for i, p := range prints {
		b.WriteString(raw[pos:p.start])
		text := raw[p.start:p.end]
		switch part := partAt(p.start); part {
		case partHost:
			if strings.IndexFunc(text, func(r rune) bool { return !isHostChar(r) }) >= 0 {
				return "", fmt.Errorf("%w: %s is printed into the host and holds a character a host cannot have", ErrInvalidURL, p.source)
			}
			b.WriteString(text)
		default:
			b.WriteString(escapeURLValue(text, p.encoded))
		}
		pos = p.end
		shifts[i] = b.Len() - pos
	}
	b.WriteString(raw[pos:])
	placed := b.String()

	// placedAt maps an offset of raw outside the printed values to placed.
	placedAt := func(x int) int {
		n := sort.Search(len(prints), func(i int) bool { return prints[i].end > x })
		if n == 0 {
			return x
		}
		return x + shifts[n-1]
	}
	// Each path segment that holds a value must still name one resource
	// below the one before it. Segments and values both run left to
	// right, so one pass checks each segment once.
	segStart, checked := pathStart+1, -1
	slash := next(segStart, "/") // the / that ends the segment
	for _, p := range prints {
		if partAt(p.start) != partPath {
			continue
		}
		for slash < p.start {
			segStart = slash + 1
			slash = next(segStart, "/")
		}
		if segStart == checked {
			continue
		}
		checked = segStart
		seg := placed[placedAt(segStart):placedAt(min(slash, queryStart))]
		if decoded, err := url.PathUnescape(seg); err == nil {
			seg = decoded
		}
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%w: %s makes the path segment %q", ErrInvalidURL, p.source, seg)
		}
	}
	return placed, nil
}

// isHostChar reports whether r may be part of a host and port as a
// template prints them: a name, an IPv4 or a bracketed IPv6 address, and
// a port.
func isHostChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._:[]", r)
}

// escapeURLValue percent-encodes every byte of s but the unreserved ones.
// An encoded value keeps its percent-escapes and its + (a space in a
// query, as url_encode writes it; a + elsewhere).
func escapeURLValue(s string, encoded bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case encoded && c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteString(s[i : i+3])
			i += 2
		case encoded && c == '+':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	return b.String()
}
