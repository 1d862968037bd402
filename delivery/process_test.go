package delivery

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
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
	For       time.Duration // stop after this long, reporting memory
	Held      int           // stop once this many deliveries are held, reporting memory
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
		"HELPER_FOR="+c.For.String(),
		"HELPER_HELD="+strconv.Itoa(c.Held),
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
	runFor, _ := time.ParseDuration(os.Getenv("HELPER_FOR"))
	untilHeld, _ := strconv.Atoi(os.Getenv("HELPER_HELD"))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, runFor)
		defer cancel()
	}
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
	}
	fmt.Println("ready")
	if untilHeld > 0 {
		ctx = stopWhenHeld(ctx, q, untilHeld)
	}
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
	if runFor > 0 || untilHeld > 0 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		fmt.Println("heap_inuse", ms.HeapInuse)
		fmt.Println("peak_rss_kb", peakRSSKB())
	}
	return 0
}

// stopWhenHeld returns a context that ends once n deliveries are held for
// their paused destinations, looking every 100 ms.
func stopWhenHeld(ctx context.Context, q *Queue, n int) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			held, err := q.waitingByDestination(ctx)
			total := 0
			for _, h := range held {
				total += h
			}
			if err == nil && total >= n {
				cancel()
				return
			}
		}
	}()
	return ctx
}

// workerProcess is a running helper worker.
type workerProcess struct {
	cmd   *exec.Cmd
	out   *bufio.Scanner
	lines []string // what it printed after "ready", once done
	done  chan error
}

// startWorker starts a worker process and waits until it is ready.
func startWorker(t testing.TB, c helperConfig) *workerProcess {
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
func (p *workerProcess) wait(t testing.TB, timeout time.Duration) int {
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

// peakRSSKB returns the process's peak resident set (VmHWM), in KiB.
func peakRSSKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// reported returns the value the process printed after name.
func (p *workerProcess) reported(name string) int64 {
	for _, l := range p.lines {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}
