package delivery

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSingleStatement(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  string // "" when refused
	}{
		{"SELECT 1", "SELECT 1"},
		{"\n\tSELECT 1\n", "\n\tSELECT 1\n"},
		{"-- name: X :one\nSELECT 1", "-- name: X :one\nSELECT 1"},
		{"SELECT 1;", "SELECT 1;"},
		{"SELECT 1;\n", "SELECT 1;"},
		{"SELECT 1; -- done\n/* really */ ", "SELECT 1;"},
		{"SELECT 1; /* open to the end", "SELECT 1;"},
		{"SELECT ';' AS s", "SELECT ';' AS s"},
		{"SELECT 'it''s; fine'", "SELECT 'it''s; fine'"},
		{`SELECT "a;b", [c;d], ` + "`e;f`" + ` FROM t`, `SELECT "a;b", [c;d], ` + "`e;f`" + ` FROM t`},
		{"SELECT 1 -- a; b\n", "SELECT 1 -- a; b\n"},
		{"SELECT /* ; */ 1", "SELECT /* ; */ 1"},
		{"SELECT a->>'$.x' FROM t", "SELECT a->>'$.x' FROM t"},
		{"SELECT 1 - -1", "SELECT 1 - -1"},

		{"", ""},
		{" \n", ""},
		{"-- only a comment", ""},
		{";", ""},
		{"; SELECT 1", ""},
		{"SELECT 1;;", ""},
		{"SELECT 1; SELECT 2", ""},
		{"CREATE TABLE a (x); INSERT INTO a VALUES (1)", ""},
		{"CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END", ""},
		{"SELECT 1;\v", ""},
		{"SELECT 'open", ""},
		{`SELECT "open`, ""},
		{"SELECT [open", ""},
	} {
		got, ok := singleStatement(tc.query)
		assert.Equal(t, tc.want != "", ok, "%q", tc.query)
		assert.Equal(t, tc.want, got, "%q", tc.query)
	}
}
