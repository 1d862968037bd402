package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The known answer from DESIGN.md.
const (
	verifyTestKey       = "signing-secret"
	verifyTestTimestamp = "1614265384"
	verifyTestBody      = `{"event_id":"abc","object_type":"email","metric":"delivered"}`
	verifyTestSignature = "6f55cf23f9b73a2ff07733fe04421f64ce9ec5e409696edda6b2a80311944230"
)

// verifyTestRun runs one command line in-process.
func verifyTestRun(t *testing.T, stdin string, vars map[string]string, args ...string) (code int, stdout, stderr string) {
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

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	bodyFile := filepath.Join(dir, "body.json")
	require.NoError(t, os.WriteFile(bodyFile, []byte(verifyTestBody), 0o600))
	withKey := map[string]string{envSigningKey: verifyTestKey}
	sigArgs := []string{"verify", "--timestamp", verifyTestTimestamp, "--signature", verifyTestSignature}
	tests := []struct {
		name       string
		args       []string
		vars       map[string]string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"valid from stdin", sigArgs, withKey, verifyTestBody, exitOK, "signature valid\n", ""},
		{"valid from a file", append(sigArgs, "--body", bodyFile), withKey, "ignored", exitOK, "signature valid\n", ""},
		{"valid, dash for stdin", append(sigArgs, "--body", "-"), withKey, verifyTestBody, exitOK, "signature valid\n", ""},
		{"valid, uppercase hex", []string{"verify", "--timestamp", verifyTestTimestamp, "--signature", strings.ToUpper(verifyTestSignature)}, withKey, verifyTestBody, exitOK, "signature valid\n", ""},
		{"valid, single-dash flags", []string{"verify", "-timestamp=" + verifyTestTimestamp, "-signature=" + verifyTestSignature}, withKey, verifyTestBody, exitOK, "signature valid\n", ""},
		{"wrong key", sigArgs, map[string]string{envSigningKey: "signing-secreT"}, verifyTestBody, exitFailed, "", "invalid signature"},
		{"tampered body", sigArgs, withKey, strings.Replace(verifyTestBody, "abc", "abd", 1), exitFailed, "", "invalid signature"},
		{"trailing newline from echo", sigArgs, withKey, verifyTestBody + "\n", exitFailed, "", "invalid signature"},
		{"other timestamp", []string{"verify", "--timestamp", "1614265385", "--signature", verifyTestSignature}, withKey, verifyTestBody, exitFailed, "", "invalid signature"},
		{"malformed signature", []string{"verify", "--timestamp", verifyTestTimestamp, "--signature", "xyz"}, withKey, verifyTestBody, exitFailed, "", "malformed"},
		{"no key", sigArgs, nil, verifyTestBody, exitBadInput, "", "LIQUIDHOOK_SIGNING_KEY is not set"},
		{"bad timestamp", []string{"verify", "--timestamp", "yesterday", "--signature", verifyTestSignature}, withKey, verifyTestBody, exitBadInput, "", `--timestamp "yesterday"`},
		{"no timestamp", []string{"verify", "--signature", verifyTestSignature}, withKey, verifyTestBody, exitBadInput, "", "--timestamp is required"},
		{"no signature", []string{"verify", "--timestamp", verifyTestTimestamp}, withKey, verifyTestBody, exitBadInput, "", "--signature is required"},
		{"missing file", append(sigArgs, "--body", filepath.Join(dir, "nope.json")), withKey, "", exitBadInput, "", "nope.json"},
		{"unreadable file", append(sigArgs, "--body", dir), withKey, "", exitBadInput, "", "is a directory"},
		{"unknown flag", append(sigArgs, "--key", "x"), withKey, verifyTestBody, exitBadInput, "", "flag provided but not defined"},
		{"stray argument", append(sigArgs, "extra"), withKey, verifyTestBody, exitBadInput, "", `unexpected argument "extra"`},
		{"help", []string{"verify", "--help"}, nil, "", exitOK, "", "usage: liquidhook verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := verifyTestRun(t, tt.stdin, tt.vars, tt.args...)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr)
			assert.Equal(t, tt.wantStdout, stdout)
			if tt.wantStderr == "" {
				assert.Empty(t, stderr)
			} else {
				assert.Contains(t, stderr, tt.wantStderr)
				if tt.wantCode != exitOK {
					assert.Equal(t, 1, strings.Count(stderr, "\n"), "want one line of error: %q", stderr)
				}
			}
			for _, v := range tt.vars {
				assert.NotContains(t, stdout+stderr, v, "the key leaked into the output")
			}
		})
	}
}

func TestVerifyCommandBoundsTheBody(t *testing.T) {
	saved := verifyMaxBody
	verifyMaxBody = 16
	t.Cleanup(func() { verifyMaxBody = saved })
	code, _, stderr := verifyTestRun(t, strings.Repeat("x", 17), map[string]string{envSigningKey: "k"},
		"verify", "--timestamp", "1", "--signature", verifyTestSignature)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "body over 16 bytes")
}

// verifyTestBuild builds the command into dir, for the tests that run it
// as a separate process.
func verifyTestBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "liquidhook")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// The built binary reads the key from its environment, answers with the
// documented exit codes, and listen stops cleanly on an interrupt.
func TestBinaryVerifyAndListen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := verifyTestBuild(t)
	for _, tc := range []struct {
		name     string
		key      string
		body     string
		wantCode int
	}{
		{"verify valid", verifyTestKey, verifyTestBody, exitOK},
		{"verify invalid", verifyTestKey, verifyTestBody + " ", exitFailed},
		{"verify without a key", "", verifyTestBody, exitBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "verify", "--timestamp", verifyTestTimestamp, "--signature", verifyTestSignature)
			cmd.Env = append(os.Environ(), envSigningKey+"="+tc.key)
			cmd.Stdin = strings.NewReader(tc.body)
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantCode, code, "output: %s", out)
		})
	}
	t.Run("listen stops on interrupt", func(t *testing.T) { listenTestBinary(t, bin) })
}
