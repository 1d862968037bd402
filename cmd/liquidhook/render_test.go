package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func example(name, file string) string {
	return filepath.Join("..", "..", "examples", name, file)
}

func TestRenderCommand(t *testing.T) {
	t.Run("Help Scout", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "render", "--action", example("helpscout", "action.json"), "--data", example("helpscout", "data.json"))
		require.Equal(t, exitOK, code, stderr)
		assert.Empty(t, stderr)
		var got renderedRequest
		require.NoError(t, json.Unmarshal([]byte(stdout), &got))
		assert.Equal(t, "POST", got.Method)
		assert.Equal(t, "https://api.helpscout.net/v1/conversations.json", got.URL)
		assert.Equal(t, map[string]string{"Authorization": "REDACTED", "Content-Type": "application/json"}, got.Headers)
		assert.True(t, json.Valid([]byte(got.Body)), got.Body)
		assert.Contains(t, got.Body, `"lastName":"Watanabe (渡辺)"`)
		assert.NotContains(t, stdout, "HELPSCOUT-API-KEY")
	})
	t.Run("query secrets are redacted", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "render", "-action="+example("trello", "action.json"), "-data="+example("trello", "data.json"))
		require.Equal(t, exitOK, code, stderr)
		var got renderedRequest
		require.NoError(t, json.Unmarshal([]byte(stdout), &got))
		assert.Equal(t, "https://api.trello.com/1/cards?idList=5abbe4b7ddc1b351ef961414&key=REDACTED&token=REDACTED", got.URL)
	})
	t.Run("no data", func(t *testing.T) {
		dir := t.TempDir()
		action := writeFile(t, dir, "a.json", `{"method": "get", "url": "https://x.example/ping"}`)
		code, stdout, stderr := runCLI(t, "render", "--action", action)
		require.Equal(t, exitOK, code, stderr)
		assert.JSONEq(t, `{"method": "GET", "url": "https://x.example/ping", "headers": {"Content-Type": "application/json"}, "body": ""}`, stdout)
	})
	t.Run("time zones", func(t *testing.T) {
		dir := t.TempDir()
		action := writeFile(t, dir, "a.json", `{"url": "https://x.example/", "headers": {"Content-Type": "text/plain"}, "body": "{{ customer.at | date: \"%F %H:%M %Z\", customer.timezone }}"}`)
		data := writeFile(t, dir, "d.json", `{"customer": {"at": 1614265384, "timezone": "Australia/Sydney"}}`)
		code, stdout, stderr := runCLI(t, "render", "--action", action, "--data", data)
		require.Equal(t, exitOK, code, stderr)
		var got renderedRequest
		require.NoError(t, json.Unmarshal([]byte(stdout), &got))
		assert.Equal(t, "2021-02-26 02:03 AEDT", got.Body)
	})
	t.Run("lax", func(t *testing.T) {
		dir := t.TempDir()
		action := writeFile(t, dir, "a.json", `{"url": "https://x.example/", "headers": {"Content-Type": "text/plain"}, "body": "Hi {{ customer.nickname }}!"}`)
		data := writeFile(t, dir, "d.json", `{"customer": {}}`)
		code, _, stderr := runCLI(t, "render", "--action", action, "--data", data)
		assert.Equal(t, exitBadInput, code)
		assert.Contains(t, stderr, "a.json: body: line 1: missing variable customer.nickname")
		code, stdout, stderr := runCLI(t, "render", "--action", action, "--data", data, "--lax")
		require.Equal(t, exitOK, code, stderr)
		var got renderedRequest
		require.NoError(t, json.Unmarshal([]byte(stdout), &got))
		assert.Equal(t, "Hi !", got.Body)
	})
	t.Run("help", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "render", "-h")
		assert.Equal(t, exitOK, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "usage: liquidhook render --action A.json --data D.json")
	})
}

