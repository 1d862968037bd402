package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrBlockedAddress is returned (wrapped in an *AddressError) when a
// connection would reach a loopback, private, link-local or other
// non-public address that is not allowed.
var ErrBlockedAddress = errors.New("webhook: destination address not allowed")

// AddressError reports a refused destination. It matches ErrBlockedAddress
// with errors.Is.
type AddressError struct {
	// Addr is the IP address the connection would have reached.
	Addr netip.Addr
	// Reason names the kind of address, such as "loopback".
	Reason string
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("webhook: destination address not allowed: %s is %s", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrBlockedAddress) hold.
func (e *AddressError) Is(target error) bool { return target == ErrBlockedAddress }

// AddressGuard decides which IP addresses a connection may reach. Its zero
// value allows public unicast addresses only. The Sender's default
// transport applies it to the address each connection actually dials, after
// DNS, so a name that resolves (or later re-resolves) to a private address
// is refused all the same. A custom transport can use Control the same way.
type AddressGuard struct {
	// AllowPrivate allows every address, the non-public ones included.
	AllowPrivate bool

	// AllowedPrefixes lists non-public networks that are allowed even when
	// AllowPrivate is false.
	AllowedPrefixes []netip.Prefix
}

// Check returns nil if ip may be reached, or an *AddressError. An
// IPv4-mapped IPv6 address is checked as the IPv4 address it maps, and so
// is the IPv4 address embedded in a NAT64 (64:ff9b::/96) or 6to4
// (2002::/16) address.
func (g AddressGuard) Check(ip netip.Addr) error {
	if g.AllowPrivate {
		return nil
	}
	ip = ip.WithZone("")
	for _, p := range g.AllowedPrefixes {
		if p.Contains(ip) || p.Contains(ip.Unmap()) {
			return nil
		}
	}
	if reason := nonPublic(ip); reason != "" {
		return &AddressError{Addr: ip, Reason: reason}
	}
	return nil
}

// Control checks the address of a connection about to be made; it has the
// signature of net.Dialer.Control. address is the dialed "ip:port".
func (g AddressGuard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Control always sees a literal IP; anything else is refused rather
		// than guessed at.
		host, _, splitErr := net.SplitHostPort(address)
		if splitErr != nil {
			host = address
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("%w: cannot check address %q", ErrBlockedAddress, address)
		}
		return g.Check(ip)
	}
	return g.Check(ap.Addr())
}

// Special-purpose networks that are not reachable on the public internet,
// from the IANA IPv4 and IPv6 special-purpose address registries.
var blockedV4 = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (\"this network\") address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (CGNAT) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a 6to4 relay address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
}

var blockedV6 = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("2001::/23"), "an IETF protocol address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},
	{netip.MustParsePrefix("5f00::/16"), "a segment-routing address"},
	{netip.MustParsePrefix("fc00::/7"), "a unique-local address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// nonPublic returns why ip is not a public unicast address, or "".
func nonPublic(ip netip.Addr) string {
	if !ip.IsValid() {
		return "not a valid address"
	}
	if ip.Is4In6() {
		return nonPublic(ip.Unmap())
	}
	if ip.Is4() {
		for _, b := range blockedV4 {
			if b.prefix.Contains(ip) {
				return b.reason
			}
		}
		return ""
	}
	b := ip.As16()
	switch {
	case nat64Prefix.Contains(ip):
		if r := nonPublic(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); r != "" {
			return r + " (embedded in NAT64)"
		}
		return ""
	case sixToFour.Contains(ip):
		if r := nonPublic(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})); r != "" {
			return r + " (embedded in 6to4)"
		}
		return ""
	}
	for _, bl := range blockedV6 {
		if bl.prefix.Contains(ip) {
			return bl.reason
		}
	}
	return ""
}
