package smtpfeed

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"smtpfeed/reactor"
)

// familyZone: MX hosts whose glue carries only their A records, as many
// servers give it.
func familyZone(t *testing.T) *zone {
	z := newZone(t,
		"dual.test. 300 IN MX 10 mx.dual.test.",
		"mx.dual.test. 300 IN A 192.0.2.20",
		"mx.dual.test. 300 IN A 192.0.2.21",
		"mx.dual.test. 300 IN AAAA 2001:db8::20",
		"mx.dual.test. 300 IN AAAA 2001:db8::21",
		"mute.test. 300 IN MX 10 mx.mute.test.",
		"mx.mute.test. 300 IN A 192.0.2.30",
	)
	z.glueA = true
	// mx.mute.test's name server drops AAAA questions.
	z.drop = func(q dns.Question, _ int) bool {
		return q.Qtype == dns.TypeAAAA && q.Name == "mx.mute.test."
	}
	return z
}

// A host whose glue lacks a family is asked for it, and only for it; its
// addresses come out interleaved, the preferred family first.
func TestLookupAsksMissingFamily(t *testing.T) {
	for _, c := range []struct {
		name      string
		preferV6  bool
		ipv4Only  bool
		want      []string
		aaaaAsked int
	}{
		{"IPv4 first", false, false, []string{"192.0.2.20", "2001:db8::20", "192.0.2.21", "2001:db8::21"}, 1},
		{"IPv6 first", true, false, []string{"2001:db8::20", "192.0.2.20", "2001:db8::21", "192.0.2.21"}, 1},
		{"-N 4", false, true, []string{"192.0.2.20", "192.0.2.21"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			z := familyZone(t)
			h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{z.serve(t)}, Timeout: 5 * time.Second,
				IPv4Only: c.ipv4Only, PreferIPv6: c.preferV6})
			res := h.lookupAll([]string{"dual.test"}, 10*time.Second, 0)["dual.test"]
			if res.Fail != nil || len(res.Hosts) != 1 {
				t.Fatalf("LookupMX(dual.test) = %+v", res)
			}
			var got []string
			for _, a := range res.Hosts[0].Addrs {
				got = append(got, a.Addr.String())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("addresses %v, want %v", got, c.want)
			}
			if n := z.count("mx.dual.test", dns.TypeA, "udp"); n != 0 {
				t.Errorf("%d A questions for a host whose glue has its A records, want 0", n)
			}
			if n := z.count("mx.dual.test", dns.TypeAAAA, "udp"); n != c.aaaaAsked {
				t.Errorf("%d AAAA questions, want %d", n, c.aaaaAsked)
			}
		})
	}
}

// A name server that drops AAAA questions costs a host with IPv4 glue
// ResolutionDelay, not the lookup's timeout.
func TestLookupResolutionDelay(t *testing.T) {
	z := familyZone(t)
	clock := reactor.NewFakeClock(time.Unix(1e9, 0))
	h := newHarness(t, clock, ResolverConfig{Servers: []netip.AddrPort{z.serve(t)}, Timeout: 30 * time.Second})
	start := clock.Now()
	res := h.lookupAll([]string{"mute.test"}, 20*time.Second, 10*time.Millisecond)["mute.test"]
	if res.Fail != nil || len(res.Hosts) != 1 || len(res.Hosts[0].Addrs) != 1 || res.Hosts[0].Addrs[0].Addr.String() != "192.0.2.30" {
		t.Fatalf("LookupMX(mute.test) = %+v, want mx.mute.test's one IPv4 address", res)
	}
	if took := clock.Now().Sub(start); took > ResolutionDelay+time.Second {
		t.Errorf("the lookup took %v of the clock, want about %v, not the 30s timeout", took, ResolutionDelay)
	}
	if n := z.count("mx.mute.test", dns.TypeAAAA, "udp"); n == 0 {
		t.Error("the AAAA question was never asked")
	}
}

func TestInterleave(t *testing.T) {
	addrs := func(ss ...string) []HostAddr {
		var out []HostAddr
		for _, s := range ss {
			out = append(out, HostAddr{Addr: netip.MustParseAddr(s)})
		}
		return out
	}
	in := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1")
	for _, c := range []struct {
		v4First bool
		want    []HostAddr
	}{
		{true, addrs("192.0.2.1", "2001:db8::1", "192.0.2.2", "192.0.2.3")},
		{false, addrs("2001:db8::1", "192.0.2.1", "192.0.2.2", "192.0.2.3")},
	} {
		if got := interleave(slices.Clone(in), c.v4First); !slices.Equal(got, c.want) {
			t.Errorf("interleave(v4First=%v) = %v, want %v", c.v4First, got, c.want)
		}
	}
}
