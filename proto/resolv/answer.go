package resolv

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"smtpfeed/proto/tlspolicy"
)

// MaxCNAME is how many CNAMEs a lookup follows before it gives up with a
// temporary error: RFC 1034 §3.6.2 asks resolvers to guard against loops,
// and 8 is what BIND's and glibc's stub resolvers allow.
const MaxCNAME = 8

// Kind classifies an answer by what the asker must do next.
type Kind uint8

const (
	KindData      Kind = iota // records of the asked type for the (canonical) name
	KindCNAME                 // only a CNAME chain: ask again for Answer.Canonical
	KindNoData                // the name exists and owns no record of the type
	KindNXDomain              // the name (or the end of its chain) does not exist
	KindServFail              // SERVFAIL, FORMERR, NOTIMP or any other error rcode
	KindRefused               // REFUSED: the server will not recurse for us
	KindTruncated             // TC set: ask again over TCP
)

var kindNames = [...]string{"data", "CNAME", "NODATA", "NXDOMAIN", "server failure", "refused", "truncated"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// MX is one MX record; Host is canonical ("." for the null MX).
type MX struct {
	Pref uint16
	Host string
	// Glue is what the answer's additional section gave as Host's
	// addresses. Records of one host share one Glue, so deduplicating
	// the set keeps it whichever record survives. It lives on the record,
	// not in a map beside the set, because a map per cached MX answer
	// was the resolver's largest live allocation per domain.
	Glue []netip.Addr
}

// Answer is what one DNS reply says about the question it answers.
type Answer struct {
	Kind  Kind
	Rcode int
	// Canonical is the name the records belong to: the question's name,
	// or the last name of the CNAME chain in the answer.
	Canonical string
	// Chain counts the CNAMEs followed inside this answer. More than
	// MaxCNAME means a loop or an over-long chain.
	Chain int
	MX    []MX             // KindData of an MX question
	Addrs []netip.Addr     // KindData of an A or AAAA question
	TLSA  []tlspolicy.TLSA // KindData of a TLSA question
	// Authenticated is the AD bit: the server says it validated the
	// answer with DNSSEC. Only a server trusted to validate is believed.
	Authenticated bool
	// TTL is the smallest TTL of the records used (chain included); for
	// KindNoData and KindNXDomain the negative TTL of RFC 2308 §5, the
	// lesser of the SOA's TTL and minimum, when HasSOA.
	TTL    uint32
	HasSOA bool
	// GlueTTL is the smallest TTL among the glue kept on MX, when any is.
	GlueTTL uint32
}

// ErrMismatch is a reply that does not answer the query: another ID,
// another question, or not a response. The caller drops it and keeps
// waiting for the real answer.
var ErrMismatch = errors.New("reply does not answer the query")

// ErrMalformed is a response with the query's ID whose records do not
// parse (a compression loop, records cut short without TC). It came
// from the server asked (the resolver's sockets are connected), which is
// then broken for this question: waiting for another answer from it
// would cost the whole lookup timeout.
var ErrMalformed = errors.New("response does not parse")

// Parse reads a reply to the query with id and q. An error wraps
// ErrMismatch (drop it: a forged or stray datagram must not end a query)
// or ErrMalformed (the server's answer is broken).
func Parse(b []byte, id uint16, q Question) (Answer, error) {
	if len(b) > MaxMessage {
		return Answer{}, fmt.Errorf("%w: %d bytes is more than a DNS message can be", ErrMismatch, len(b))
	}
	if len(b) < 12 || uint16(b[0])<<8|uint16(b[1]) != id {
		return Answer{}, fmt.Errorf("%w: wrong ID or short header", ErrMismatch)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		// A truncated UDP reply may be cut mid-record; the header alone
		// still says what to do.
		if !m.Truncated || len(m.Question) != 1 {
			if b[2]&0x80 == 0 { // QR clear: not even a response
				return Answer{}, fmt.Errorf("%w: %v", ErrMismatch, err)
			}
			return Answer{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	if !m.Response || m.Opcode != dns.OpcodeQuery || len(m.Question) != 1 {
		return Answer{}, fmt.Errorf("%w: not a response to one question", ErrMismatch)
	}
	mq := m.Question[0]
	if !strings.EqualFold(mq.Name, q.Name) || mq.Qtype != q.Type || mq.Qclass != dns.ClassINET {
		return Answer{}, fmt.Errorf("%w: question %s %s, want %s", ErrMismatch, mq.Name, dns.TypeToString[mq.Qtype], q)
	}
	return classify(m, q), nil
}

func classify(m *dns.Msg, q Question) Answer {
	a := Answer{Rcode: m.Rcode, Canonical: q.Name, Authenticated: m.AuthenticatedData}
	if m.Truncated {
		a.Kind = KindTruncated
		return a
	}
	switch m.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	case dns.RcodeRefused:
		a.Kind = KindRefused
		return a
	default:
		a.Kind = KindServFail
		return a
	}
	ttl := ^uint32(0)
	a.Chain, ttl = follow(m.Answer, &a.Canonical, ttl)
	if a.Chain > MaxCNAME {
		a.Kind = KindCNAME
		a.TTL = ttl
		return a
	}
	for _, rr := range m.Answer {
		h := rr.Header()
		if h.Class != dns.ClassINET || h.Rrtype != q.Type || !strings.EqualFold(h.Name, a.Canonical) {
			continue
		}
		switch r := rr.(type) {
		case *dns.MX:
			a.MX = append(a.MX, MX{Pref: r.Preference, Host: Canonical(r.Mx)})
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(r.A.To4()); ok {
				a.Addrs = append(a.Addrs, ip)
			}
		case *dns.AAAA:
			if ip, ok := netip.AddrFromSlice(r.AAAA.To16()); ok {
				a.Addrs = append(a.Addrs, ip)
			}
		case *dns.TLSA:
			data, err := hex.DecodeString(r.Certificate)
			if err != nil {
				continue // a record that does not decode is unusable
			}
			a.TLSA = append(a.TLSA, tlspolicy.TLSA{Usage: r.Usage, Selector: r.Selector, MatchingType: r.MatchingType, Data: data})
		default:
			continue
		}
		ttl = min(ttl, h.Ttl)
	}
	switch {
	case len(a.MX) > 0 || len(a.Addrs) > 0 || len(a.TLSA) > 0:
		a.Kind = KindData
		a.TTL = ttl
		if len(a.MX) > 0 {
			a.glue(m.Extra)
		}
		return a
	case m.Rcode == dns.RcodeNameError:
		a.Kind = KindNXDomain
	case a.Chain > 0 && !hasSOA(m.Ns):
		// A CNAME whose target the server did not answer for (out of
		// its zone, or a server that does not chase): ask for the target.
		a.Kind = KindCNAME
		a.TTL = ttl
		return a
	default:
		a.Kind = KindNoData
	}
	for _, rr := range m.Ns {
		if s, ok := rr.(*dns.SOA); ok {
			a.HasSOA = true
			a.TTL = min(s.Hdr.Ttl, s.Minttl)
			break
		}
	}
	return a
}

// follow walks the CNAME chain from *name through the answer section. It
// stops after MaxCNAME+1 hops, so a loop ends.
func follow(rrs []dns.RR, name *string, ttl uint32) (int, uint32) {
	hops := 0
	for hops <= MaxCNAME {
		next := ""
		for _, rr := range rrs {
			if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Class == dns.ClassINET && strings.EqualFold(c.Hdr.Name, *name) {
				next = Canonical(c.Target)
				ttl = min(ttl, c.Hdr.Ttl)
				break
			}
		}
		if next == "" {
			break
		}
		*name = next
		hops++
	}
	return hops, ttl
}

func hasSOA(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeSOA {
			return true
		}
	}
	return false
}

// glue gives each MX record the additional A and AAAA records owned by
// its target; records owned by anything else are ignored. The addresses of
// the whole set share one array, sized to what was kept.
func (a *Answer) glue(extra []dns.RR) {
	type found struct {
		mx int // the first MX record naming the owner
		ip netip.Addr
	}
	var kept []found
	ttl := ^uint32(0)
	for _, rr := range extra {
		h := rr.Header()
		if h.Class != dns.ClassINET {
			continue
		}
		var ip netip.Addr
		switch r := rr.(type) {
		case *dns.A:
			ip, _ = netip.AddrFromSlice(r.A.To4())
		case *dns.AAAA:
			ip, _ = netip.AddrFromSlice(r.AAAA.To16())
		}
		if !ip.IsValid() {
			continue
		}
		i := a.target(Canonical(h.Name))
		if i < 0 {
			continue
		}
		kept = append(kept, found{i, ip})
		ttl = min(ttl, h.Ttl)
	}
	if len(kept) == 0 {
		return
	}
	all := make([]netip.Addr, 0, len(kept))
	for i := range a.MX {
		if first := a.target(a.MX[i].Host); first != i {
			a.MX[i].Glue = a.MX[first].Glue
			continue
		}
		start := len(all)
		for _, f := range kept {
			if f.mx == i {
				all = append(all, f.ip)
			}
		}
		if len(all) > start {
			a.MX[i].Glue = all[start:len(all):len(all)]
		}
	}
	a.GlueTTL = ttl
}

// HasGlue reports whether any MX record carries glue, and so whether
// GlueTTL counts.
func (a *Answer) HasGlue() bool {
	for _, m := range a.MX {
		if len(m.Glue) > 0 {
			return true
		}
	}
	return false
}

// target returns the index of the first MX record whose host is name, or
// -1.
func (a *Answer) target(name string) int {
	for i, m := range a.MX {
		if m.Host == name {
			return i
		}
	}
	return -1
}
