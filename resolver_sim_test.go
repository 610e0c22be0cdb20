package smtpfeed

import (
	"net/netip"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

func startSim(t testing.TB, cfg sim.Config) *sim.Sim {
	t.Helper()
	s, err := sim.Start(cfg)
	if err != nil {
		t.Fatalf("sim.Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func domainNames(w *sim.World) []string {
	out := make([]string, len(w.Domains))
	for i, d := range w.Domains {
		out[i] = d.Name
	}
	return out
}

// TestSimSharedHosts: 10,000 domains on 1,000 MX hosts. Every distinct
// (name, type) is asked once, and no A query goes out for a host that came
// in an additional section.
func TestSimSharedHosts(t *testing.T) {
	cfg := sim.Config{Seed: 3, Domains: 10000, Hosts: 1000, Users: 1, Share: 0.3, SecondMX: 0.5}
	s := startSim(t, cfg)
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, IPv4Only: true, Timeout: 20 * time.Second})
	got := h.lookupAll(domainNames(s.World), 40*time.Second, 0)
	rep := s.Report()
	for _, d := range s.World.Domains {
		res := got[d.Name]
		if res.Fail != nil {
			t.Fatalf("LookupMX(%q) = %v, want hosts", d.Name, res.Fail)
		}
		if want := d.MXHosts()[0]; res.Hosts[0].Addrs[0].Addr != want.Addr && res.Hosts[0].Pref == uint16(d.MX[0].Pref) && len(d.MX) == 1 {
			t.Errorf("LookupMX(%q) = %v, want %v", d.Name, res.Hosts, want.Addr)
		}
	}
	for _, c := range rep.DNSQueries {
		if c.Count != 1 {
			t.Errorf("queries for %s %s over %s = %d, want 1", c.Name, c.Type, c.Transport, c.Count)
		}
		if c.Type == "A" {
			t.Errorf("A query for %s, whose address came in an additional section", c.Name)
		}
	}
	if rep.DNSQueriesTotal != len(s.World.Domains) {
		t.Errorf("queries = %d, want %d (one MX per domain)", rep.DNSQueriesTotal, len(s.World.Domains))
	}
}

// TestSimWorld checks every kind of domain of the default world against
// the outcome the world expects.
func TestSimWorld(t *testing.T) {
	cfg := sim.DefaultConfig()
	s := startSim(t, cfg)
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, IPv4Only: true, Timeout: 2 * time.Second})
	start := time.Now()
	got := h.lookupAll(domainNames(s.World), 20*time.Second, 0)
	elapsed := time.Since(start)
	want := map[sim.DomainKind]int{sim.KindNullMX: 556, sim.KindNXDomain: 550, sim.KindSilent: 451}
	for _, d := range s.World.Domains {
		t.Run(string(d.Kind), func(t *testing.T) {
			res := got[d.Name]
			code := 0
			if res.Fail != nil {
				code = res.Fail.Code
			}
			if code != want[d.Kind] {
				t.Fatalf("LookupMX(%q) = %v, want code %d", d.Name, res.Fail, want[d.Kind])
			}
			if code != 0 {
				return
			}
			hosts := d.MXHosts()
			found := false
			for _, mh := range res.Hosts {
				for _, a := range mh.Addrs {
					found = found || a.Addr == hosts[0].Addr
				}
			}
			if !found {
				t.Errorf("LookupMX(%q) = %v, want %s among the hosts", d.Name, res.Hosts, hosts[0].Name)
			}
		})
	}
	rep := s.Report()
	for _, d := range s.World.DomainsOf(sim.KindTruncate) {
		if n := rep.DNSCount(d.Name, "MX", "tcp"); n != 1 {
			t.Errorf("TCP MX queries for truncated %s = %d, want 1", d.Name, n)
		}
	}
	// The silent domains end together after one (2 s) timeout, not one
	// each: 10 of them in turn would take 20 s.
	if elapsed > 3*2*time.Second {
		t.Errorf("world resolved in %v, want about one 2s timeout", elapsed)
	}
}
