package smtpfeed

import (
	"net/netip"
	"strings"
	"testing"
)

// TestEngineSelfRoutes: an address of this host is never connected to;
// a recipient whose best MX host has an address of this host's is
// bounced 5.4.6 as a loop; one whose worse MX is this host's goes to the
// better ones. 127.0.0.1 (where the test
// server listens) is exempted as -allow-local would; the rest of
// 127.0.0.0/8 is this host's.
func TestEngineSelfRoutes(t *testing.T) {
	records := []string{
		"self.test. MX 10 mx.self.test.",
		"mx.self.test. A 127.0.0.2",
		"mixed.test. MX 10 mx.self.test.",
		"mixed.test. MX 20 mx.good.test.",
		"mx.good.test. A 127.0.0.1",
		"implicit.test. A 127.0.0.3",
		"own.test. MX 10 mx.own.test.",
		"backup.test. MX 10 mx.good.test.",
		"backup.test. MX 20 mx.self.test.",
		"equal.test. MX 10 mx.good.test.",
		"equal.test. MX 10 mx.self.test.",
		"mx.own.test. A 192.0.2.7",
	}
	self := NewSelf([]netip.Addr{netip.MustParseAddr("192.0.2.7")}, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	tests := []struct {
		name, rcpt string
		code       int
		enhanced   string
		text       string
	}{
		{"only MX is this host", "a@self.test", 554, "5.4.6", "mail for self.test loops back to myself (mx.self.test[127.0.0.2] is this host)"},
		// RFC 5321 §5.1: this host and every worse or equal MX are
		// dropped, since they would relay back here.
		{"first MX this host, second elsewhere", "b@mixed.test", 554, "5.4.6", "(mx.self.test[127.0.0.2] is this host)"},
		{"second MX this host", "b@backup.test", 250, "2.0.0", "mx.good.test[127.0.0.1]"},
		{"an equal MX is this host", "b@equal.test", 554, "5.4.6", "is this host"},
		{"implicit MX is this host", "c@implicit.test", 554, "5.4.6", "(implicit.test[127.0.0.3] is this host)"},
		{"MX is an interface address", "d@own.test", 554, "5.4.6", "(mx.own.test[192.0.2.7] is this host)"},
		{"address literal of this host", "e@[127.0.0.9]", 554, "5.4.6", "([127.0.0.9] is this host)"},
		{"unspecified address literal", "f@[0.0.0.0]", 554, "5.4.6", "is this host"},
		{"allowed address literal", "g@[127.0.0.1]", 250, "2.0.0", "delivered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z := newZoneRun(t, records, func(c *Config) { c.Self = self })
			o := z.deliver(t, tc.rcpt)[0]
			if o.Code != tc.code || o.Enhanced != tc.enhanced || !strings.Contains(o.Text, tc.text) {
				t.Fatalf("%s: %v, want %d %s containing %q", tc.rcpt, o, tc.code, tc.enhanced, tc.text)
			}
			want := 0
			if tc.code == 250 {
				want = 1
			}
			if z.e.stats.Connections != want {
				t.Errorf("%s: %d connections, want %d: an address of this host was connected to", tc.rcpt, z.e.stats.Connections, want)
			}
		})
	}
}

// TestSelfHas: loopback, unspecified and the host's own addresses are
// this host's, IPv4-mapped or not; allowed networks and private ones are
// not.
func TestSelfHas(t *testing.T) {
	s := NewSelf([]netip.Addr{netip.MustParseAddr("198.51.100.4"), netip.MustParseAddr("2001:db8::4")},
		[]netip.Prefix{netip.MustParsePrefix("127.1.0.0/16")})
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true}, {"127.200.0.1", true}, {"::1", true}, {"0.0.0.0", true}, {"::", true},
		{"::ffff:127.0.0.1", true}, {"198.51.100.4", true}, {"::ffff:198.51.100.4", true}, {"2001:db8::4", true},
		{"127.1.2.3", false}, {"198.51.100.5", false}, {"10.0.0.1", false}, {"fd00::1", false}, {"169.254.1.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			if got := s.Has(netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Errorf("Has(%s) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
	if (*Self)(nil).Has(netip.MustParseAddr("127.0.0.1")) {
		t.Error("a nil Self has 127.0.0.1, want no address (no self check)")
	}
}

// TestNotePrivate: a destination in a private or link-local network is
// delivered to, and logged once per address.
func TestNotePrivate(t *testing.T) {
	log := &noticeLog{}
	e := &Engine{cfg: Config{Log: log}}
	for _, a := range []string{"10.1.2.3", "10.1.2.3", "fd00::25", "169.254.0.25", "192.0.2.25", "10.1.2.3"} {
		e.notePrivate("mx.intranet.test", netip.MustParseAddr(a))
	}
	want := []string{"mx.intranet.test[10.1.2.3]", "mx.intranet.test[fd00::25]", "mx.intranet.test[169.254.0.25]"}
	if len(log.notices) != len(want) {
		t.Fatalf("notices %q, want one each for %q", log.notices, want)
	}
	for i, w := range want {
		if !strings.HasPrefix(log.notices[i], w+" is a private or link-local address") {
			t.Errorf("notice %d = %q, want it to name %s", i, log.notices[i], w)
		}
	}
}
