package smtpfeed

import (
	"net/netip"
	"testing"
	"time"

	"smtpfeed/reactor"
)

// TestResolverStalls: the resolver stalls (and says so once through its
// hook) when every query still out has timed out at least once, and not
// while a first try is within its round trip: a silent name server holds
// no host back longer than a retransmission timeout.
func TestResolverStalls(t *testing.T) {
	z := newZone(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 192.0.2.1")
	z.silent["silent.test."] = true
	clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	h := newHarness(t, clock, ResolverConfig{Servers: []netip.AddrPort{z.serve(t)}, Timeout: 10 * time.Second})
	stalls := 0
	h.r.SetStallHook(func() { stalls++ })
	if h.r.Stalled() {
		t.Fatal("stalled before any query")
	}
	answered := false
	h.r.LookupMX("a.test", func(MXResult) { answered = true })
	silentDone := false
	h.r.LookupMX("silent.test", func(MXResult) { silentDone = true })
	step := func(what string, until func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !until() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 10 s (real time)", what)
			}
			if err := h.loop.Step(time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The clock stands still: the silent query's first try stays within
	// its round trip however long the answer to a.test takes to come.
	step("a.test answered", func() bool { return answered })
	if h.r.Stalled() || stalls != 0 {
		t.Fatalf("stalled (%v, hook called %d times) while the silent query's first try is within its round trip", h.r.Stalled(), stalls)
	}
	clock.Advance(RetransmitCeiling) // past any first timeout
	step("the stall hook", func() bool { return stalls > 0 })
	if !h.r.Stalled() || silentDone {
		t.Fatalf("Stalled() = %v, silent lookup done %v; want stalled with the lookup still running", h.r.Stalled(), silentDone)
	}
	// More passes and retransmissions: still one stall, said once.
	for range 5 {
		clock.Advance(RetransmitCeiling)
		if err := h.loop.Step(time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if stalls != 1 {
		t.Errorf("stall hook called %d times for one stall, want 1", stalls)
	}
	// A new query is due: no longer stalled.
	h.r.LookupMX("a.test.", func(MXResult) {})
	h.r.LookupMX("b.test", func(MXResult) {})
	if h.r.Stalled() {
		t.Error("stalled with a new query just sent")
	}
}
