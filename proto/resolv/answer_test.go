package resolv

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func rr(t testing.TB, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("NewRR(%q): %v", s, err)
	}
	return r
}

// AnswerCase is one reply and what Parse must make of it; the fuzz target
// seeds from these.
type AnswerCase struct {
	Name     string
	Q        Question
	ID       uint16
	Build    func(t testing.TB, m *dns.Msg)
	Kind     Kind
	Mismatch bool
	Canon    string
	MX       []MX
	Addrs    []string
	Glue     map[string][]string
	Chain    int
	TTL      uint32
}

var soaRR = "test. 300 IN SOA ns.test. host.test. 1 3600 600 86400 120"

var answerCases = []AnswerCase{
	{Name: "MX with glue", Q: NewQuestion("a.test", dns.TypeMX), ID: 7, Build: func(t testing.TB, m *dns.Msg) {
		m.Answer = []dns.RR{rr(t, "a.test. 300 IN MX 10 mx1.test."), rr(t, "a.test. 200 IN MX 20 MX2.test.")}
		m.Extra = []dns.RR{rr(t, "mx1.test. 100 IN A 192.0.2.1"), rr(t, "mx2.test. 300 IN AAAA 2001:db8::2"),
			rr(t, "victim.example. 300 IN A 203.0.113.66")}
	}, Kind: KindData, Canon: "a.test.", MX: []MX{{Pref: 10, Host: "mx1.test."}, {Pref: 20, Host: "mx2.test."}}, TTL: 200,
		Glue: map[string][]string{"mx1.test.": {"192.0.2.1"}, "mx2.test.": {"2001:db8::2"}}},
	{Name: "glue on every record of its host", Q: NewQuestion("a.test", dns.TypeMX), ID: 25, Build: func(t testing.TB, m *dns.Msg) {
		m.Answer = []dns.RR{rr(t, "a.test. 300 IN MX 20 mx.test."), rr(t, "a.test. 300 IN MX 30 other.test."), rr(t, "a.test. 300 IN MX 10 MX.test.")}
		m.Extra = []dns.RR{rr(t, "mx.test. 100 IN A 192.0.2.1"), rr(t, "a.test. 300 IN A 203.0.113.66"), rr(t, "Mx.Test. 300 IN A 192.0.2.2")}
	}, Kind: KindData, Canon: "a.test.", MX: []MX{{Pref: 20, Host: "mx.test."}, {Pref: 30, Host: "other.test."}, {Pref: 10, Host: "mx.test."}}, TTL: 300,
		Glue: map[string][]string{"mx.test.": {"192.0.2.1", "192.0.2.2"}}},
	{Name: "question name case differs", Q: NewQuestion("a.test", dns.TypeMX), ID: 8, Build: func(t testing.TB, m *dns.Msg) {
		m.Question[0].Name = "A.TeSt."
		m.Answer = []dns.RR{rr(t, "A.TEST. 300 IN MX 10 mx1.test.")}
	}, Kind: KindData, Canon: "a.test.", MX: []MX{{Pref: 10, Host: "mx1.test."}}, TTL: 300},
	{Name: "CNAME answered in full", Q: NewQuestion("c.test", dns.TypeMX), ID: 9, Build: func(t testing.TB, m *dns.Msg) {
		m.Answer = []dns.RR{rr(t, "c.test. 50 IN CNAME t.test."), rr(t, "t.test. 300 IN MX 5 mx.test."), rr(t, "other.test. 1 IN MX 1 evil.test.")}
	}, Kind: KindData, Canon: "t.test.", Chain: 1, MX: []MX{{Pref: 5, Host: "mx.test."}}, TTL: 50},
	{Name: "CNAME only", Q: NewQuestion("c.test", dns.TypeA), ID: 10, Build: func(t testing.TB, m *dns.Msg) {
		m.Answer = []dns.RR{rr(t, "c.test. 50 IN CNAME elsewhere.example.")}
	}, Kind: KindCNAME, Canon: "elsewhere.example.", Chain: 1, TTL: 50},
	{Name: "CNAME then NODATA", Q: NewQuestion("c.test", dns.TypeMX), ID: 10, Build: func(t testing.TB, m *dns.Msg) {
		m.Answer = []dns.RR{rr(t, "c.test. 50 IN CNAME t.test.")}
		m.Ns = []dns.RR{rr(t, soaRR)}
	}, Kind: KindNoData, Canon: "t.test.", Chain: 1, TTL: 120},
	{Name: "CNAME loop", Q: NewQuestion("x.test", dns.TypeMX), ID: 11, Build: func(t testing.TB, m *dns.Msg) {
		m.Answer = []dns.RR{rr(t, "x.test. 50 IN CNAME y.test."), rr(t, "y.test. 50 IN CNAME x.test.")}
	}, Kind: KindCNAME, Chain: MaxCNAME + 1, Canon: "y.test.", TTL: 50},
	{Name: "NODATA", Q: NewQuestion("a.test", dns.TypeAAAA), ID: 12, Build: func(t testing.TB, m *dns.Msg) {
		m.Ns = []dns.RR{rr(t, soaRR)}
	}, Kind: KindNoData, Canon: "a.test.", TTL: 120},
	{Name: "NXDOMAIN", Q: NewQuestion("nx.test", dns.TypeMX), ID: 13, Build: func(t testing.TB, m *dns.Msg) {
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{rr(t, soaRR)}
	}, Kind: KindNXDomain, Canon: "nx.test.", TTL: 120},
	{Name: "SERVFAIL", Q: NewQuestion("a.test", dns.TypeMX), ID: 14, Build: func(t testing.TB, m *dns.Msg) {
		m.Rcode = dns.RcodeServerFailure
	}, Kind: KindServFail, Canon: "a.test."},
	{Name: "REFUSED", Q: NewQuestion("a.test", dns.TypeMX), ID: 15, Build: func(t testing.TB, m *dns.Msg) {
		m.Rcode = dns.RcodeRefused
	}, Kind: KindRefused, Canon: "a.test."},
	{Name: "truncated", Q: NewQuestion("a.test", dns.TypeMX), ID: 16, Build: func(t testing.TB, m *dns.Msg) {
		m.Truncated = true
	}, Kind: KindTruncated, Canon: "a.test."},
	{Name: "A records", Q: NewQuestion("mx.test", dns.TypeA), ID: 17, Build: func(t testing.TB, m *dns.Msg) {
		m.Answer = []dns.RR{rr(t, "mx.test. 30 IN A 192.0.2.9"), rr(t, "mx.test. 30 IN A 192.0.2.10")}
	}, Kind: KindData, Canon: "mx.test.", Addrs: []string{"192.0.2.9", "192.0.2.10"}, TTL: 30},
	{Name: "wrong ID", Q: NewQuestion("a.test", dns.TypeMX), ID: 18, Build: func(t testing.TB, m *dns.Msg) {
		m.Id = 19
	}, Mismatch: true},
	{Name: "wrong name", Q: NewQuestion("a.test", dns.TypeMX), ID: 20, Build: func(t testing.TB, m *dns.Msg) {
		m.Question[0].Name = "b.test."
	}, Mismatch: true},
	{Name: "wrong type", Q: NewQuestion("a.test", dns.TypeMX), ID: 21, Build: func(t testing.TB, m *dns.Msg) {
		m.Question[0].Qtype = dns.TypeA
	}, Mismatch: true},
	{Name: "wrong class", Q: NewQuestion("a.test", dns.TypeMX), ID: 22, Build: func(t testing.TB, m *dns.Msg) {
		m.Question[0].Qclass = dns.ClassCHAOS
	}, Mismatch: true},
	{Name: "not a response", Q: NewQuestion("a.test", dns.TypeMX), ID: 23, Build: func(t testing.TB, m *dns.Msg) {
		m.Response = false
	}, Mismatch: true},
	{Name: "no question", Q: NewQuestion("a.test", dns.TypeMX), ID: 24, Build: func(t testing.TB, m *dns.Msg) {
		m.Question = nil
	}, Mismatch: true},
}

