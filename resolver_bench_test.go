package smtpfeed

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkResolveSim resolves 10,000 domains over the simulated DNS with
// a 50 ms delay on every query. It reports elapsed/bound (the bound is the
// delay times the longest chain of queries that must be asked in turn),
// queries sent per distinct (name, type) asked, and CPU per 1,000 domains
// (the simulated server's included: it runs in this process).
func BenchmarkResolveSim(b *testing.B) {
	const delay = 50 * time.Millisecond
	cfg := sim.Config{Seed: 5, Domains: 10000, Hosts: 1000, Users: 1, Share: 0.2, SecondMX: 0.5,
		Implicit: 0.02, CNAME: 0.02, NullMX: 0.01, NXDomain: 0.01, Truncate: 0.02, DNSDelay: delay}
	s := startSim(b, cfg)
	var bound time.Duration
	for _, d := range s.World.Domains {
		chain := 1
		switch d.Kind {
		case sim.KindImplicit, sim.KindTruncate:
			chain = 2
		}
		bound = max(bound, time.Duration(chain)*delay)
	}
	var ratio, perName, cpu float64
	for i := 0; i < b.N; i++ {
		h := newHarness(b, nil, ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, IPv4Only: true, Timeout: 20 * time.Second})
		before := s.Report()
		c0, t0 := cpuTime(), time.Now()
		h.lookupAll(domainNames(s.World), 60*time.Second, 0)
		elapsed, used := time.Since(t0), cpuTime()-c0
		after := s.Report()
		names := map[string]bool{}
		for _, c := range after.DNSQueries {
			names[c.Name+" "+c.Type] = true
		}
		if d := after.DNSDropped - before.DNSDropped; d != 0 {
			b.Logf("%d queries dropped", d)
		}
		ratio += float64(elapsed) / float64(bound)
		perName += float64(after.DNSQueriesTotal-before.DNSQueriesTotal) / float64(len(names))
		cpu += float64(used) / float64(time.Millisecond) / 10
	}
	b.ReportMetric(ratio/float64(b.N), "elapsed/bound")
	b.ReportMetric(perName/float64(b.N), "queries/name")
	b.ReportMetric(cpu/float64(b.N), "cpu-ms/1000domains")
}

// BenchmarkResolveLoss resolves 10,000 domains at 50 ms per query from
// two simulated worlds side by side, alternating: one whose server drops
// half the UDP queries beyond 200 per 10 ms (sim's DropBurst, a resolver
// whose socket buffer overflows), one that drops nothing. It reports the
// lossy time over the loss-free one (target: under 1.5).
func BenchmarkResolveLoss(b *testing.B) {
	cfg := sim.Config{Seed: 8, Domains: 10000, Hosts: 1000, Users: 1, SecondMX: 0.5, DNSDelay: 50 * time.Millisecond}
	free := startSim(b, cfg)
	cfg.BurstLimit, cfg.BurstWindow, cfg.BurstDropShare = 200, 10*time.Millisecond, 0.5
	lossy := startSim(b, cfg)
	run := func(s *sim.Sim) time.Duration {
		h := newHarness(b, nil, ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, IPv4Only: true, Timeout: 20 * time.Second})
		t0 := time.Now()
		h.lookupAll(domainNames(s.World), 60*time.Second, 0)
		return time.Since(t0)
	}
	var lost, clean time.Duration
	for i := 0; i < b.N; i++ {
		lost += run(lossy)
		clean += run(free)
	}
	b.ReportMetric(float64(lost)/float64(clean), "loss/lossfree")
	b.ReportMetric(float64(lost.Milliseconds())/float64(b.N), "lossy-ms")
	b.ReportMetric(float64(clean.Milliseconds())/float64(b.N), "lossfree-ms")
	b.ReportMetric(float64(lossy.Report().DNSDropped)/float64(b.N), "dropped")
}

// BenchmarkResolveCap measures the window's ceiling against the simulated
// server without delay: datagrams sent per question show drops, time
// shows the cost.
func BenchmarkResolveCap(b *testing.B) {
	cfg := sim.Config{Seed: 6, Domains: 10000, Hosts: 1000, Users: 1, SecondMX: 0.5}
	s := startSim(b, cfg)
	for _, limit := range []int{64, 256, 1024, 10000} {
		b.Run(fmt.Sprint(limit), func(b *testing.B) {
			var sent, elapsed float64
			for i := 0; i < b.N; i++ {
				h := newHarness(b, nil, ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, IPv4Only: true, MaxOutstanding: limit, Timeout: 20 * time.Second})
				t0 := time.Now()
				h.lookupAll(domainNames(s.World), 60*time.Second, 0)
				elapsed += float64(time.Since(t0).Milliseconds())
				st := h.r.Stats()
				sent += float64(st.UDPSent) / float64(st.Queries)
			}
			b.ReportMetric(sent/float64(b.N), "sent/question")
			b.ReportMetric(elapsed/float64(b.N), "ms")
		})
	}
}
