package webhooktest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLineDiff(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		diff      string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"empty", "", "", ""},
		{"changed line", "a\nb\nc\n", "a\nB\nc\n", "  a\n- b\n+ B\n  c\n"},
		{"added line", "a\nc\n", "a\nb\nc\n", "  a\n+ b\n  c\n"},
		{"removed line", "a\nb\nc\n", "a\nc\n", "  a\n- b\n  c\n"},
		{"from nothing", "", "a\n", "+ a\n"},
		{"to nothing", "a\n", "", "- a\n"},
		{"context is cut", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\n5\nX\n7\n8\n9\n",
			"  ...\n  3\n  4\n  5\n- 6\n+ X\n  7\n  8\n  9\n"},
		{"two changes far apart", "a\n1\n2\n3\n4\n5\n6\n7\nb\n", "A\n1\n2\n3\n4\n5\n6\n7\nB\n",
			"- a\n+ A\n  1\n  2\n  3\n  ...\n  5\n  6\n  7\n- b\n+ B\n"},
		{"two changes near", "a\n1\nb\n", "A\n1\nB\n", "- a\n+ A\n  1\n- b\n+ B\n"},
		{"trailing space is shown", "a\nb\n", "a\nb \n", "  a\n- b\n+ \"b \"\n"},
		{"carriage return is shown", "a\n", "a\r\n", "- a\n+ \"a\\r\"\n"},
		{"missing last newline", "a\nb\n", "a\nb", "  a\n- b\n+ b (no newline at end)\n"},
		{"moved block", "x\ny\nz\n", "z\nx\ny\n", "+ z\n  x\n  y\n- z\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.diff, lineDiff(tt.want, tt.got))
		})
	}
}

// TestLineDiffLarge: past the table's bound, the differing middle is shown
// removed, then added, between the shared start and end.
func TestLineDiffLarge(t *testing.T) {
	var a, b strings.Builder
	a.WriteString("same\n")
	b.WriteString("same\n")
	const n = 2100 // n*n lines of table is over maxDiffCells
	for i := range n {
		a.WriteString("a" + strconv.Itoa(i) + "\n")
		b.WriteString("b" + strconv.Itoa(i) + "\n")
	}
	edits := diffLines(splitLines(a.String()), splitLines(b.String()))
	assert.Len(t, edits, 1+2*n)
	assert.Equal(t, edit{' ', "same\n"}, edits[0])
	assert.Equal(t, edit{'-', "a0\n"}, edits[1])
	assert.Equal(t, edit{'-', "a2099\n"}, edits[n])
	assert.Equal(t, edit{'+', "b0\n"}, edits[n+1])
}

// TestLineDiffIsMinimal: the script keeps a longest common subsequence,
// checked on pairs where it is known.
func TestLineDiffIsMinimal(t *testing.T) {
	tests := []struct {
		a, b     string
		wantKept int
	}{
		{"a b c d e", "a c e", 3},
		{"a b c", "c b a", 1},
		{"x a b y", "a x b y", 3},
		{"a b a b", "b a b a", 3},
	}
	for _, tt := range tests {
		t.Run(tt.a+" / "+tt.b, func(t *testing.T) {
			a, b := strings.Fields(tt.a), strings.Fields(tt.b)
			kept := 0
			var fromA, fromB []string
			for _, e := range lcsEdits(a, b) {
				switch e.op {
				case ' ':
					kept++
					fromA, fromB = append(fromA, e.line), append(fromB, e.line)
				case '-':
					fromA = append(fromA, e.line)
				case '+':
					fromB = append(fromB, e.line)
				}
			}
			assert.Equal(t, tt.wantKept, kept)
			assert.Equal(t, a, fromA, "the script rebuilds a")
			assert.Equal(t, b, fromB, "the script rebuilds b")
		})
	}
}