// Pack builds the reply bytes of a case.
func (c AnswerCase) Pack(t testing.TB) []byte {
	m := new(dns.Msg)
	m.Id = c.ID
	m.Response = true
	m.Question = []dns.Question{{Name: c.Q.Name, Qtype: c.Q.Type, Qclass: dns.ClassINET}}
	c.Build(t, m)
	b, err := m.Pack()
	if err != nil {
		t.Fatalf("%s: pack: %v", c.Name, err)
	}
	return b
}

func TestParse(t *testing.T) {
	for _, c := range answerCases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := Parse(c.Pack(t), c.ID, c.Q)
			if c.Mismatch {
				if err == nil {
					t.Fatalf("Parse(%s) = %v, want a mismatch error", c.Name, got.Kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s): %v", c.Name, err)
			}
			if got.Kind != c.Kind || got.Canonical != c.Canon || got.Chain != c.Chain || got.TTL != c.TTL {
				t.Errorf("Parse(%s) = kind %v canon %q chain %d ttl %d, want %v %q %d %d", c.Name,
					got.Kind, got.Canonical, got.Chain, got.TTL, c.Kind, c.Canon, c.Chain, c.TTL)
			}
			if !sameMX(got.MX, c.MX) {
				t.Errorf("Parse(%s).MX = %v, want %v", c.Name, got.MX, c.MX)
			}
			var addrs []string
			for _, a := range got.Addrs {
				addrs = append(addrs, a.String())
			}
			if !slices.Equal(addrs, c.Addrs) {
				t.Errorf("Parse(%s).Addrs = %v, want %v", c.Name, addrs, c.Addrs)
			}
			// Every record of a host carries its host's glue, and no
			// other record carries any.
			for _, m := range got.MX {
				var g []string
				for _, a := range m.Glue {
					g = append(g, a.String())
				}
				if want := c.Glue[m.Host]; !slices.Equal(g, want) {
					t.Errorf("Parse(%s): glue of %d %s = %v, want %v", c.Name, m.Pref, m.Host, g, want)
				}
			}
		})
	}
}

