//go:build unix && !aix

package webhook

import (
	"net"
	"syscall"
)

// readable reports whether an idle connection has something to read (data
// the server sent unasked, or its end of the connection) or is broken. It
// peeks without blocking, so the next request is not written to a
// connection the server has already closed.
func readable(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	var buf [1]byte
	ready := false
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ready = n > 0 || (n == 0 && err == nil) || (err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR)
		return true
	})
	return ready || err != nil
}
