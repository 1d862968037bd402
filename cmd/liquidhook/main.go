// Command liquidhook renders, sends, verifies and receives Customer.io-style
// webhook actions from the command line.
//
// Usage:
//
//	liquidhook render --action A.json --data D.json [--lax]
//	liquidhook send   --action A.json --data D.json [--lax] [--timeout 4s] [--retries 10] [--backoff 10.5s] [--allow-private] [--proxy URL]
//	liquidhook verify --timestamp T --signature HEX [--body FILE]
//	liquidhook listen --addr 127.0.0.1:8080
//	liquidhook queue  add|work|list|show|release|resend|cancel|destinations|resume|rekey|ui ... --db DB
//
// The signing key comes from the environment variable LIQUIDHOOK_SIGNING_KEY,
// and the keys that seal the delivery log from LIQUIDHOOK_DB_KEY, never from
// the command line.
//
// Exit status: 0 success; 1 the webhook failed when sent, or the signature
// is invalid; 2 anything that went wrong before a request was sent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	// Templates may name time zones; the binary carries the zone database so
	// that they work where the system has none.
	_ "time/tzdata"
)

// envSigningKey names the environment variable that holds the signing key.
const envSigningKey = "LIQUIDHOOK_SIGNING_KEY"

// Exit codes, as documented in the package comment.
const (
	exitOK       = 0
	exitFailed   = 1
	exitBadInput = 2
)

// env is what a subcommand may touch, so tests run it in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

var commands = []command{
	{"render", "print the rendered request as JSON", runRender},
	{"send", "send a webhook with retries and print the result as JSON", runSend},
	{"verify", "check a signature against a body", runVerify},
	{"listen", "receive webhooks locally and print them", runListen},
	{"queue", "durable delivery: " + strings.Join(queueNames(), ", "), runQueue},
}

// exitError carries an exit code with the message to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// failed marks err as a failure after sending (exit 1).
func failed(err error) error { return &exitError{exitFailed, err} }

// badInput marks err as a problem found before sending (exit 2).
func badInput(format string, a ...any) error {
	return &exitError{exitBadInput, fmt.Errorf(format, a...)}
}

// silent exits with code without printing anything more.
type silent int

func (s silent) Error() string { return "" }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 2 && args[0] == "help" {
		args = []string{args[1], "-h"} // help CMD is CMD -h
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitBadInput
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		return exitCode(e, c.name, err)
	}
	fmt.Fprintf(e.stderr, "liquidhook: unknown command %s\n", quoted(args[0]))
	usage(e.stderr)
	return exitBadInput
}

func exitCode(e *env, name string, err error) int {
	if err == nil {
		return exitOK
	}
	var s silent
	if errors.As(err, &s) {
		return int(s)
	}
	code := exitBadInput
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	msg := withoutUserinfo(strings.ReplaceAll(err.Error(), "\n", " "))
	fmt.Fprintf(e.stderr, "liquidhook %s: %s\n", name, msg)
	return code
}

// parseFlags parses the flags of a subcommand that takes no other
// argument. -h or --help prints usage and exits 0; anything else wrong is
// bad input that points to the help.
func parseFlags(e *env, fs *flag.FlagSet, usage string, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stderr, usage)
			return silent(exitOK)
		}
		return badInput("%v (see liquidhook %s --help)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %s (see liquidhook %s --help)", quoted(fs.Arg(0)), fs.Name())
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: liquidhook <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The signing key is read from %s, the keys that seal the delivery log from %s.\n", envSigningKey, envDBKey)
}