func TestParseGarbage(t *testing.T) {
	q := NewQuestion("a.test", dns.TypeMX)
	for _, b := range [][]byte{nil, {0, 7}, make([]byte, 12), {0, 7, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff}, make([]byte, MaxMessage+1)} {
		if _, err := Parse(b, 7, q); err == nil {
			t.Errorf("Parse(%x) = nil error, want a mismatch", b)
		}
	}
}

func TestPack(t *testing.T) {
	for _, ad := range []bool{false, true} {
		b, err := Pack(0xbeef, NewQuestion("Example.ORG", dns.TypeMX), ad)
		if err != nil {
			t.Fatalf("Pack: %v", err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatalf("Unpack: %v", err)
		}
		opt := m.IsEdns0()
		if m.Id != 0xbeef || !m.RecursionDesired || m.Question[0].Name != "example.org." || m.Question[0].Qtype != dns.TypeMX || opt == nil || opt.UDPSize() != UDPSize {
			t.Errorf("Pack = %v, want ID beef, RD, example.org. MX, EDNS0 %d", m, UDPSize)
		}
		// AD asks a validating server to say whether it validated; DO
		// (the DNSSEC records themselves) stays clear either way.
		if m.AuthenticatedData != ad || opt.Do() {
			t.Errorf("Pack(ad=%v): AD %v, DO %v", ad, m.AuthenticatedData, opt.Do())
		}
	}
	if _, err := Pack(1, Question{Name: "a..b.", Type: dns.TypeA}, false); err == nil {
		t.Errorf("Pack(a..b.) = nil error, want one")
	}
}

// TestParseMalformed: a response with the query's ID whose records do not
// parse is ErrMalformed (the server asked is broken); a datagram that is
// not even a response, or has another ID, stays ErrMismatch.
func TestParseMalformed(t *testing.T) {
	q := Question{Name: "d.test.", Type: dns.TypeMX}
	m := new(dns.Msg)
	m.SetQuestion(q.Name, q.Type)
	m.Id = 7
	m.Response = true
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	b[6], b[7] = 0, 1 // one answer: a name that points at itself
	loop := append(append([]byte(nil), b...), 0xc0|byte(len(b)>>8), byte(len(b)), 0, 15, 0, 1, 0, 0, 0, 60, 0, 0)
	// An MX record whose data is cut short of its announced length.
	cut := append(append([]byte(nil), b...), 0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 10, 0, 5)
	notResponse := append([]byte(nil), loop...)
	notResponse[2] &^= 0x80
	for _, tc := range []struct {
		name string
		msg  []byte
		id   uint16
		want error
	}{
		{"compression loop", loop, 7, ErrMalformed},
		{"records cut short", cut, 7, ErrMalformed},
		{"not a response", notResponse, 7, ErrMismatch},
		{"another ID", loop, 8, ErrMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.msg, tc.id, q); !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestParseTLSA: TLSA records of the asked name come out decoded, with
// the AD bit; an empty answer is NODATA.
func TestParseTLSA(t *testing.T) {
	q := NewQuestion("_25._tcp.mx.example.com", dns.TypeTLSA)
	for _, ad := range []bool{false, true} {
		m := new(dns.Msg)
		m.SetQuestion(q.Name, q.Type)
		m.Id, m.Response, m.AuthenticatedData = 7, true, ad
		for _, s := range []string{
			q.Name + " 300 IN TLSA 3 1 1 " + strings.Repeat("ab", 32),
			q.Name + " 300 IN TLSA 2 0 0 0102",
			"_25._tcp.other.example.com. 300 IN TLSA 3 1 1 " + strings.Repeat("cd", 32),
		} {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		a, err := Parse(b, 7, q)
		if err != nil {
			t.Fatal(err)
		}
		if a.Kind != KindData || len(a.TLSA) != 2 || a.Authenticated != ad {
			t.Fatalf("ad=%v: %+v, want two TLSA records, Authenticated %v", ad, a, ad)
		}
		if r := a.TLSA[0]; r.Usage != 3 || r.Selector != 1 || r.MatchingType != 1 || len(r.Data) != 32 || r.Data[0] != 0xab {
			t.Errorf("first record %v", r)
		}
		if r := a.TLSA[1]; r.Usage != 2 || len(r.Data) != 2 || r.Data[1] != 2 {
			t.Errorf("second record %v", r)
		}
	}
}
