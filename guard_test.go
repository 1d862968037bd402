package webhook_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
)

func TestAddressGuardCheck(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		wantErr error
	}{
		// Public.
		{"8.8.8.8", nil},
		{"1.1.1.1", nil},
		{"172.32.0.1", nil},
		{"100.128.0.1", nil},
		{"192.169.0.1", nil},
		{"2606:4700:4700::1111", nil},
		{"::ffff:8.8.8.8", nil},
		{"64:ff9b::808:808", nil},
		{"2002:808:808::1", nil},
		// Loopback.
		{"127.0.0.1", webhook.ErrBlockedAddress},
		{"127.255.255.254", webhook.ErrBlockedAddress},
		{"::1", webhook.ErrBlockedAddress},
		// RFC 1918.
		{"10.0.0.1", webhook.ErrBlockedAddress},
		{"172.16.0.1", webhook.ErrBlockedAddress},
		{"172.31.255.255", webhook.ErrBlockedAddress},
		{"192.168.1.1", webhook.ErrBlockedAddress},
		// Link-local, the cloud metadata address among them.
		{"169.254.169.254", webhook.ErrBlockedAddress},
		{"fe80::1", webhook.ErrBlockedAddress},
		{"fe80::1%eth0", webhook.ErrBlockedAddress},
		// CGNAT.
		{"100.64.0.1", webhook.ErrBlockedAddress},
		{"100.127.255.255", webhook.ErrBlockedAddress},
		// Unique-local IPv6.
		{"fc00::1", webhook.ErrBlockedAddress},
		{"fd12:3456::1", webhook.ErrBlockedAddress},
		// Unspecified.
		{"0.0.0.0", webhook.ErrBlockedAddress},
		{"::", webhook.ErrBlockedAddress},
		// Multicast and broadcast.
		{"224.0.0.1", webhook.ErrBlockedAddress},
		{"239.255.255.250", webhook.ErrBlockedAddress},
		{"255.255.255.255", webhook.ErrBlockedAddress},
		{"ff02::1", webhook.ErrBlockedAddress},
		// Documentation and other special purposes.
		{"192.0.2.1", webhook.ErrBlockedAddress},
		{"198.18.0.1", webhook.ErrBlockedAddress},
		{"2001:db8::1", webhook.ErrBlockedAddress},
		// IPv4-mapped and embedded forms of refused addresses.
		{"::ffff:127.0.0.1", webhook.ErrBlockedAddress},
		{"::ffff:10.0.0.1", webhook.ErrBlockedAddress},
		{"::ffff:169.254.169.254", webhook.ErrBlockedAddress},
		{"::127.0.0.1", webhook.ErrBlockedAddress},
		{"::ffff:0:127.0.0.1", webhook.ErrBlockedAddress}, // IPv4-translated (SIIT)
		{"::ffff:0:169.254.169.254", webhook.ErrBlockedAddress},
		{"64:ff9b::127.0.0.1", webhook.ErrBlockedAddress},
		{"64:ff9b::a9fe:a9fe", webhook.ErrBlockedAddress},
		{"64:ff9b:1::8.8.8.8", webhook.ErrBlockedAddress},
		{"2002:7f00:1::1", webhook.ErrBlockedAddress},
		{"2002:c0a8:101::1", webhook.ErrBlockedAddress},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", webhook.ErrBlockedAddress}, // Teredo
	} {
		t.Run(tc.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.addr)
			err := webhook.AddressGuard{}.Check(ip)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			var ae *webhook.AddressError
			require.ErrorAs(t, err, &ae)
			assert.NotEmpty(t, ae.Reason)
			assert.NoError(t, webhook.AddressGuard{AllowPrivate: true}.Check(ip), "AllowPrivate allows it")
		})
	}
}

