package resolv

import (
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkParseMX parses a typical MX answer: two targets, each with an
// A and an AAAA record in the additional section.
func BenchmarkParseMX(b *testing.B) {
	m := new(dns.Msg)
	m.Id = 7
	m.Response = true
	m.Question = []dns.Question{{Name: "example.test.", Qtype: dns.TypeMX, Qclass: dns.ClassINET}}
	m.Answer = []dns.RR{rr(b, "example.test. 300 IN MX 10 mx1.example.test."), rr(b, "example.test. 300 IN MX 20 mx2.example.test.")}
	m.Extra = []dns.RR{rr(b, "mx1.example.test. 300 IN A 192.0.2.1"), rr(b, "mx1.example.test. 300 IN AAAA 2001:db8::1"),
		rr(b, "mx2.example.test. 300 IN A 192.0.2.2"), rr(b, "mx2.example.test. 300 IN AAAA 2001:db8::2")}
	pkt, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	q := NewQuestion("example.test", dns.TypeMX)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(pkt, 7, q); err != nil {
			b.Fatal(err)
		}
	}
}
