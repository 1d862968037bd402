package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	webhook "github.com/liquidhook/webhook"
)

// verifyMaxBody bounds the body verify reads: far above any webhook, low
// enough that a wrong file or an endless pipe cannot exhaust memory.
var verifyMaxBody int64 = 64 << 20

const verifyUsage = `usage: liquidhook verify --timestamp T --signature HEX [--body FILE]

Checks an X-CIO-Signature against the raw body (from FILE, or standard
input when --body is absent or -) and the X-CIO-Timestamp T, with the key
in LIQUIDHOOK_SIGNING_KEY. It checks the signature only, not the
timestamp's age. Give the body byte for byte: a trailing newline added by
echo is part of what is checked.

Exit status: 0 valid, 1 invalid (including a signature that is not 64 hex
digits), 2 bad input (no key, a bad timestamp, an unreadable body).
`

// runVerify implements `liquidhook verify`.
func runVerify(_ context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	timestamp := fs.String("timestamp", "", "the X-CIO-Timestamp header: Unix seconds")
	signature := fs.String("signature", "", "the X-CIO-Signature header: 64 hex digits")
	bodyPath := fs.String("body", "", "the file holding the raw body; standard input when absent or -")
	if err := parseFlags(e, fs, verifyUsage, args); err != nil {
		return err
	}
	key := e.getenv(envSigningKey)
	if key == "" {
		return badInput("%s is not set: it holds the signing key", envSigningKey)
	}
	if *timestamp == "" {
		return badInput("--timestamp is required: the X-CIO-Timestamp header")
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(*timestamp), 10, 64)
	if err != nil {
		return badInput("--timestamp %s: want Unix seconds, such as 1614265384", quoted(*timestamp))
	}
	if *signature == "" {
		return badInput("--signature is required: the X-CIO-Signature header")
	}
	body, err := verifyReadBody(e, *bodyPath)
	if err != nil {
		return err
	}
	if err := webhook.Verify([]byte(key), strings.TrimSpace(*signature), ts, body); err != nil {
		return failed(err)
	}
	fmt.Fprintln(e.stdout, "signature valid")
	return nil
}

// verifyReadBody reads the body from path, or from standard input, at most
// verifyMaxBody bytes.
func verifyReadBody(e *env, path string) ([]byte, error) {
	name, r := "standard input", e.stdin
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, badInput("--body: %v", err)
		}
		defer f.Close()
		name, r = path, f
	} else if r == nil {
		return nil, badInput("no body: standard input is closed; use --body FILE")
	}
	body, err := readLimited(r, verifyMaxBody)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, badInput("%s: body over %d bytes", name, verifyMaxBody)
	case err != nil:
		return nil, badInput("reading %s: %v", name, err)
	}
	return body, nil
}
