package resolv

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// UDPSize is the EDNS0 buffer size we advertise: 1232 bytes is the DNS
// Flag Day 2020 value, small enough to avoid IP fragmentation on any path
// with a 1280-byte IPv6 MTU.
const UDPSize = 1232

// MaxMessage is the largest DNS message there is: TCP frames it with a
// 16-bit length and a UDP datagram cannot be larger.
const MaxMessage = 65535

// Question is one (name, type) asked in class IN. Name is canonical: lower
// case, fully qualified with the trailing dot.
type Question struct {
	Name string
	Type uint16
}

// NewQuestion canonicalizes name into a Question.
func NewQuestion(name string, qtype uint16) Question {
	return Question{Name: Canonical(name), Type: qtype}
}

// Canonical lower-cases a name and makes it fully qualified.
func Canonical(name string) string {
	return dns.Fqdn(strings.ToLower(name))
}

// Bare is a canonical name without its trailing dot, as mail code writes it.
func Bare(name string) string {
	if name == "." {
		return name
	}
	return strings.TrimSuffix(name, ".")
}

func (q Question) String() string {
	return Bare(q.Name) + "/" + dns.TypeToString[q.Type]
}

// Pack builds the query for q with the given ID: recursion desired, EDNS0
// with a UDPSize buffer. With ad the AD bit asks a validating server to
// say whether the answer is authenticated (RFC 6840 §5.7), without the
// DNSSEC records themselves (DO stays clear).
func Pack(id uint16, q Question, ad bool) ([]byte, error) {
	if _, ok := dns.IsDomainName(q.Name); !ok {
		return nil, fmt.Errorf("query %s: not a valid domain name", q)
	}
	m := new(dns.Msg)
	m.Id = id
	m.RecursionDesired = true
	m.AuthenticatedData = ad
	m.Question = []dns.Question{{Name: q.Name, Qtype: q.Type, Qclass: dns.ClassINET}}
	m.SetEdns0(UDPSize, false)
	b, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	return b, nil
}
