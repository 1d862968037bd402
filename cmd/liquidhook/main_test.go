package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCLI runs one command line in-process, with nothing on standard input
// and an empty environment.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIEnv(t, "", nil, args...)
}

// runCLIEnv runs one command line in-process, with stdin as standard input
// and vars as the environment.
func runCLIEnv(t *testing.T, stdin string, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errOut,
		getenv: func(k string) string { return vars[k] },
	}
	code = run(context.Background(), e, args)
	return code, out.String(), errOut.String()
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// signingKey is an environment holding key as the signing key.
func signingKey(key string) map[string]string {
	return map[string]string{envSigningKey: key}
}

// built is the command, built once for every test that runs it as a
// separate process.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// buildCLI builds the command (once per test run) and returns its path. It
// skips the test in -short mode.
func buildCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "liquidhook-test")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "liquidhook")
		if out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// exitStatus returns the exit status of a finished command, failing the test
// if the command did not run.
func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return exitOK
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func TestRunDispatches(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no command", nil, exitBadInput, "usage: liquidhook <command>"},
		{"help", []string{"help"}, exitOK, "usage: liquidhook <command>"},
		{"--help", []string{"--help"}, exitOK, "usage: liquidhook <command>"},
		{"unknown command", []string{"sned"}, exitBadInput, `liquidhook: unknown command "sned"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			assert.Equal(t, tt.wantCode, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.wantStderr)
			for _, c := range commands {
				assert.Contains(t, stderr, c.name, "the usage lists every command")
			}
		})
	}
}

// The top-level usage and the queue's refusal of an unknown subcommand
// name every queue subcommand, as the queue's own usage does.
func TestQueueSubcommandsNamedEverywhere(t *testing.T) {
	_, _, usage := runCLI(t, "--help")
	_, _, unknown := runCLI(t, "queue", "purge", "--db", "x.db")
	_, _, queueHelp := runCLI(t, "queue", "--help")
	for _, c := range queueCommands {
		t.Run(c.name, func(t *testing.T) {
			assert.Regexp(t, `queue +durable delivery: .*\b`+c.name+`\b`, usage)
			assert.Regexp(t, `unknown subcommand "purge": want .*\b`+c.name+`\b`, unknown)
			assert.Regexp(t, `(?m)^  `+c.name+`\b`, queueHelp)
		})
	}
}

// Every subcommand answers -h, --help and help CMD alike: its usage on
// standard error, with the exit statuses it uses, and status 0.
func TestSubcommandHelp(t *testing.T) {
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "-h"}, {c.name, "--help"}, {"help", c.name}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				code, stdout, stderr := runCLI(t, args...)
				assert.Equal(t, exitOK, code)
				assert.Empty(t, stdout)
				assert.True(t, strings.HasPrefix(stderr, "usage: liquidhook "+c.name), stderr)
				assert.Contains(t, stderr, "Exit status:")
			})
		}
	}
}

// A URL with a password given to the wrong flag is quoted in the error
// without its password, whichever flag and whichever check refuses it.
func TestErrorsKeepURLPasswordsOut(t *testing.T) {
	const password = "hunter2-db"
	dir := t.TempDir()
	action := writeFile(t, dir, "a.json", `{"url": "https://x.example"}`)
	data := writeFile(t, dir, "d.json", `{}`)
	db := filepath.Join(dir, "q.db")
	for _, u := range []struct{ name, url, host string }{
		{"database", "postgres://user:" + password + "@db.example/app", "db.example"},
		{"an @ left unescaped", "postgres://user:p@ss-" + password + "@db.example/app", "db.example"},
		{"API key", "https://" + password + "@api.example.com/v1", "api.example.com"},
	} {
		for _, tc := range []struct {
			name string
			args []string
		}{
			{"an integer flag", []string{"queue", "list", "--limit=" + u.url, "--db", db}},
			{"a boolean flag", []string{"queue", "work", "--until-idle=" + u.url, "--db", db}},
			{"a duration flag", []string{"send", "--timeout", u.url, "--action", action, "--data", data}},
			{"a state", []string{"queue", "list", "--state", u.url, "--db", db}},
			{"an action file", []string{"render", "--action", u.url}},
			{"a data file", []string{"send", "--action", action, "--data", u.url}},
			{"a body file", []string{"verify", "--timestamp", "1", "--signature", "00", "--body", u.url}},
			{"a respond file", []string{"listen", "--respond", u.url}},
			{"an address", []string{"listen", "--addr", u.url}},
		} {
			t.Run(tc.name+", "+u.name, func(t *testing.T) {
				code, stdout, stderr := runCLIEnv(t, "", signingKey("k"), tc.args...)
				assert.Equal(t, exitBadInput, code)
				assert.Empty(t, stdout)
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
				assert.NotContains(t, stderr, password)
				assert.Contains(t, stderr, u.host, "the URL is still named")
			})
		}
	}
}
