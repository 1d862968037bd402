package delivery

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/liquidhook/webhook"
	"github.com/stretchr/testify/require"
)

// The test binary doubles as a worker process, for the tests that kill a
// worker or run several: TestMain runs helperWorker instead of the tests
// when LIQUIDHOOK_DELIVERY_HELPER is set.
const envHelper = "LIQUIDHOOK_DELIVERY_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) != "" {
		os.Exit(helperWorker())
	}
	os.Exit(m.Run())
}

// helperConfig is a worker process's configuration, passed in its
// environment.
type helperConfig struct {
	DSN       string
	UntilIdle bool
	Retries   int
	Wait      time.Duration // the policy's fixed wait between attempts
	Timeout   time.Duration // per attempt
	Rescue    time.Duration // RescueAfter
}

func (c helperConfig) env() []string {
	return append(os.Environ(),
		envHelper+"=worker",
		"HELPER_DSN="+c.DSN,
		"HELPER_UNTIL_IDLE="+strconv.FormatBool(c.UntilIdle),
		"HELPER_RETRIES="+strconv.Itoa(c.Retries),
		"HELPER_WAIT="+c.Wait.String(),
		"HELPER_TIMEOUT="+c.Timeout.String(),
		"HELPER_RESCUE="+c.Rescue.String(),
	)
}

// helperWorker runs a worker until idle or until SIGTERM, then prints how
// many attempts it made. It prints "ready" once its worker is configured.
func helperWorker() int {
	retries, _ := strconv.Atoi(os.Getenv("HELPER_RETRIES"))
	wait, _ := time.ParseDuration(os.Getenv("HELPER_WAIT"))
	timeout, _ := time.ParseDuration(os.Getenv("HELPER_TIMEOUT"))
	rescue, _ := time.ParseDuration(os.Getenv("HELPER_RESCUE"))
	untilIdle := os.Getenv("HELPER_UNTIL_IDLE") == "true"

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	q, err := Open(ctx, os.Getenv("HELPER_DSN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	defer q.Close()
	var attempts atomic.Int64
	w := &Worker{
		Sender: &webhook.Sender{
			AllowPrivate: true,
			Timeout:      timeout,
			RetryPolicy: webhook.RetryFunc(func(a webhook.Attempt) (time.Duration, bool) {
				return wait, a.Class != "" && a.Number <= retries
			}),
		},
		RescueAfter: rescue,
		OnAttempt:   func(*Delivery, Attempt) { attempts.Add(1) },
		jobMargin:   500 * time.Millisecond,
		send:        testSend,
	}
	fmt.Println("ready")
	if untilIdle {
		err = q.WorkUntilIdle(ctx, w)
	} else {
		err = q.Work(ctx, w)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	fmt.Println("attempts", attempts.Load())
	return 0
}

// workerProcess is a running helper worker.
type workerProcess struct {
	cmd   *exec.Cmd
	out   *bufio.Scanner
	lines []string // what it printed after "ready", once done
	done  chan error
}

// startWorker starts a worker process and waits until it is ready.
func startWorker(t *testing.T, c helperConfig) *workerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = c.env()
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &workerProcess{cmd: cmd, out: bufio.NewScanner(stdout), done: make(chan error, 1)}
	t.Cleanup(func() {
		// Ends only this test's own process, by its id.
		_ = cmd.Process.Kill()
		<-p.done
	})
	require.True(t, p.out.Scan(), "the worker process did not start")
	require.Equal(t, "ready", p.out.Text())
	go func() {
		for p.out.Scan() {
			p.lines = append(p.lines, p.out.Text())
		}
		p.done <- cmd.Wait()
		close(p.done)
	}()
	return p
}

// wait waits for the process to exit and returns the number of attempts
// it reported.
func (p *workerProcess) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		require.NoError(t, err, "the worker process failed")
	case <-time.After(timeout):
		t.Fatalf("the worker process did not finish within %v", timeout)
	}
	for _, l := range p.lines {
		if n, ok := strings.CutPrefix(l, "attempts "); ok {
			v, err := strconv.Atoi(n)
			require.NoError(t, err)
			return v
		}
	}
	t.Fatalf("the worker process reported no attempts: %q", p.lines)
	return 0
}

// kill kills the process with SIGKILL and waits for it to go.
func (p *workerProcess) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func emailGroup(body string) string {
	i := strings.Index(body, `"email": "`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(`"email": "`):]
	return rest[:strings.IndexByte(rest, '-')]
}