func TestRenderCommandErrors(t *testing.T) {
	dir := t.TempDir()
	goodData := writeFile(t, dir, "data.json", `{"customer": {"name": "Ann \"A\"", "email": "ann@example.com"}}`)
	cases := []struct {
		name   string
		action string // file content; "" means none is written
		data   string // path override
		args   []string
		errHas []string
	}{
		{name: "no --action", args: []string{"render"}, errHas: []string{"--action is required"}},
		{name: "unknown flag", args: []string{"render", "--actoin", "a.json"}, errHas: []string{"flag provided but not defined: -actoin"}},
		{name: "stray argument", args: []string{"render", "--action", "a.json", "extra"}, errHas: []string{`unexpected argument "extra"`}},
		{name: "missing action file", args: []string{"render", "--action", filepath.Join(dir, "nope.json")}, errHas: []string{"nope.json: cannot read: no such file or directory"}},
		{name: "action not JSON", action: "{\n  \"url\": \"https://x.example\",\n  \"body\" \"x\"\n}", errHas: []string{"a.json: line 3, column 10: invalid character"}},
		{name: "unknown field", action: "{\n  \"url\": \"https://x.example\",\n  \"bdy\": \"{}\"\n}", errHas: []string{`a.json: line 3, column 3: unknown field "bdy" (did you mean "body"?)`}},
		{name: "wrong type", action: "{\"url\": \"https://x.example\",\n \"headers\": {\"X-Count\": 3}}", errHas: []string{"a.json: headers.X-Count: line 2, column 25: want a string, got a number"}},
		{name: "the Zendesk typo in Customer.io's documentation", action: `{"url": "https://x.zendesk.com/api/v2/tickets.json", "body": "{\n\"ticket\": {\n\"subject\": \"{{customer.company_name}} has canceled their account.\",\n\"comment\": { \"body\":\"{{event.feedback}}\" },\n\"requester\": { \"name\":\"{{customer.firstName\"}} {{customer.lastName\"}},\"email\":\"{{customer.email}}\"\n}\n}\n}"}`, errHas: []string{"a.json: body: line 5: template syntax error"}},
		{name: "missing attribute", action: `{"url": "https://x.example", "body": "{\n  \"a\": {{ customer.name | json }},\n  \"b\": \"{{ customer.plan }}\"\n}"}`, errHas: []string{"a.json: body: line 3: missing variable customer.plan"}},
		{name: "rendered JSON is invalid", action: `{"url": "https://x.example", "body": "{\n  \"name\": \"{{ customer.name }}\"\n}"}`, errHas: []string{"a.json: body: invalid JSON body at line 2, column 17"}},
		{name: "header with a newline", action: `{"url": "https://x.example", "headers": {"X-Name": "{{ customer.name }}\n{{ customer.email }}"}}`, errHas: []string{"a.json: headers.X-Name: invalid header: X-Name: value contains a control character (LF)"}},
		{name: "bad URL keeps credentials out", action: `{"url": "ftp://user:hunter2@x.example/"}`, errHas: []string{"a.json: url: invalid URL: scheme must be http or https"}},
		{name: "port out of range", action: `{"url": "https://user:hunter2@x.example:99999/"}`, errHas: []string{"a.json: url: invalid URL: port out of range: want 1 to 65535"}},
		{name: "port zero", action: `{"url": "https://x.example:0/"}`, errHas: []string{"a.json: url: invalid URL: port out of range: want 1 to 65535"}},
		{name: "bad method", action: `{"url": "https://x.example", "method": "TRACE"}`, errHas: []string{"a.json: method: line 1, column 40: invalid method"}},
		{name: "data not JSON", action: `{"url": "https://x.example"}`, data: writeFile(t, dir, "bad.json", "{\n  \"customer\": {\"id\": 1,}\n}"), errHas: []string{"bad.json: line 2, column 24: invalid character '}'"}},
		{name: "data not an object", action: `{"url": "https://x.example"}`, data: writeFile(t, dir, "arr.json", "[1]"), errHas: []string{"arr.json: line 1, column 1: data must be a JSON object"}},
		{name: "a file too large", action: `{"url": "https://x.example"}`, data: writeFile(t, dir, "big.json", `{"a": "`+strings.Repeat("x", maxFileSize)+`"}`), errHas: []string{"big.json: larger than 8 MiB"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.action != "" {
				path := writeFile(t, dir, "a.json", tc.action)
				data := goodData
				if tc.data != "" {
					data = tc.data
				}
				args = []string{"render", "--action", path, "--data", data}
			}
			code, stdout, stderr := runCLI(t, args...)
			assert.Equal(t, exitBadInput, code)
			assert.Empty(t, stdout, "nothing is printed for a failed render")
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			assert.True(t, strings.HasPrefix(stderr, "liquidhook render: "), stderr)
			for _, want := range tc.errHas {
				assert.Contains(t, stderr, want)
			}
			assert.NotContains(t, stderr, "hunter2")
		})
	}
}

// TestRenderBinary builds the command and runs it, to check what the
// in-process tests cannot: the exit status and streams of a real process.
func TestRenderBinary(t *testing.T) {
	bin := buildCLI(t)
	cmd := exec.Command(bin, "render", "--action", example("zapier", "action.json"), "--data", example("zapier", "data.json"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	var got renderedRequest
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got))
	var body map[string]map[string]any
	require.NoError(t, json.Unmarshal([]byte(got.Body), &body), "the replace idiom yields JSON: %s", got.Body)
	assert.Equal(t, "ada@example.com", body["customer"]["email"])

	cmd = exec.Command(bin, "render", "--action", filepath.Join(t.TempDir(), "missing.json"))
	stderr.Reset()
	cmd.Stderr = &stderr
	assert.Equal(t, exitBadInput, exitStatus(t, cmd.Run()))
	assert.Contains(t, stderr.String(), "missing.json: cannot read")
}
