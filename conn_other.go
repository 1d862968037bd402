//go:build !unix

package webhook

import "net"

// readable cannot peek here; a connection the server closed while idle
// fails the next request, which is then sent again on a new connection.
func readable(net.Conn) bool { return false }
