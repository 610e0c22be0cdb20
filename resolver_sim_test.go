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
	// The window is held at 256: with no delay, a larger one queues
	// answers behind the in-process server for more than the 20 ms
	// retransmission floor, and spurious retransmissions are not what
	// this test is about (BenchmarkResolveSim measures the window).
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, IPv4Only: true, Timeout: 20 * time.Second, MaxOutstanding: 256})
	got := h.lookupAll(domainNames(s.World), 40*time.Second, 0)
	rep := s.Report()
	for _, d := range s.World.Domains {
		res := got[d.Name]
		if res.Fail != nil {
			t.Fatalf("LookupMX(%q) = %v, want hosts", d.Name, res.Fail)
		}
		want := d.MXHosts()
		if len(res.Hosts) != len(want) {
			t.Errorf("LookupMX(%q) = %v, want %d hosts", d.Name, res.Hosts, len(want))
			continue
		}
		for _, got := range res.Hosts {
			var w *sim.Host
			for _, h := range want {
				if h.Name == got.Name {
					w = h
				}
			}
			if w == nil || len(got.Addrs) != 1 || got.Addrs[0].Addr != w.Addr {
				t.Errorf("LookupMX(%q) host %s = %v, want the world's address of %s", d.Name, got.Name, addrsOf(got), got.Name)
			}
		}
	}
	// One question per distinct (name, type); the server may see a
	// question more than once only as a retransmission the resolver
	// counted (a loaded machine, -race, can make the 20 ms floor fire).
	st := h.r.Stats()
	if st.Queries != len(s.World.Domains) {
		t.Errorf("distinct questions = %d, want %d (one MX per domain)", st.Queries, len(s.World.Domains))
	}
	names := map[string]bool{}
	for _, c := range rep.DNSQueries {
		if c.Type != "MX" {
			t.Errorf("%s query for %s: want only MX queries, addresses come in the additional section", c.Type, c.Name)
		}
		names[c.Name] = true
	}
	if len(names) != len(s.World.Domains) {
		t.Errorf("server saw %d distinct names, want %d", len(names), len(s.World.Domains))
	}
	if sent := st.UDPSent + st.TCPSent; rep.DNSQueriesTotal != sent {
		t.Errorf("server saw %d queries, resolver sent %d", rep.DNSQueriesTotal, sent)
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
				code = outcomeFail(res.Fail).Code
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

// TestSimDropBurst: 10,000 domains asked of a server that drops half the
// queries beyond 200 per 10 ms all resolve, through retransmission and
// the window's backing off.
func TestSimDropBurst(t *testing.T) {
	cfg := sim.Config{Seed: 9, Domains: 10000, Hosts: 1000, Users: 1, SecondMX: 0.5,
		BurstLimit: 200, BurstWindow: 10 * time.Millisecond, BurstDropShare: 0.5}
	s := startSim(t, cfg)
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, IPv4Only: true, Timeout: 30 * time.Second})
	got := h.lookupAll(domainNames(s.World), 50*time.Second, 0)
	for _, d := range s.World.Domains {
		if res := got[d.Name]; res.Fail != nil || len(res.Hosts) == 0 || len(res.Hosts[0].Addrs) == 0 {
			t.Fatalf("LookupMX(%q) = %v %v, want hosts with addresses", d.Name, res.Fail, res.Hosts)
		}
	}
	rep := s.Report()
	if rep.DNSDropped == 0 {
		t.Errorf("server dropped nothing: the test no longer tests loss")
	}
	t.Logf("dropped %d, stats %+v", rep.DNSDropped, h.r.Stats())
}
