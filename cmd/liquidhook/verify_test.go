package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The known answer from DESIGN.md.
const (
	verifyTestKey       = "signing-secret"
	verifyTestTimestamp = "1614265384"
	verifyTestBody      = `{"event_id":"abc","object_type":"email","metric":"delivered"}`
	verifyTestSignature = "6f55cf23f9b73a2ff07733fe04421f64ce9ec5e409696edda6b2a80311944230"
)

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	bodyFile := writeFile(t, dir, "body.json", verifyTestBody)
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
			code, stdout, stderr := runCLIEnv(t, tt.stdin, tt.vars, tt.args...)
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
	code, _, stderr := runCLIEnv(t, strings.Repeat("x", 17), map[string]string{envSigningKey: "k"},
		"verify", "--timestamp", "1", "--signature", verifyTestSignature)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "body over 16 bytes")
}

// The built binary reads the key from its environment, answers with the
// documented exit codes, and listen stops cleanly on an interrupt.
func TestBinaryVerifyAndListen(t *testing.T) {
	bin := buildCLI(t)
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
			assert.Equal(t, tc.wantCode, exitStatus(t, err), "output: %s", out)
		})
	}
	t.Run("listen stops on interrupt", func(t *testing.T) { listenTestBinary(t, bin) })
}
