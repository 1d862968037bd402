//go:build unix

package webhook_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time this process has used, user and system:
// the client and the local server alike, which is what bounds throughput
// when both share the machine's cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