// TestAddressGuardRegistries checks the guard against the IANA IPv4 and
// IPv6 Special-Purpose Address Registries, one row per block: its first
// and last addresses and one inside are refused (or allowed, for the
// blocks the registries mark globally reachable and the guard leaves
// public), and the addresses just outside it are not refused as that kind.
func TestAddressGuardRegistries(t *testing.T) {
	rows := []struct {
		block   string
		inside  string
		refused bool
		reason  string // what the refusal says, in part
	}{
		// IPv4.
		{"0.0.0.0/8", "0.1.2.3", true, "this network"},
		{"0.0.0.0/32", "0.0.0.0", true, "this network"},
		{"10.0.0.0/8", "10.20.30.40", true, "private"},
		{"100.64.0.0/10", "100.100.1.1", true, "CGNAT"},
		{"127.0.0.0/8", "127.0.0.1", true, "loopback"},
		{"169.254.0.0/16", "169.254.1.1", true, "link-local"},
		{"172.16.0.0/12", "172.20.0.1", true, "private"},
		{"192.0.0.0/24", "192.0.0.100", true, "IETF protocol"},
		{"192.0.0.0/29", "192.0.0.1", true, "IETF protocol"},     // DS-Lite
		{"192.0.0.8/32", "192.0.0.8", true, "IETF protocol"},     // dummy address
		{"192.0.0.9/32", "192.0.0.9", true, "IETF protocol"},     // PCP anycast, refused with its /24
		{"192.0.0.10/32", "192.0.0.10", true, "IETF protocol"},   // TURN anycast, refused with its /24
		{"192.0.0.170/31", "192.0.0.171", true, "IETF protocol"}, // NAT64/DNS64 discovery
		{"192.0.2.0/24", "192.0.2.1", true, "documentation"},
		{"192.31.196.0/24", "192.31.196.1", false, ""}, // AS112, globally reachable
		{"192.52.193.0/24", "192.52.193.1", false, ""}, // AMT, globally reachable
		{"192.88.99.0/24", "192.88.99.1", true, "6to4 relay"},
		{"192.168.0.0/16", "192.168.1.1", true, "private"},
		{"192.175.48.0/24", "192.175.48.1", false, ""}, // AS112 direct delegation, globally reachable
		{"198.18.0.0/15", "198.19.0.1", true, "benchmarking"},
		{"198.51.100.0/24", "198.51.100.1", true, "documentation"},
		{"203.0.113.0/24", "203.0.113.1", true, "documentation"},
		{"224.0.0.0/4", "239.255.255.250", true, "multicast"}, // from the IPv4 address space registry
		{"240.0.0.0/4", "250.1.1.1", true, "reserved"},
		{"255.255.255.255/32", "255.255.255.255", true, "broadcast"},
		// IPv6.
		{"::/128", "::", true, "unspecified"},
		{"::1/128", "::1", true, "loopback"},
		{"::/96", "::127.0.0.1", true, "IPv4-compatible"}, // deprecated, refused whatever it holds
		{"64:ff9b:1::/48", "64:ff9b:1::1", true, "local NAT64"},
		{"100::/64", "100::1", true, "discard-only"},
		{"100:0:0:1::/64", "100:0:0:1::1", true, "dummy"},
		{"2001::/23", "2001:100::1", true, "IETF protocol"},
		{"2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2", true, "Teredo"},
		{"2001:1::1/128", "2001:1::1", true, "IETF protocol"},       // PCP anycast, refused with 2001::/23
		{"2001:1::2/128", "2001:1::2", true, "IETF protocol"},       // TURN anycast
		{"2001:1::3/128", "2001:1::3", true, "IETF protocol"},       // DNS-SD anycast
		{"2001:2::/48", "2001:2::1", true, "benchmarking"},          //
		{"2001:3::/32", "2001:3::1", true, "IETF protocol"},         // AMT
		{"2001:4:112::/48", "2001:4:112::1", true, "IETF protocol"}, // AS112
		{"2001:10::/28", "2001:10::1", true, "IETF protocol"},       // ORCHID, deprecated
		{"2001:20::/28", "2001:20::1", true, "IETF protocol"},       // ORCHIDv2
		{"2001:30::/28", "2001:30::1", true, "IETF protocol"},       // drone remote ID tags
		{"2001:db8::/32", "2001:db8::1", true, "documentation"},
		{"2620:4f:8000::/48", "2620:4f:8000::1", false, ""}, // AS112 direct delegation, globally reachable
		{"3fff::/20", "3fff::1", true, "documentation"},
		{"5f00::/16", "5f00::1", true, "segment-routing"},
		{"fc00::/7", "fd12:3456::1", true, "unique-local"},
		{"fe80::/10", "fe80::1", true, "link-local"},
		{"fec0::/10", "fec0::1", true, "site-local"}, // deprecated, from the IPv6 address space registry
		{"ff00::/8", "ff02::1", true, "multicast"},
		// Outside 2000::/3, the IPv6 address space registry's blocks
		// reserved by the IETF.
		{"::/8", "::1:0:0:1", true, "reserved"},
		{"100::/8", "100::1", true, "reserved"},
		{"200::/7", "200::1", true, "reserved"},
		{"400::/6", "400::1", true, "reserved"},
		{"800::/5", "800::1", true, "reserved"},
		{"1000::/4", "1000::1", true, "reserved"},
		{"4000::/3", "4000::1", true, "reserved"},
		{"6000::/3", "6000::1", true, "reserved"},
		{"8000::/3", "8000::1", true, "reserved"},
		{"a000::/3", "a000::1", true, "reserved"},
		{"c000::/3", "c000::1", true, "reserved"},
		{"e000::/4", "e000::1", true, "reserved"},
		{"f000::/5", "f000::1", true, "reserved"},
		{"f800::/6", "f800::1", true, "reserved"},
		{"fe00::/9", "fe00::1", true, "reserved"},
		{"::ffff:0:0:0/96", "::ffff:0:a00:1", true, "IPv4-translated"},
	}
	// want returns the row that most narrowly holds ip: a block inside
	// another (2001:2::/48 in 2001::/23) says what becomes of its addresses.
	want := func(ip netip.Addr) (string, bool, string) {
		best, refused, reason := -1, false, ""
		for _, r := range rows {
			if p := netip.MustParsePrefix(r.block); p.Contains(ip) && p.Bits() > best {
				best, refused, reason = p.Bits(), r.refused, r.reason
			}
		}
		return reason, refused, ""
	}
	for _, tc := range rows {
		t.Run(tc.block, func(t *testing.T) {
			p := netip.MustParsePrefix(tc.block)
			first := p.Masked().Addr()
			last := lastAddr(p)
			for _, a := range []string{first.String(), last.String(), tc.inside} {
				ip := netip.MustParseAddr(a)
				require.True(t, p.Contains(ip), "%s is in %s", ip, p)
				reason, refused, _ := want(ip)
				err := webhook.AddressGuard{}.Check(ip)
				if !refused {
					assert.NoError(t, err, "%s", ip)
					continue
				}
				var ae *webhook.AddressError
				if assert.ErrorAs(t, err, &ae, "%s", ip) {
					assert.Contains(t, ae.Reason, reason, "%s", ip)
				}
			}
			// Just outside: judged by the rows that hold it, or public.
			for _, ip := range []netip.Addr{first.Prev(), last.Next()} {
				if !ip.IsValid() {
					continue
				}
				reason, refused, _ := want(ip)
				err := webhook.AddressGuard{}.Check(ip)
				if !refused {
					assert.NoError(t, err, "%s, just outside %s", ip, p)
					continue
				}
				var ae *webhook.AddressError
				if assert.ErrorAs(t, err, &ae, "%s", ip) {
					assert.Contains(t, ae.Reason, reason, "%s, just outside %s", ip, p)
				}
			}
		})
	}
}

