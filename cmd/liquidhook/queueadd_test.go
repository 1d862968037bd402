package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lines is a JSON Lines data file of people with these emails.
func lines(emails ...string) string {
	var b strings.Builder
	for _, e := range emails {
		fmt.Fprintf(&b, `{"customer": {"email": %q}}`+"\n", e)
	}
	return b.String()
}

// listed returns the deliveries queue list --json prints.
func listed(t *testing.T, db string) []queueShown {
	t.Helper()
	code, stdout, stderr := runCLI(t, "queue", "list", "--json", "--limit", "1000", "--db", db)
	require.Equal(t, exitOK, code, stderr)
	var ds []queueShown
	require.NoError(t, json.Unmarshal([]byte(stdout), &ds))
	return ds
}

func TestQueueAddLines(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	dir := t.TempDir()
	people := writeFile(t, dir, "people.jsonl", lines("a@example.com", "b@example.com")+"\n   \n"+lines("c@example.com"))
	code, stdout, stderr := runCLI(t, "queue", "add", "--action", f.action, "--data", people, "--db", f.db)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "1\n2\n3\n", stdout, "one id a line, blank lines skipped")

	f.work(t)
	emails := map[string]bool{}
	for _, r := range f.seen() {
		var body struct{ Email string }
		require.NoError(t, json.Unmarshal([]byte(r.body), &body))
		emails[body.Email] = true
	}
	assert.Equal(t, map[string]bool{"a@example.com": true, "b@example.com": true, "c@example.com": true}, emails)
	for _, d := range listed(t, f.db) {
		assert.Equal(t, "delivered", d.State)
	}
}

func TestQueueAddDetectsLines(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          int
	}{
		{"lines in a .json file", lines("a@example.com", "b@example.com"), 2},
		{"one object on one line", lines("a@example.com"), 1},
		{"one object over several lines", "{\n  \"customer\": {\"email\": \"a@example.com\"}\n}\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "q.db")
			code, stdout, stderr := runCLI(t, "queue", "add", "--action", f.action, "--data",
				writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "-")+".json", tc.content), "--db", db)
			require.Equal(t, exitOK, code, stderr)
			assert.Len(t, strings.Fields(stdout), tc.want)
		})
	}
}

func TestQueueAddLinesNamesABadLine(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"a missing variable", lines("a@example.com") + `{"someone": "else"}` + "\n" + lines("c@example.com"),
			"people.jsonl: line 2: action.json: body: line 1: missing variable customer.email"},
		{"a line that is not JSON", lines("a@example.com") + "\n" + `{"customer": ` + "\n",
			"people.jsonl: line 3: column 13: unexpected end of input"},
		{"a line that is not an object", lines("a@example.com") + "[1, 2]\n", "people.jsonl: line 2: column 1: data must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "q.db")
			code, stdout, stderr := runCLI(t, "queue", "add", "--action", f.action, "--data",
				writeFile(t, dir, "people.jsonl", tc.content), "--db", db)
			assert.Equal(t, exitBadInput, code)
			assert.Empty(t, stdout, "nothing of the batch was queued")
			assert.Contains(t, stderr, tc.want)
			assert.True(t, strings.HasSuffix(stderr, tc.want+"\n"), "the last line: %q", stderr)
			assert.Empty(t, listed(t, db))
		})
	}
}

// TestQueueAddLinesKeepsTheBatchesBefore queues a file of more lines than
// a batch holds, with a bad line in the second batch: the first batch is
// queued and printed, the second not at all.
func TestQueueAddLinesKeepsTheBatchesBefore(t *testing.T) {
	t.Parallel()
	f := newQueueFixture(t)
	var b strings.Builder
	for i := range addBatchLines + 5 {
		if i == addBatchLines+2 {
			b.WriteString(`{"nobody": true}` + "\n")
			continue
		}
		fmt.Fprintf(&b, `{"customer": {"email": "p%d@example.com"}}`+"\n", i)
	}
	people := writeFile(t, t.TempDir(), "people.jsonl", b.String())
	code, stdout, stderr := runCLI(t, "queue", "add", "--action", f.action, "--data", people, "--db", f.db)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, fmt.Sprintf("people.jsonl: line %d: ", addBatchLines+3))
	assert.Len(t, strings.Fields(stdout), addBatchLines, "the first batch's ids")
	assert.Len(t, listed(t, f.db), addBatchLines)
}

func TestLineReader(t *testing.T) {
	t.Parallel()
	lr := &lineReader{r: bufio.NewReaderSize(strings.NewReader("one\n\n  \r\ntwo\r\n"+strings.Repeat("x", 40)+"\nthree"), 16), limit: 32}
	for _, want := range []struct {
		line string
		n    int
		err  error
	}{
		{"one", 1, nil},
		{"two", 4, nil},
		{"", 5, errLineTooLong},
	} {
		line, n, err := lr.next()
		if want.err != nil {
			require.ErrorIs(t, err, want.err)
		} else {
			require.NoError(t, err)
		}
		assert.Equal(t, want.line, string(line))
		assert.Equal(t, want.n, n)
	}
}

// FuzzLineReader reads arbitrary input: lines come without their end, at
// most the limit long, numbered in order, and the reader ends with io.EOF
// or an error, never a panic.
func FuzzLineReader(f *testing.F) {
	for _, in := range []string{"", "a\nb\n", "\n\n\n", "{\"a\": 1}\r\n{\"b\": 2}", strings.Repeat("x", 100) + "\ny"} {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		lr := &lineReader{r: bufio.NewReaderSize(strings.NewReader(in), 16), limit: 32}
		last := 0
		for range len(in) + 2 {
			line, n, err := lr.next()
			if err != nil {
				if err != io.EOF {
					require.ErrorIs(t, err, errLineTooLong)
				}
				return
			}
			require.NotContains(t, string(line), "\n")
			require.LessOrEqual(t, len(line), 33)
			require.Greater(t, n, last)
			last = n
		}
		t.Fatal("the reader did not end")
	})
}
