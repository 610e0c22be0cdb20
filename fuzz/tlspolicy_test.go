package fuzz

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/resolv"
	"smtpfeed/proto/tlspolicy"
)

var policySeeds = []string{
	"example.com dane\n.example.com encrypt\nsub.example.com may # comment\n",
	"example.net secure match=mx1.example.net:*.mail.example.net:.relay.example.net servername=hostname\n",
	"bücher.example dane-only\n",
	"example.com\n",
	"example.com secure match=\n",
	"exa..mple.com may\n. none\n",
}

// FuzzPolicyFile: any bytes either parse into a table whose every
// policy has a known level and lower-case, well-formed patterns, or are
// refused with an error naming the line; lookups never panic, and a
// comment after the file changes nothing.
func FuzzPolicyFile(f *testing.F) {
	for _, s := range policySeeds {
		f.Add([]byte(s), "a.example.com")
	}
	f.Fuzz(func(t *testing.T, file []byte, domain string) {
		tab, err := tlspolicy.Parse("policy", bytes.NewReader(file))
		// A comment and a blank line after the file change nothing.
		commented := append(append([]byte(nil), file...), "\n# a comment\n\n"...)
		tab2, err2 := tlspolicy.Parse("policy", bytes.NewReader(commented))
		if (err == nil) != (err2 == nil) || err == nil && tab.Len() != tab2.Len() {
			t.Fatalf("a trailing comment changed the parse: %v / %v", err, err2)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "policy") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		check := func(p *tlspolicy.Policy) bool {
			if p.Level.String() == "invalid" {
				t.Fatalf("policy with an invalid level %d", p.Level)
			}
			for _, m := range p.Match {
				if m != strings.ToLower(m) || m == "" {
					t.Fatalf("pattern %q not normalised", m)
				}
			}
			return false
		}
		tab.Any(check)
		if p, ok := tab.Lookup(domain); ok {
			check(p)
			p.MatchesMX(domain)
		}
	})
}

// daneChain is a certificate the TLSA fuzz target checks records
// against, made once.
var daneChain = func() []*x509.Certificate {
	c, err := sim.SelfSigned("mx.example.com")
	if err != nil {
		panic(err)
	}
	return []*x509.Certificate{c.Leaf}
}()

// FuzzTLSA: a TLSA answer of any bytes parses into records or an error,
// never a panic; checking the records against a certificate passes only
// when one of them is usable and names that certificate's key or
// certificate (checked here independently for DANE-EE records).
func FuzzTLSA(f *testing.F) {
	q := resolv.NewQuestion("_25._tcp.mx.example.com", dns.TypeTLSA)
	sum := sha256.Sum256(daneChain[0].RawSubjectPublicKeyInfo)
	for _, rec := range []string{
		"3 1 1 " + hex.EncodeToString(sum[:]),
		"3 1 1 " + strings.Repeat("00", 32),
		"2 0 1 " + strings.Repeat("11", 32),
		"1 1 1 " + hex.EncodeToString(sum[:]),
		"3 1 2 abcd",
		"3 9 0 ff",
	} {
		m := new(dns.Msg)
		m.Id, m.Response, m.AuthenticatedData = 9, true, true
		m.Question = []dns.Question{{Name: q.Name, Qtype: dns.TypeTLSA, Qclass: dns.ClassINET}}
		rr, err := dns.NewRR(q.Name + " 300 IN TLSA " + rec)
		if err != nil {
			f.Fatal(err)
		}
		m.Answer = []dns.RR{rr}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, b []byte) {
		ans, err := resolv.Parse(b, 9, q)
		if err != nil {
			return
		}
		err = tlspolicy.VerifyDANE(daneChain, ans.TLSA, []string{"mx.example.com"}, now)
		if err != nil {
			return
		}
		ok := false
		for _, r := range ans.TLSA {
			if !r.Usable() {
				continue
			}
			// The leaf is self-signed: its own trust anchor for DANE-TA.
			data := daneChain[0].Raw
			if r.Selector == tlspolicy.SelectorSPKI {
				data = daneChain[0].RawSubjectPublicKeyInfo
			}
			switch r.MatchingType {
			case tlspolicy.MatchSHA256:
				s := sha256.Sum256(data)
				data = s[:]
			case tlspolicy.MatchSHA512:
				s := sha512.Sum512(data)
				data = s[:]
			}
			ok = ok || bytes.Equal(data, r.Data)
		}
		if !ok {
			t.Fatalf("VerifyDANE passed records %v that name nothing of the certificate", ans.TLSA)
		}
	})
}
