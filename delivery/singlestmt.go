package delivery

import "strings"

// singleStatement reports whether query holds exactly one SQL statement,
// and returns the text to prepare for it: query itself, or query cut after
// the statement's semicolon when only spaces and comments follow it.
//
// The statement cache needs this because modernc's driver keeps a prepared
// statement only for text that SQLite parses whole in one go; anything else,
// even "SELECT 1;\n", it re-parses statement by statement on every run, so
// caching it would save nothing. Scripts of several statements (migrations)
// are refused here and run uncached, as before. The scan knows SQLite's
// quotes and comments, so a semicolon inside them does not count; where it
// cannot be sure (an unterminated quote, a semicolon inside CREATE TRIGGER)
// it refuses, and the text runs uncached.
func singleStatement(query string) (string, bool) {
	content := false // a token other than spaces and comments seen
	for i := 0; i < len(query); {
		if n := blankPrefix(query[i:]); n > 0 {
			i += n
			continue
		}
		switch c := query[i]; c {
		case '\'', '"', '`', '[':
			end := c
			if c == '[' {
				end = ']'
			}
			// A doubled quote inside a literal ends it and starts
			// another at once, which this scan sees as two tokens:
			// either way nothing between them is a semicolon.
			j := strings.IndexByte(query[i+1:], end)
			if j < 0 {
				return "", false
			}
			i += j + 2
			content = true
		case ';':
			if !content || blankPrefix(query[i+1:]) != len(query)-i-1 {
				return "", false
			}
			return query[:i+1], true
		default:
			i++
			content = true
		}
	}
	if !content {
		return "", false
	}
	return query, true
}

// blankPrefix returns the length of the spaces and comments s starts with:
// what SQLite skips between tokens. A block comment left open runs to the
// end of the text, as SQLite reads it.
func blankPrefix(s string) int {
	i := 0
	for i < len(s) {
		switch {
		case isSQLSpace(s[i]):
			i++
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return len(s)
			}
			i += j + 1
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return len(s)
			}
			i += j + 4
		default:
			return i
		}
	}
	return i
}

// isSQLSpace reports whether SQLite's tokenizer treats c as white space
// between tokens. A vertical tab is not: SQLite refuses it there, and
// counting it as content errs toward running text uncached.
func isSQLSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\f', '\r':
		return true
	}
	return false
}
