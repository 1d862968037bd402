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

// Error names the refused address and its kind.
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
	// AllowPrivate is false. An IPv4 prefix also allows the IPv4-mapped,
	// NAT64 and 6to4 forms of its addresses; an IPv6 prefix allows those
	// forms only when it lies within their network (::ffff:0:0/96,
	// 64:ff9b::/96, 2002::/16), so that allowing ::/0 or 2000::/3 does not
	// allow ::ffff:127.0.0.1 or 2002:7f00:1::.
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
	if reason := g.refusal(ip); reason != "" {
		return &AddressError{Addr: ip, Reason: reason}
	}
	return nil
}

// refusal returns why ip may not be reached, or "". An address that carries
// an IPv4 address reaches that address, so it is judged as that address
// unless an allowed prefix within the carrying network allows it. A cloud
// metadata address is judged before any allowed prefix, which opens it only
// if it lies within the metadata address's own network (see metadata).
func (g AddressGuard) refusal(ip netip.Addr) string {
	ip = ip.Unmap()
	v4, carrier, via := embeddedIPv4(ip)
	if r := g.metadata(ip); r != "" {
		return r
	}
	if v4.IsValid() {
		if r := g.metadata(v4); r != "" {
			return r + " (embedded in " + via + ")"
		}
	}
	for _, p := range g.AllowedPrefixes {
		if allows(p, ip, carrier) {
			return ""
		}
	}
	if v4.IsValid() {
		if r := g.refusal(v4); r != "" {
			return r + " (embedded in " + via + ")"
		}
		return ""
	}
	return nonPublic(ip)
}

// metadata returns why ip, if it is a cloud metadata address, may not be
// reached, or "". Allowing a private network (10.0.0.0/8, 169.254.0.0/16,
// fd00::/8, the CGNAT range a VPN uses) must not open the metadata service
// inside it, which hands out the machine's credentials: only an allowed
// prefix within the metadata network itself (169.254.169.254/32) opens it.
func (g AddressGuard) metadata(ip netip.Addr) string {
	for _, m := range cloudMetadata {
		if !m.prefix.Contains(ip) {
			continue
		}
		for _, p := range g.AllowedPrefixes {
			if within(unmapPrefix(p), m.prefix) {
				return ""
			}
		}
		return m.reason
	}
	return ""
}

// unmapPrefix returns p as an IPv4 prefix if it is the IPv4-mapped form of
// one (::ffff:169.254.169.254/128), or p itself.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// allows reports whether the allowed prefix p covers ip. For an address in
// a carrying network, p must lie within that network: a broader prefix
// (::/0, 2000::/3) says nothing about the IPv4 addresses carried. An IPv4
// address is also covered by a prefix of its IPv4-mapped form.
func allows(p netip.Prefix, ip netip.Addr, carrier netip.Prefix) bool {
	if ip.Is4() {
		return p.Contains(ip) || within(p, mappedPrefix) && p.Contains(netip.AddrFrom16(ip.As16()))
	}
	return p.Contains(ip) && (!carrier.IsValid() || within(p, carrier))
}

// within reports whether every address of p is in network.
func within(p, network netip.Prefix) bool {
	return p.Bits() >= network.Bits() && network.Contains(p.Addr())
}

// embeddedIPv4 returns the IPv4 address that a NAT64 (64:ff9b::/96) or
// 6to4 (2002::/16) address carries, the carrying network and its name, or
// the zero values for any other address.
func embeddedIPv4(ip netip.Addr) (netip.Addr, netip.Prefix, string) {
	b := ip.As16()
	switch {
	case !ip.Is6():
	case nat64Prefix.Contains(ip):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), nat64Prefix, "NAT64"
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), sixToFour, "6to4"
	}
	return netip.Addr{}, netip.Prefix{}, ""
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

// Networks that a webhook may not reach: every block of the IANA IPv4 and
// IPv6 Special-Purpose Address Registries that is not globally reachable,
// and multicast. Two blocks are refused whole although the registries mark
// a few of their entries globally reachable: 192.0.0.0/24 (the PCP and TURN
// anycast addresses) and 2001::/23 (PCP, TURN and DNS-SD anycast, AMT,
// AS112, ORCHIDv2, drone tags), anycast services that no webhook is sent
// to. The globally reachable blocks outside them (AS112 and AMT relays:
// 192.31.196.0/24, 192.52.193.0/24, 192.175.48.0/24, 2620:4f:8000::/48)
// are public. An IPv6 address outside 2000::/3, the global unicast space,
// is refused unless a rule below gives a more precise reason or it carries
// an IPv4 address (IPv4-mapped, NAT64).
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
	{netip.MustParsePrefix("255.255.255.255/32"), "the broadcast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
}

var blockedV6 = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible address"},
	// Not in the registry, but a stateless translator (RFC 2765) turns it
	// into the IPv4 address it ends with.
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "an IPv4-translated address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("100:0:0:1::/64"), "a dummy address"},
	{netip.MustParsePrefix("2001::/32"), "a Teredo address"},
	{netip.MustParsePrefix("2001:2::/48"), "a benchmarking address"},
	{netip.MustParsePrefix("2001::/23"), "an IETF protocol address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},
	{netip.MustParsePrefix("5f00::/16"), "a segment-routing address"},
	{netip.MustParsePrefix("fc00::/7"), "a unique-local address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// globalUnicast is the IPv6 global unicast space; the rest of IPv6 is
// local, multicast or not yet assigned.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// cloudMetadata lists the addresses at which cloud platforms serve a
// machine's metadata and credentials. Most already lie in a refused
// network; they are listed so that allowing that network does not open
// them (see AddressGuard.metadata), and so is Azure's wire server, which
// has a public address.
var cloudMetadata = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "a cloud metadata address (AWS, Google Cloud, Azure, Oracle Cloud, OpenStack, DigitalOcean)"},
	{netip.MustParsePrefix("169.254.170.2/32"), "a cloud metadata address (AWS ECS task metadata)"},
	{netip.MustParsePrefix("169.254.0.23/32"), "a cloud metadata address (Tencent Cloud)"},
	{netip.MustParsePrefix("169.254.42.42/32"), "a cloud metadata address (Scaleway)"},
	{netip.MustParsePrefix("168.63.129.16/32"), "a cloud metadata address (Azure's wire server)"},
	{netip.MustParsePrefix("100.100.100.200/32"), "a cloud metadata address (Alibaba Cloud)"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "a cloud metadata address (AWS, IPv6)"},
	{netip.MustParsePrefix("fd20:ce::254/128"), "a cloud metadata address (Google Cloud, IPv6)"},
	{netip.MustParsePrefix("fe80::a9fe:a9fe/128"), "a cloud metadata address (OpenStack, IPv6)"},
}

// Networks whose addresses carry an IPv4 address.
var (
	mappedPrefix = netip.MustParsePrefix("::ffff:0:0/96")
	nat64Prefix  = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
)

// nonPublic returns why ip, an IPv4 address or an IPv6 address that
// carries none (see embeddedIPv4), is not a public unicast address, or "".
func nonPublic(ip netip.Addr) string {
	if !ip.IsValid() {
		return "not a valid address"
	}
	if ip.Is4() {
		for _, b := range blockedV4 {
			if b.prefix.Contains(ip) {
				return b.reason
			}
		}
		return ""
	}
	for _, bl := range blockedV6 {
		if bl.prefix.Contains(ip) {
			return bl.reason
		}
	}
	if !globalUnicast.Contains(ip) {
		return "a reserved address (outside the global unicast space, 2000::/3)"
	}
	return ""
}