// TestAddressGuardCloudMetadata checks the documented cloud metadata
// addresses: each is refused, even when an allowed prefix covers the
// network around it, and opened only by allowing the address itself or by
// AllowPrivate.
func TestAddressGuardCloudMetadata(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		network string // a private network around it that an application might allow
	}{
		{"169.254.169.254", "169.254.0.0/16"}, // AWS, Google Cloud, Azure, Oracle Cloud, OpenStack, DigitalOcean
		{"169.254.170.2", "169.254.0.0/16"},   // AWS ECS task metadata
		{"169.254.0.23", "169.254.0.0/16"},    // Tencent Cloud
		{"169.254.42.42", "169.254.0.0/16"},   // Scaleway
		{"168.63.129.16", "168.63.0.0/16"},    // Azure's wire server, a public address
		{"100.100.100.200", "100.64.0.0/10"},  // Alibaba Cloud, in the CGNAT range VPNs use
		{"fd00:ec2::254", "fd00::/8"},         // AWS over IPv6
		{"fd20:ce::254", "fd00::/8"},          // Google Cloud over IPv6
		{"fe80::a9fe:a9fe", "fe80::/10"},      // OpenStack over IPv6
	} {
		t.Run(tc.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.addr)
			for _, g := range []webhook.AddressGuard{
				{},
				{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix(tc.network)}},
				{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}},
			} {
				var ae *webhook.AddressError
				require.ErrorAs(t, g.Check(ip), &ae, "allowed %v", g.AllowedPrefixes)
				assert.Contains(t, ae.Reason, "cloud metadata")
			}
			if ip.Is4() {
				for _, form := range []string{"::ffff:" + tc.addr, "64:ff9b::" + tc.addr} {
					err := webhook.AddressGuard{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix("::/0")}}.Check(netip.MustParseAddr(form))
					assert.ErrorIs(t, err, webhook.ErrBlockedAddress, form)
				}
				mapped := netip.PrefixFrom(netip.AddrFrom16(ip.As16()), 128)
				assert.NoError(t, webhook.AddressGuard{AllowedPrefixes: []netip.Prefix{mapped}}.Check(ip), "allowed as %s", mapped)
			}
			assert.NoError(t, webhook.AddressGuard{AllowedPrefixes: []netip.Prefix{netip.PrefixFrom(ip, ip.BitLen())}}.Check(ip))
			assert.NoError(t, webhook.AddressGuard{AllowPrivate: true}.Check(ip))
			// Its neighbours are judged by their network alone.
			next := ip.Next()
			assert.NoError(t, webhook.AddressGuard{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix(tc.network)}}.Check(next), "%s", next)
		})
	}
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestAddressGuardAllowedPrefixes(t *testing.T) {
	g := webhook.AddressGuard{AllowedPrefixes: []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("fd00:1::/32"),
	}}
	for _, tc := range []struct {
		addr    string
		wantErr error
	}{
		{"10.1.2.3", nil},
		{"::ffff:10.1.2.3", nil},
		{"fd00:1::5", nil},
		{"8.8.8.8", nil},
		{"10.2.0.1", webhook.ErrBlockedAddress},
		{"fd00:2::5", webhook.ErrBlockedAddress},
		{"127.0.0.1", webhook.ErrBlockedAddress},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := g.Check(netip.MustParseAddr(tc.addr))
			if tc.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
}

