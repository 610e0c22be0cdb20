package smtpfeed

import (
	"net/netip"
	"testing"
	"time"
)

// The first connect's race delay is RFC 8305's when the next address of
// the same host is of the other family, the usual one otherwise.
func TestRaceDelayFamily(t *testing.T) {
	e := &Engine{cfg: Config{}.withDefaults()}
	v6, v6b, v4 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("192.0.2.1")
	for _, c := range []struct {
		name  string
		addrs []netip.Addr
		want  time.Duration
	}{
		{"IPv6 then IPv4", []netip.Addr{v6, v4}, MinRaceDelay},
		{"IPv6 then IPv6", []netip.Addr{v6, v6b}, DefaultRaceDelay},
		{"one address", []netip.Addr{v6}, DefaultRaceDelay},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := MailHost{Name: "mx.test"}
			for _, a := range c.addrs {
				h.Addrs = append(h.Addrs, HostAddr{Addr: a})
			}
			j := &delivery{e: e}
			j.rcpts = []rcpt{{j: j, dom: &rcptDomain{name: "test", mx: []MailHost{h}}}}
			d := &dest{e: e, name: h.Name, addr: c.addrs[0], waiting: []*rcpt{&j.rcpts[0]}}
			if got := d.raceDelay(); got != c.want {
				t.Errorf("race delay %v, want %v", got, c.want)
			}
		})
	}
}
