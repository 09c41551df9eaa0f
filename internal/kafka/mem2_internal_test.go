package kafka

import "testing"

// TestAuditH2_PerIPKeyGroupsIPv6By64: the per-address connection cap counts an IPv6 client
// by its /64, which one subscriber can spread its connections over, and an IPv4 client by
// its address.
func TestAuditH2_PerIPKeyGroupsIPv6By64(t *testing.T) {
	for _, c := range []struct{ host, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "::ffff:192.0.2.7"}, // IPv4-mapped: still one IPv4 client
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"::1", "::/64"},
		{"fe80::1%eth0", "fe80::1%eth0"}, // not parsed as an IP: kept as it is
		{"not-an-ip", "not-an-ip"},
	} {
		if got := ipKey(c.host); got != c.want {
			t.Errorf("ipKey(%q) = %q, want %q", c.host, got, c.want)
		}
	}
	if ipKey("2001:db8:1:2::1") != ipKey("2001:db8:1:2:aaaa::9") {
		t.Error("two addresses of one /64 have different keys")
	}
}

func TestConnShare(t *testing.T) {
	for _, c := range []struct {
		budget   int64
		fetchMax int32
		want     int64
	}{
		{256 << 20, 55 << 20, 110 << 20}, // defaults: one largest fetch with its encoded copy
		{1 << 30, 55 << 20, 256 << 20},   // a quarter of a large budget
		{64 << 20, 55 << 20, 64 << 20},   // never more than the budget
	} {
		if got := connShare(c.budget, c.fetchMax); got != c.want {
			t.Errorf("connShare(%d, %d) = %d, want %d", c.budget, c.fetchMax, got, c.want)
		}
	}
}
