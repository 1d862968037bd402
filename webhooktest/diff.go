package webhooktest

import (
	"strconv"
	"strings"
	"unicode"
)

// The line diff of golden files is written here rather than taken from a
// diff library: a failure message is all it serves, golden renders are a few
// dozen lines, and a package that applications import into their tests
// should bring no dependency with it.

const (
	// diffContext is how many shared lines are shown around a change.
	diffContext = 3
	// maxDiffCells bounds the longest-common-subsequence table. Past it
	// (two texts of thousands of differing lines) the differing middle is
	// shown as removed, then added.
	maxDiffCells = 1 << 22
)

// edit is one line of a diff: ' ' shared, '-' only in the old text, '+'
// only in the new.
type edit struct {
	op   byte
	line string
}

// lineDiff returns the lines of want and got as a unified diff marks them,
// "- " for a line only in want, "+ " for one only in got and "  " for one in
// both, keeping diffContext shared lines around each change and replacing
// the others with "  ...". It returns "" when want and got are equal. A line
// whose difference could not be seen (a trailing space or tab, a carriage
// return, another control character) is shown quoted, and a last line
// without a newline says so.
func lineDiff(want, got string) string {
	if want == got {
		return ""
	}
	edits := diffLines(splitLines(want), splitLines(got))
	// Mark the shared lines near a change, to be shown.
	show := make([]bool, len(edits))
	for i, e := range edits {
		if e.op == ' ' {
			continue
		}
		for j := max(0, i-diffContext); j <= min(len(edits)-1, i+diffContext); j++ {
			show[j] = true
		}
	}
	var b strings.Builder
	cut := false
	for i, e := range edits {
		if !show[i] {
			if !cut {
				b.WriteString("  ...\n")
				cut = true
			}
			continue
		}
		cut = false
		b.WriteByte(e.op)
		b.WriteByte(' ')
		b.WriteString(visible(e.line))
		b.WriteByte('\n')
	}
	return b.String()
}

// splitLines splits s after each newline; the last line has none when s
// does not end with one.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// visible returns line without its newline, quoted if it holds a character
// a reader could not see, and marked if it has no newline.
func visible(line string) string {
	text, ended := strings.CutSuffix(line, "\n")
	hidden := strings.HasSuffix(text, " ") || strings.HasSuffix(text, "\t")
	for _, r := range text {
		if r != '\t' && !unicode.IsPrint(r) {
			hidden = true
			break
		}
	}
	if hidden {
		text = strconv.Quote(text)
	}
	if !ended {
		text += " (no newline at end)"
	}
	return text
}

// diffLines returns an edit script from a to b: their common start and end
// as they are, and a longest common subsequence of the rest.
func diffLines(a, b []string) []edit {
	start := 0
	for start < len(a) && start < len(b) && a[start] == b[start] {
		start++
	}
	end := 0
	for end < len(a)-start && end < len(b)-start && a[len(a)-1-end] == b[len(b)-1-end] {
		end++
	}
	var edits []edit
	for _, l := range a[:start] {
		edits = append(edits, edit{' ', l})
	}
	edits = append(edits, lcsEdits(a[start:len(a)-end], b[start:len(b)-end])...)
	for _, l := range a[len(a)-end:] {
		edits = append(edits, edit{' ', l})
	}
	return edits
}

// lcsEdits returns an edit script from a to b that keeps a longest common
// subsequence of their lines, removals before additions at each change.
func lcsEdits(a, b []string) []edit {
	n, m := len(a), len(b)
	edits := make([]edit, 0, n+m)
	if n*m > maxDiffCells {
		for _, l := range a {
			edits = append(edits, edit{'-', l})
		}
		for _, l := range b {
			edits = append(edits, edit{'+', l})
		}
		return edits
	}
	// lcs[i*(m+1)+j] is the length of a longest common subsequence of
	// a[i:] and b[j:].
	w := m + 1
	lcs := make([]int, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			edits = append(edits, edit{' ', a[i]})
			i, j = i+1, j+1
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			edits = append(edits, edit{'-', a[i]})
			i++
		default:
			edits = append(edits, edit{'+', b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		edits = append(edits, edit{'-', a[i]})
	}
	for ; j < m; j++ {
		edits = append(edits, edit{'+', b[j]})
	}
	return edits
}
