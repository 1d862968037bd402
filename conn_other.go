//go:build !unix || aix

package webhook

import "net"

// readable cannot peek here without blocking. A connection the server
// closed while idle fails the next request, which is then sent again on a
// new connection; a response the server wrote unasked before closing it
// (a 408) is read as the next request's.
func readable(net.Conn) bool { return false }
