package fuzz

import (
	"net"
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

// FuzzAnswer feeds arbitrary bytes to the answer parser as a reply to
// "a.test. MX" with ID 7, and checks what it returns: the kind is known,
// glue is only ever for MX targets of the same answer, MX targets are
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
		targets := map[string]bool{}
		for _, m := range ans.MX {
			if m.Host != resolv.Canonical(m.Host) {
				t.Fatalf("Parse: MX target %q not canonical", m.Host)
			}
			targets[m.Host] = true
		}
		for name := range ans.Glue {
			if !targets[name] {
				t.Fatalf("Parse: glue for %q, which is no MX target of the answer %v", name, ans.MX)
			}
		}
		if len(ans.MX) > len(b)/11 {
			t.Fatalf("Parse: %d MX records from %d bytes", len(ans.MX), len(b))
		}
	})
}
