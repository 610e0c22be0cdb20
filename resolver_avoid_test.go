package smtpfeed

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"smtpfeed/reactor"
)

// TestFailingServerAvoided: a server that answered SERVFAIL or REFUSED is
// passed over for the next queries while another server is available,
// until avoidFor has passed on the (fake) clock.
func TestFailingServerAvoided(t *testing.T) {
	records := []string{
		"a.test. 300 IN MX 10 mx.test.", "b.test. 300 IN MX 10 mx.test.", "c.test. 300 IN MX 10 mx.test.",
		"mx.test. 300 IN A 192.0.2.1",
	}
	for _, rcode := range []string{"SERVFAIL", "REFUSED"} {
		t.Run(rcode, func(t *testing.T) {
			bad, good := newZone(t, records...), newZone(t, records...)
			for _, n := range []string{"a.test.", "b.test.", "c.test."} {
				if rcode == "SERVFAIL" {
					bad.servfail[n] = true
				} else {
					bad.refused[n] = true
				}
			}
			badAddr, goodAddr := bad.serve(t), good.serve(t)
			clock := reactor.NewFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
			h := newHarness(t, clock, ResolverConfig{Servers: []netip.AddrPort{badAddr, goodAddr}, IPv4Only: true})
			steps := []struct {
				domain  string
				advance time.Duration // before the lookup
				askBad  int           // MX queries the failing server gets
			}{
				{"a.test", 0, 1},                      // first in turn: asked, fails, the other answers
				{"b.test", time.Second, 0},            // avoided
				{"c.test", avoidFor + time.Second, 1}, // avoidance over: asked again
			}
			for _, st := range steps {
				clock.Advance(st.advance)
				if err := h.loop.Step(0); err != nil { // the loop reads the moved clock
					t.Fatalf("Step: %v", err)
				}
				got := h.lookupAll([]string{st.domain}, 10*time.Second, 0)
				if res := got[st.domain]; res.Fail != nil || len(res.Hosts) != 1 {
					t.Fatalf("LookupMX(%q) = %v %v, want mx.test", st.domain, res.Fail, res.Hosts)
				}
				if n := bad.count(st.domain, dns.TypeMX, "udp"); n != st.askBad {
					t.Errorf("after %v: MX queries for %s to the %s server = %d, want %d", st.advance, st.domain, rcode, n, st.askBad)
				}
				if n := good.count(st.domain, dns.TypeMX, "udp"); n != 1 {
					t.Errorf("MX queries for %s to the good server = %d, want 1", st.domain, n)
				}
			}
		})
	}
}
