package fuzz

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"smtpfeed/proto/resolv"
)

// answerSeeds mirror the table of proto/resolv's TestParse: one reply of
// each kind the resolver must classify.
func answerSeeds(f *testing.F) {
	soa, _ := dns.NewRR("test. 300 IN SOA ns.test. h.test. 1 3600 600 86400 120")
	mx := func(owner string, pref uint16, host string) dns.RR {
		return &dns.MX{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 300}, Preference: pref, Mx: host}
	}
	a := func(owner string, ip string) dns.RR {
		return &dns.A{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.ParseIP(ip)}
	}
	cname := func(owner, target string) dns.RR {
		return &dns.CNAME{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 50}, Target: target}
	}
	for _, edit := range []func(m *dns.Msg){
		func(m *dns.Msg) {
			m.Answer = []dns.RR{mx("a.test.", 10, "mx1.test."), mx("a.test.", 20, "mx2.test.")}
			m.Extra = []dns.RR{a("mx1.test.", "192.0.2.1"), a("victim.example.", "203.0.113.66")}
		},
		func(m *dns.Msg) { m.Answer = []dns.RR{cname("a.test.", "t.test."), mx("t.test.", 5, "mx.test.")} },
		func(m *dns.Msg) { m.Answer = []dns.RR{cname("a.test.", "elsewhere.example.")} },
		func(m *dns.Msg) { m.Answer = []dns.RR{cname("a.test.", "b.test."), cname("b.test.", "a.test.")} },
		func(m *dns.Msg) { m.Ns = []dns.RR{soa} },
		func(m *dns.Msg) { m.Rcode = dns.RcodeNameError; m.Ns = []dns.RR{soa} },
		func(m *dns.Msg) { m.Rcode = dns.RcodeServerFailure },
		func(m *dns.Msg) { m.Rcode = dns.RcodeRefused },
		func(m *dns.Msg) { m.Truncated = true },
		func(m *dns.Msg) { m.Answer = []dns.RR{mx("a.test.", 0, ".")} },
		func(m *dns.Msg) { m.Id++ },
		func(m *dns.Msg) { m.Question[0].Name = "b.test." },
	} {
		m := new(dns.Msg)
		m.Id = 7
		m.Response = true
		m.Question = []dns.Question{{Name: "a.test.", Qtype: dns.TypeMX, Qclass: dns.ClassINET}}
		edit(m)
		b, err := m.Pack()
		if err != nil {
			f.Fatalf("pack seed: %v", err)
		}
		f.Add(b)
	}
}

// additional reports whether the message's additional section has an
// A or AAAA record of owner with address a.
func additional(b []byte, owner string, a netip.Addr) bool {
	m := new(dns.Msg)
	m.Unpack(b) // a truncated message keeps what parsed
	for _, rr := range m.Extra {
		if resolv.Canonical(rr.Header().Name) != owner || rr.Header().Class != dns.ClassINET {
			continue
		}
		var ip netip.Addr
		switch r := rr.(type) {
		case *dns.A:
			ip, _ = netip.AddrFromSlice(r.A.To4())
		case *dns.AAAA:
			ip, _ = netip.AddrFromSlice(r.AAAA.To16())
		}
		if ip == a {
			return true
		}
	}
	return false
}

// FuzzAnswer feeds arbitrary bytes to the answer parser as a reply to
// "a.test. MX" with ID 7, and checks what it returns: the kind is known,
// glue only ever comes from additional records owned by the MX target
// that carries it, records of one host carry the same glue, MX targets are
// canonical, a non-truncated data answer has records, and a chain never
// runs past the loop limit by more than one hop.
func FuzzAnswer(f *testing.F) {
	answerSeeds(f)
	q := resolv.NewQuestion("a.test", dns.TypeMX)
	f.Fuzz(func(t *testing.T, b []byte) {
		ans, err := resolv.Parse(b, 7, q)
		if err != nil {
			return
		}
		if ans.Kind > resolv.KindTruncated {
			t.Fatalf("Parse: kind %v out of range", ans.Kind)
		}
		if ans.Chain > resolv.MaxCNAME+1 {
			t.Fatalf("Parse: chain %d, want at most %d", ans.Chain, resolv.MaxCNAME+1)
		}
		if ans.Kind == resolv.KindData && len(ans.MX) == 0 {
			t.Fatalf("Parse: data answer without MX records")
		}
		glue := map[string][]netip.Addr{}
		for _, m := range ans.MX {
			if m.Host != resolv.Canonical(m.Host) {
				t.Fatalf("Parse: MX target %q not canonical", m.Host)
			}
			if g, seen := glue[m.Host]; seen && !slices.Equal(g, m.Glue) {
				t.Fatalf("Parse: records of %s carry different glue, %v and %v", m.Host, g, m.Glue)
			}
			glue[m.Host] = m.Glue
			for _, a := range m.Glue {
				if !a.IsValid() || a.Zone() != "" {
					t.Fatalf("Parse: glue %v of %s is no address", a, m.Host)
				}
			}
		}
		for host, g := range glue {
			for _, a := range g {
				if !additional(b, host, a) {
					t.Fatalf("Parse: glue %v for %s, which no additional record of that owner gave", a, host)
				}
			}
		}
		if len(ans.MX) > len(b)/11 {
			t.Fatalf("Parse: %d MX records from %d bytes", len(ans.MX), len(b))
		}
	})
}
