package smtpfeed

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestSpread(t *testing.T) {
	host := func(name string, pref uint16, addrs ...string) MailHost {
		h := MailHost{Name: name, Pref: pref}
		for _, a := range addrs {
			h.Addrs = append(h.Addrs, HostAddr{Addr: netip.MustParseAddr(a)})
		}
		return h
	}
	mx := []MailHost{
		host("mx1", 10, "192.0.2.1", "192.0.2.2"),
		host("mx2", 10, "192.0.2.3", "192.0.2.4"),
		host("mx3", 10, "192.0.2.5", "192.0.2.6"),
		host("backup", 20, "192.0.2.9"),
	}
	for _, c := range []struct {
		rcpts int32
		leads []string // each variant's first address
	}{
		{599, nil}, // one address carries it
		{600, []string{"192.0.2.1", "192.0.2.4"}},
		{900, []string{"192.0.2.1", "192.0.2.3", "192.0.2.5"}},
		{100000, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"}},
	} {
		t.Run(fmt.Sprint(c.rcpts), func(t *testing.T) {
			d := &rcptDomain{name: "big.test", n: c.rcpts, mx: mx}
			vs := d.spread(100)
			if len(vs) != len(c.leads) {
				t.Fatalf("%d recipients: %d variants, want %d", c.rcpts, len(vs), len(c.leads))
			}
			for i, v := range vs {
				if got := v.mx[0].Addrs[0].Addr.String(); got != c.leads[i] {
					t.Errorf("variant %d leads with %s, want %s", i, got, c.leads[i])
				}
				// Every address stays on the list, once, and the backup
				// stays last.
				seen := map[netip.Addr]int{}
				for _, h := range v.mx {
					for _, a := range h.Addrs {
						seen[a.Addr]++
					}
				}
				if len(seen) != 7 || v.mx[3].Name != "backup" {
					t.Errorf("variant %d: %d distinct addresses, last host %s; want all 7 and backup last", i, len(seen), v.mx[3].Name)
				}
				for a, n := range seen {
					if n != 1 {
						t.Errorf("variant %d lists %s %d times", i, a, n)
					}
				}
			}
		})
	}
	if vs := (&rcptDomain{n: 100000, mx: mx[3:]}).spread(100); vs != nil {
		t.Errorf("one address: %d variants, want none", len(vs))
	}
}
