// Package tbtest provides a testing.TB that records what a test helper
// reports, so that the helpers of webhooktest and deliverytest can be tested
// themselves, failure messages included, and shown running in examples.
//
// It behaves as the testing package does where a helper can tell: Fatal and
// FailNow end the calling goroutine with runtime.Goexit, Cleanup functions
// run last-in first-out once the test function has returned, and Context is
// cancelled just before they run.
package tbtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TB is a testing.TB that records failures and log lines instead of
// reporting them to the testing package. Its zero value is not usable;
// call New.
type TB struct {
	// The embedded interface is nil: a method a helper calls that TB does
	// not define panics, so the helper's test shows it.
	testing.TB

	// out, if set, also receives every failure as it is reported, so that
	// an example's output shows it.
	out io.Writer

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	errors   []string
	logs     []string
	failed   bool
	stopped  bool
	cleanups []func()
}

var _ testing.TB = (*TB)(nil)

// New returns a TB with no failures, for one run of a helper.
func New() *TB {
	ctx, cancel := context.WithCancel(context.Background())
	return &TB{ctx: ctx, cancel: cancel}
}

// Run calls f with tb on a goroutine of its own, as the testing package
// runs a test function, and waits for it to return or to stop through
// Fatal. It reports whether f returned. Cleanup functions are not run: call
// Finish for that.
func (tb *TB) Run(f func(t testing.TB)) (returned bool) {
	done := make(chan bool)
	go func() {
		returned := false
		defer func() { done <- returned }()
		f(tb)
		returned = true
	}()
	return <-done
}

// Finish cancels the Context and runs the Cleanup functions, last
// registered first, each as Run runs a function, as the testing package does
// once a test has returned.
func (tb *TB) Finish() {
	tb.cancel()
	for {
		tb.mu.Lock()
		n := len(tb.cleanups)
		if n == 0 {
			tb.mu.Unlock()
			return
		}
		f := tb.cleanups[n-1]
		tb.cleanups = tb.cleanups[:n-1]
		tb.mu.Unlock()
		tb.Run(func(testing.TB) { f() })
	}
}

// Example runs f as a test, then its Cleanup functions, printing each
// failure to standard output, where an Example's output check sees it.
func Example(f func(t testing.TB)) { runPrinting(os.Stdout, f) }

func runPrinting(out io.Writer, f func(t testing.TB)) {
	tb := New()
	tb.out = out
	tb.Run(f)
	tb.Finish()
}

// Errors returns the messages of Error, Errorf, Fatal and Fatalf, in order.
func (tb *TB) Errors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.errors)
}

// Logs returns the messages of Log and Logf, in order.
func (tb *TB) Logs() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.logs)
}

// Stopped reports whether FailNow (through Fatal or Fatalf) was called.
func (tb *TB) Stopped() bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.stopped
}

// Helper does nothing: there is no call site to hide.
func (tb *TB) Helper() {}

// Name returns a fixed name.
func (tb *TB) Name() string { return "tbtest" }

// Context returns a context cancelled when Finish begins.
func (tb *TB) Context() context.Context { return tb.ctx }

// Cleanup registers f to run in Finish.
func (tb *TB) Cleanup(f func()) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.cleanups = append(tb.cleanups, f)
}

// TempDir returns a new directory, removed in Finish.
func (tb *TB) TempDir() string {
	dir, err := os.MkdirTemp("", "tbtest")
	if err != nil {
		tb.Fatalf("TempDir: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Log records a log line.
func (tb *TB) Log(args ...any) { tb.log(fmt.Sprintln(args...)) }

// Logf records a log line.
func (tb *TB) Logf(format string, args ...any) { tb.log(fmt.Sprintf(format, args...)) }

func (tb *TB) log(s string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.logs = append(tb.logs, strings.TrimSuffix(s, "\n"))
}

// Error records a failure.
func (tb *TB) Error(args ...any) { tb.fail(fmt.Sprintln(args...)) }

// Errorf records a failure.
func (tb *TB) Errorf(format string, args ...any) { tb.fail(fmt.Sprintf(format, args...)) }

// Fatal records a failure and stops the calling goroutine.
func (tb *TB) Fatal(args ...any) {
	tb.fail(fmt.Sprintln(args...))
	tb.FailNow()
}

// Fatalf records a failure and stops the calling goroutine.
func (tb *TB) Fatalf(format string, args ...any) {
	tb.fail(fmt.Sprintf(format, args...))
	tb.FailNow()
}

func (tb *TB) fail(s string) {
	s = strings.TrimSuffix(s, "\n")
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.errors = append(tb.errors, s)
	tb.failed = true
	if tb.out != nil {
		fmt.Fprintln(tb.out, "FAIL:", s)
	}
}

// Fail marks the test failed.
func (tb *TB) Fail() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.failed = true
}

// FailNow marks the test failed and stops the calling goroutine, as
// testing.T's does.
func (tb *TB) FailNow() {
	tb.mu.Lock()
	tb.failed, tb.stopped = true, true
	tb.mu.Unlock()
	runtime.Goexit()
}

// Failed reports whether a failure was recorded.
func (tb *TB) Failed() bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.failed
}
