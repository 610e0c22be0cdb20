package smtpfeed

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"smtpfeed/reactor"
)

// outcomeZone holds one domain per outcome the lookup must map.
func outcomeZone(t testing.TB) *zone {
	z := newZone(t,
		"glue.test. 300 IN MX 10 mx1.test.",
		"glue.test. 300 IN MX 20 mx2.test.",
		"mx1.test. 300 IN A 192.0.2.1",
		"mx2.test. 300 IN A 192.0.2.2",
		"noglue.test. 300 IN MX 10 far.example.",
		"far.example. 300 IN A 192.0.2.3",
		"implicit.test. 300 IN A 192.0.2.4",
		"noaddr.test. 300 IN TXT \"nothing here\"",
		"null.test. 300 IN MX 0 .",
		"alias.test. 300 IN CNAME glue.test.",
		"far-alias.test. 300 IN CNAME out.example.",
		"out.example. 300 IN MX 5 mx1.test.",
		"loop1.test. 300 IN CNAME loop2.test.",
		"loop2.test. 300 IN CNAME loop1.test.",
		"self.test. 300 IN MX 10 mx1.test.",
		"self.test. 300 IN MX 20 me.test.",
		"self.test. 300 IN MX 30 mx2.test.",
		"me-first.test. 300 IN MX 10 me.test.",
		"me.test. 300 IN A 192.0.2.99",
		"trunc.test. 300 IN MX 10 mx1.test.",
		"fail.test. 300 IN MX 10 mx1.test.",
		"deadhost.test. 300 IN MX 10 gone.test.",
		"badhost.test. 300 IN MX 10 sfhost.test.",
		"sfhost.test. 300 IN A 192.0.2.5",
		"badhost-far.test. 300 IN MX 10 sf.example.",
	)
	z.servfail["sf.example."] = true
	z.servfail["fail.test."] = true
	z.servfail["sfhost.test."] = true
	z.refused["refused.test."] = true
	z.truncate["trunc.test."] = true
	return z
}

func TestLookupMX(t *testing.T) {
	z := outcomeZone(t)
	srv := z.serve(t)
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{srv}, IPv4Only: true, Own: []string{"ME.test"}, Timeout: 5 * time.Second})
	cases := []struct {
		domain string
		fail   string   // "code enhanced" or ""
		hosts  []string // name=addr/source,...
	}{
		{"glue.test", "", []string{"mx1.test=192.0.2.1/additional", "mx2.test=192.0.2.2/additional"}},
		{"noglue.test", "", []string{"far.example=192.0.2.3/answer"}},
		{"implicit.test", "", []string{"implicit.test=192.0.2.4/answer"}},
		{"noaddr.test", "550 5.1.2", nil},
		{"null.test", "556 5.1.10", nil},
		{"nx.test", "550 5.1.2", nil},
		{"alias.test", "", []string{"mx1.test=192.0.2.1/additional", "mx2.test=192.0.2.2/additional"}},
		{"far-alias.test", "", []string{"mx1.test=192.0.2.1/additional"}},
		{"loop1.test", "451 4.4.3", nil},
		{"self.test", "", []string{"mx1.test=192.0.2.1/additional"}},
		{"me-first.test", "554 5.4.6", nil},
		{"trunc.test", "", []string{"mx1.test=192.0.2.1/additional"}},
		{"fail.test", "451 4.4.3", nil},
		{"refused.test", "451 4.4.3", nil},
		{"deadhost.test", "550 5.1.2", nil},
		{"badhost.test", "", []string{"sfhost.test=192.0.2.5/additional"}}, // glue spares the failing A query
		{"badhost-far.test", "451 4.4.3", nil},
		{"[192.0.2.77]", "", []string{"[192.0.2.77]=192.0.2.77/literal"}},
		{"[ipv6:2001:db8::1]", "550 5.1.2", nil}, // IPv4 only
		{"[300.1.1.1]", "501 5.1.3", nil},
		{"bad..name", "501 5.1.3", nil},
	}
	var domains []string
	for _, c := range cases {
		domains = append(domains, c.domain)
	}
	got := h.lookupAll(domains, 20*time.Second, 0)
	for _, c := range cases {
		t.Run(c.domain, func(t *testing.T) {
			res := got[c.domain]
			var fail string
			if res.Fail != nil {
				fail = fmt.Sprintf("%d %s", outcomeFail(res.Fail).Code, outcomeFail(res.Fail).Enhanced)
			}
			var hosts []string
			for _, mh := range res.Hosts {
				if len(mh.Addrs) > 0 {
					hosts = append(hosts, mh.Name+"="+strings.Join(addrsOf(mh), ","))
				}
			}
			if fail != c.fail || !slices.Equal(hosts, c.hosts) {
				t.Errorf("LookupMX(%q) = %q %v (%v), want %q %v", c.domain, fail, hosts, res.Fail, c.fail, c.hosts)
			}
		})
	}
	if n := z.count("trunc.test", dns.TypeMX, "tcp"); n != 1 {
		t.Errorf("TCP queries for trunc.test MX = %d, want 1", n)
	}
	for _, name := range []string{"mx1.test", "mx2.test"} {
		if n := z.count(name, dns.TypeA, "udp"); n != 0 {
			t.Errorf("A queries for %s (in every additional section) = %d, want 0", name, n)
		}
	}

	// A later message asks nothing again: everything comes from the cache.
	before := z.total()
	again := h.lookupAll([]string{"glue.test", "noglue.test", "nx.test", "fail.test"}, 5*time.Second, 0)
	if n := z.total() - before; n != 0 {
		t.Errorf("queries for a second message = %d, want 0 (cached)", n)
	}
	if a := again["noglue.test"]; a.Fail != nil || a.Hosts[0].Addrs[0].From != FromCache {
		t.Errorf("LookupMX(noglue.test) again = %+v, want addresses from the cache", a)
	}
	if a := again["nx.test"]; a.Fail == nil || outcomeFail(a.Fail).Code != 550 {
		t.Errorf("LookupMX(nx.test) again = %v, want 550 from the negative cache", a.Fail)
	}
	if a := again["fail.test"]; a.Fail == nil || outcomeFail(a.Fail).Code != 451 {
		t.Errorf("LookupMX(fail.test) again = %v, want 451 from the failure cache", a.Fail)
	}
}