// TestAddressGuardAllowedPrefixesEmbedded checks allowed prefixes against
// addresses that carry an IPv4 address: the IPv4 address is what a
// connection reaches, so a broad IPv6 prefix does not open it, and an IPv4
// prefix opens it in every form.
func TestAddressGuardAllowedPrefixesEmbedded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		allowed string
		addr    string
		wantErr error
	}{
		{"::/0 does not open IPv4-mapped loopback", "::/0", "::ffff:127.0.0.1", webhook.ErrBlockedAddress},
		{"::/0 does not open IPv4-mapped metadata", "::/0", "::ffff:169.254.169.254", webhook.ErrBlockedAddress},
		{"::/0 does not open NAT64 metadata", "::/0", "64:ff9b::a9fe:a9fe", webhook.ErrBlockedAddress},
		{"2000::/3 does not open 6to4 loopback", "2000::/3", "2002:7f00:1::1", webhook.ErrBlockedAddress},
		{"::/0 opens unique-local", "::/0", "fd00::1", nil},
		{"::/0 opens IPv6 loopback", "::/0", "::1", nil},
		{"an IPv4 prefix opens its mapped form", "10.1.0.0/16", "::ffff:10.1.2.3", nil},
		{"an IPv4 prefix opens its NAT64 form", "10.1.0.0/16", "64:ff9b::a01:203", nil},
		{"an IPv4 prefix opens its 6to4 form", "10.1.0.0/16", "2002:a01:203::1", nil},
		{"an IPv4 prefix does not open another NAT64 address", "10.1.0.0/16", "64:ff9b::a02:1", webhook.ErrBlockedAddress},
		{"a mapped prefix opens the IPv4 address", "::ffff:10.0.0.0/104", "10.1.1.1", nil},
		{"a mapped prefix opens the mapped address", "::ffff:10.0.0.0/104", "::ffff:10.1.1.1", nil},
		{"a NAT64 prefix within the NAT64 network opens it", "64:ff9b::a00:0/120", "64:ff9b::a00:5", nil},
		{"the whole 6to4 network opens 6to4", "2002::/16", "2002:7f00:1::1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := webhook.AddressGuard{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix(tc.allowed)}}
			err := g.Check(netip.MustParseAddr(tc.addr))
			if tc.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
}

func TestAddressGuardControl(t *testing.T) {
	for _, tc := range []struct {
		address string
		wantErr error
	}{
		{"8.8.8.8:443", nil},
		{"[2606:4700:4700::1111]:443", nil},
		{"127.0.0.1:80", webhook.ErrBlockedAddress},
		{"[::1]:80", webhook.ErrBlockedAddress},
		{"[::ffff:127.0.0.1]:80", webhook.ErrBlockedAddress},
		{"[fe80::1%lo]:80", webhook.ErrBlockedAddress},
		{"not-an-ip:80", webhook.ErrBlockedAddress},
		{"garbage", webhook.ErrBlockedAddress},
	} {
		t.Run(tc.address, func(t *testing.T) {
			err := webhook.AddressGuard{}.Control("tcp", tc.address, nil)
			if tc.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
}

// TestAddressGuardDial checks the guard where it runs: in the dialer, on
// the address being connected to, after name resolution.
func TestAddressGuardDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	for _, tc := range []struct {
		name    string
		guard   webhook.AddressGuard
		host    string
		wantErr error
	}{
		{"literal refused", webhook.AddressGuard{}, "127.0.0.1", webhook.ErrBlockedAddress},
		{"name resolving to loopback refused", webhook.AddressGuard{}, "localhost", webhook.ErrBlockedAddress},
		{"allowed prefix", webhook.AddressGuard{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, "127.0.0.1", nil},
		{"allow private", webhook.AddressGuard{AllowPrivate: true}, "127.0.0.1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := net.Dialer{Control: tc.guard.Control}
			c, err := d.Dial("tcp4", net.JoinHostPort(tc.host, port))
			if tc.wantErr == nil {
				require.NoError(t, err)
				c.Close()
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestAddressErrorIs(t *testing.T) {
	err := error(&webhook.AddressError{Addr: netip.MustParseAddr("10.0.0.1"), Reason: "a private address"})
	assert.True(t, errors.Is(err, webhook.ErrBlockedAddress))
	assert.Equal(t, "webhook: destination address not allowed: 10.0.0.1 is a private address", err.Error())
}

// FuzzAddressGuard checks the guard on any 16 bytes: an IPv4-mapped address
// is judged as its IPv4 address, and AllowPrivate allows everything.
func FuzzAddressGuard(f *testing.F) {
	for _, s := range []string{"::ffff:127.0.0.1", "::1", "64:ff9b::a00:1", "2002:a00:1::", "2606:4700::1", "fe80::1",
		"::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "::ffff:0:7f00:1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"} {
		b := netip.MustParseAddr(s).As16()
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 16 {
			return
		}
		ip := netip.AddrFrom16([16]byte(b))
		err := webhook.AddressGuard{}.Check(ip)
		if err != nil && !errors.Is(err, webhook.ErrBlockedAddress) {
			t.Fatalf("Check(%s) = %v", ip, err)
		}
		if ip.Is4In6() {
			v4 := webhook.AddressGuard{}.Check(ip.Unmap())
			if (err == nil) != (v4 == nil) {
				t.Fatalf("Check(%s) = %v but Check(%s) = %v", ip, err, ip.Unmap(), v4)
			}
		}
		// Allowing every IPv6 address does not open the IPv4 address one
		// carries.
		all6 := webhook.AddressGuard{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix("::/0")}}
		if carried := ip.Is4In6() || netip.MustParsePrefix("64:ff9b::/96").Contains(ip) || netip.MustParsePrefix("2002::/16").Contains(ip); carried {
			if got := all6.Check(ip); (got == nil) != (err == nil) {
				t.Fatalf("with ::/0 allowed: Check(%s) = %v, want %v", ip, got, err)
			}
		}
		if err := (webhook.AddressGuard{AllowPrivate: true}).Check(ip); err != nil {
			t.Fatalf("AllowPrivate: Check(%s) = %v", ip, err)
		}
	})
}
