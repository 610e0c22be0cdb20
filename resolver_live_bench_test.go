package smtpfeed

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// BenchmarkResolveLive measures the heap a finished set of lookups keeps:
// 10,000 domains on 1,000 hosts resolved over the simulated DNS, then
// live bytes per domain counted after a collection:
//
//   - held-B/domain: what the resolver keeps once every lookup has ended
//     (its cache, and anything a finished lookup failed to let go);
//   - result-B/domain: the MXResults handed to the callers on top of it,
//     which a message keeps while its recipients are routed.
//
// The world is resolved once before measuring, so that the simulated
// server's own per-name counters are not counted.
func BenchmarkResolveLive(b *testing.B) {
	cfg := sim.Config{Seed: 5, Domains: 10000, Hosts: 1000, Users: 1, Share: 0.2, SecondMX: 0.5,
		Implicit: 0.02, CNAME: 0.02, NullMX: 0.01, NXDomain: 0.01, Truncate: 0.02}
	s := startSim(b, cfg)
	names := domainNames(s.World)
	rcfg := ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, Timeout: 20 * time.Second}
	newHarness(b, nil, rcfg).lookupAll(names, 60*time.Second, 0)
	var held, results float64
	for i := 0; i < b.N; i++ {
		base := liveHeap()
		h := newHarness(b, nil, rcfg)
		all := liveAfterLookups(h, names)
		kept := liveHeap()
		runtime.KeepAlive(h)
		held += float64(kept-base) / float64(len(names))
		results += float64(all-kept) / float64(len(names))
	}
	b.ReportMetric(held/float64(b.N), "held-B/domain")
	b.ReportMetric(results/float64(b.N), "result-B/domain")
}

// liveAfterLookups resolves names and measures the live heap while their
// results are still held.
func liveAfterLookups(h *harness, names []string) int64 {
	got := h.lookupAll(names, 60*time.Second, 0)
	n := liveHeap()
	runtime.KeepAlive(got)
	return n
}

// liveHeap is the heap's live bytes after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