// TestForgedRepliesDropped sends, before each real answer, a reply with a
// wrong ID, one with a wrong question and one from a wrong source address;
// an MX answer also carries an A record for a name outside its MX set.
func TestForgedRepliesDropped(t *testing.T) {
	z := newZone(t,
		"a.test. 300 IN MX 10 mx.example.",
		"mx.example. 300 IN A 192.0.2.1",
		"b.test. 300 IN MX 10 other.test.",
		"other.test. 300 IN A 192.0.2.2",
	)
	forger, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer forger.Close()
	forge := func(q *dns.Msg, edit func(m *dns.Msg)) []byte {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Answer = []dns.RR{&dns.MX{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 300}, Preference: 1, Mx: "evil.example."}}
		m.Extra = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "evil.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IPv4(203, 0, 113, 66)}}
		edit(m)
		b, _ := m.Pack()
		return b
	}
	var forged atomic.Int32
	z.before = func(w dns.ResponseWriter, q *dns.Msg) {
		if w.RemoteAddr().Network() != "udp" {
			return
		}
		w.Write(forge(q, func(m *dns.Msg) { m.Id++ }))
		w.Write(forge(q, func(m *dns.Msg) { m.Question[0].Name = "x" + m.Question[0].Name }))
		w.Write(forge(q, func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeTXT }))
		forger.WriteTo(forge(q, func(*dns.Msg) {}), w.RemoteAddr())
		forged.Add(1)
	}
	// b.test's answer also carries a forged extra for mx.example, a.test's
	// MX host but not a target of b.test's MX set: a.test must still get
	// mx.example's address from its own A answer.
	z.extra["b.test."] = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "mx.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IPv4(203, 0, 113, 66)}}
	srv := z.serve(t)
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{srv}, IPv4Only: true})
	got := h.lookupAll([]string{"a.test", "b.test"}, 10*time.Second, 0)
	for d, want := range map[string]string{"a.test": "mx.example=192.0.2.1/answer", "b.test": "other.test=192.0.2.2/additional"} {
		res := got[d]
		if res.Fail != nil || len(res.Hosts) != 1 {
			t.Errorf("LookupMX(%q) = %v %v, want one host", d, res.Fail, res.Hosts)
			continue
		}
		if g := res.Hosts[0].Name + "=" + strings.Join(addrsOf(res.Hosts[0]), ","); g != want {
			t.Errorf("LookupMX(%q) = %s, want %s", d, g, want)
		}
	}
	// Each datagram sent drew a forgery round (retransmissions on a
	// loaded machine draw more); the forgeries were all dropped.
	if st := h.r.Stats(); int32(st.Mismatched) < 3*forged.Load() || forged.Load() == 0 || st.Queries != 3 || st.UDPSent < 3 {
		t.Errorf("stats = %+v after %d forgery rounds, want >= 3 mismatched per round and 3 questions", st, forged.Load())
	}
}

// TestSilentServerTimesOutTogether: 1,000 domains whose server never
// answers end together, one lookup timeout after they started, not one
// timeout each (the queries beyond MaxOutstanding wait, but their clock
// runs from the start too).
func TestSilentServerTimesOutTogether(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0") // bound, never read
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer pc.Close()
	clock := reactor.NewFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	const timeout = 75 * time.Second
	h := newHarness(t, clock, ResolverConfig{Servers: []netip.AddrPort{pc.LocalAddr().(*net.UDPAddr).AddrPort()}, Timeout: timeout, MaxOutstanding: 100})
	start := clock.Now()
	var domains []string
	for i := range 1000 {
		domains = append(domains, fmt.Sprintf("d%04d.test", i))
	}
	ends := map[time.Duration]int{}
	got := h.lookupAll(domains, 30*time.Second, 250*time.Millisecond)
	_ = got
	for _, d := range domains {
		res := got[d]
		if res.Fail == nil || outcomeFail(res.Fail).Code != 451 || outcomeFail(res.Fail).Enhanced != "4.4.3" {
			t.Fatalf("LookupMX(%q) = %v, want 451 4.4.3", d, res.Fail)
		}
	}
	ends[clock.Now().Sub(start)]++
	if el := clock.Now().Sub(start); el < timeout || el > timeout+time.Second {
		t.Errorf("1000 silent lookups ended after %v (fake), want about one timeout, %v", el, timeout)
	}
	st := h.r.Stats()
	if st.MaxOutstanding > 100 {
		t.Errorf("MaxOutstanding = %d, want <= 100", st.MaxOutstanding)
	}
	// Retransmissions back off to the ceiling: about log2(5s/1s)+75/5
	// tries per query on the wire, nowhere near one per 100 ms.
	if st.UDPSent > 100*25 {
		t.Errorf("UDP datagrams = %d for 100 silent queries on the wire, want <= %d (backoff)", st.UDPSent, 100*25)
	}
}
