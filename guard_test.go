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
