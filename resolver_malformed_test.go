package smtpfeed

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"smtpfeed/reactor"
)

// TestResolverMalformedAnswer: an answer from the server asked, with the
// query's ID, that does not parse is that server's failure, not silence:
// the lookup asks another server at once, or asks once more, then fails
// 451 4.4.3 long before the lookup timeout.
func TestResolverMalformedAnswer(t *testing.T) {
	records := []string{"good.test. MX 10 mx.good.test.", "mx.good.test. A 192.0.2.1"}
	t.Run("the only server", func(t *testing.T) {
		z := newZone(t, records...)
		z.garbled["good.test."] = true
		clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, clock, ResolverConfig{Servers: []netip.AddrPort{z.serve(t)}, Timeout: 75 * time.Second})
		start := clock.Now()
		res := h.lookupAll([]string{"good.test"}, 10*time.Second, 10*time.Millisecond)["good.test"]
		if res.Fail == nil || outcomeFail(res.Fail).Code != 451 || outcomeFail(res.Fail).Enhanced != "4.4.3" || !strings.Contains(res.Fail.Text, "does not parse") {
			t.Fatalf("lookup = %+v, want 451 4.4.3 naming the broken answer", res)
		}
		if took := clock.Now().Sub(start); took > 5*time.Second {
			t.Errorf("the lookup took %v of the 75s timeout, want it to fail at once", took)
		}
		if n := z.count("good.test", dns.TypeMX, "udp"); n != 2 {
			t.Errorf("asked %d times, want 2 (once more after the broken answer)", n)
		}
		if n := z.count("good.test", dns.TypeA, "udp"); n != 0 {
			t.Errorf("asked the domain's A record %d times after a failed MX lookup, want 0", n)
		}
	})
	t.Run("another server answers", func(t *testing.T) {
		bad, good := newZone(t, records...), newZone(t, records...)
		bad.garbleAll = true
		clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, clock, ResolverConfig{Servers: []netip.AddrPort{bad.serve(t), good.serve(t)}, Timeout: 75 * time.Second})
		start := clock.Now()
		res := h.lookupAll([]string{"good.test"}, 10*time.Second, 10*time.Millisecond)["good.test"]
		if res.Fail != nil || len(res.Hosts) != 1 || res.Hosts[0].Name != "mx.good.test" {
			t.Fatalf("lookup = %+v, want mx.good.test from the second server", res)
		}
		if took := clock.Now().Sub(start); took > 5*time.Second {
			t.Errorf("the lookup took %v, want the second server asked at once", took)
		}
	})
}

// TestNoImplicitMXAfterFailure: only NODATA for MX means the domain's own
// addresses are its mail host (RFC 5321 §5.1). A lookup that failed
// (SERVFAIL, REFUSED, a broken answer, silence) is 451 4.4.3 and never
// asks the domain's A or AAAA records.
func TestNoImplicitMXAfterFailure(t *testing.T) {
	z := newZone(t, "nodata.test. A 192.0.2.5")
	z.servfail["servfail.test."] = true
	z.refused["refused.test."] = true
	z.garbled["garbled.test."] = true
	z.silent["silent.test."] = true
	clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	h := newHarness(t, clock, ResolverConfig{Servers: []netip.AddrPort{z.serve(t)}, Timeout: 10 * time.Second})
	names := []string{"servfail.test", "refused.test", "garbled.test", "silent.test", "nodata.test"}
	got := h.lookupAll(names, 20*time.Second, 50*time.Millisecond)
	for _, n := range names[:4] {
		res := got[n]
		if res.Fail == nil || outcomeFail(res.Fail).Code != 451 || outcomeFail(res.Fail).Enhanced != "4.4.3" || res.Implicit {
			t.Errorf("%s: %+v, want 451 4.4.3 and no implicit MX", n, res)
		}
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			if c := z.count(n, qt, "udp") + z.count(n, qt, "tcp"); c != 0 {
				t.Errorf("%s: asked %s %d times after a failed MX lookup, want 0", n, dns.TypeToString[qt], c)
			}
		}
	}
	if res := got["nodata.test"]; res.Fail != nil || !res.Implicit {
		t.Errorf("nodata.test: %+v, want the implicit MX (NODATA for MX)", res)
	}
}
