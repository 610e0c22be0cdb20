package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// The authoritative answers for the zone "test".
//
// What is answered, per query name:
//   - a domain's name: its MX records (the A records of their targets in
//     the additional section, as real authoritative servers do, and their
//     AAAA records with Config.GlueAAAA); an implicit-MX domain has the
//     A and AAAA records of its host and no MX (MX is NODATA).
//   - a CNAME'd domain: the CNAME, and, because the target is in the same
//     zone, the target's records of the asked type in the same answer (what
//     BIND and NSD do for in-zone targets). A client needs no second query.
//   - a null-MX domain: "MX 0 .".
//   - an NXDOMAIN domain and any unknown name in the zone: NXDOMAIN, with
//     the SOA in the authority section.
//   - a host name: its A records (a provider host has several) and its
//     AAAA record (ipv6.go); an IPv6-only host has no A record.
//   - every other type, and A or AAAA where the host has no address of
//     that family: NODATA, SOA in authority, SOA minimum 300.
//   - names outside the zone: REFUSED, like an authoritative-only server.
//
// Silent and truncated domains, and delays, are applied by the transport
// (dnsserver.go): answer only computes the message.

const (
	dnsTTL     = 300
	soaMinimum = 300
)

// soa is the zone's SOA record; negative answers carry it in authority.
func soa() dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: Zone + ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaMinimum},
		Ns:      "ns." + Zone + ".",
		Mbox:    "hostmaster." + Zone + ".",
		Serial:  1,
		Refresh: 3600, Retry: 600, Expire: 86400, Minttl: soaMinimum,
	}
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: dns.Fqdn(name), Rrtype: t, Class: dns.ClassINET, Ttl: dnsTTL}
}

func aRR(name string, a netip.Addr) dns.RR {
	return &dns.A{Hdr: hdr(name, dns.TypeA), A: net.IP(a.AsSlice())}
}

// addrRRs are owner's records of type qt (A or AAAA) for the addresses of
// that family, in order.
func addrRRs(owner string, addrs []netip.Addr, qt uint16) []dns.RR {
	var out []dns.RR
	for _, a := range addrs {
		switch {
		case qt == dns.TypeA && a.Is4():
			out = append(out, aRR(owner, a))
		case qt == dns.TypeAAAA && a.Is6():
			out = append(out, &dns.AAAA{Hdr: hdr(owner, dns.TypeAAAA), AAAA: net.IP(a.AsSlice())})
		}
	}
	return out
}

// inZone says whether a canonical name is the zone or below it.
func inZone(name string) bool {
	return name == Zone || strings.HasSuffix(name, "."+Zone)
}

// answer builds the reply to q. It returns the reply and the domain the
// name belongs to (nil for host names and unknown names), so the transport
// can apply silence, truncation and delay.
func (s *dnsServer) answer(q *dns.Msg) (*dns.Msg, *Domain) {
	r := new(dns.Msg)
	r.SetReply(q)
	r.Authoritative = true
	r.RecursionAvailable = false
	r.Compress = true
	if opt := q.IsEdns0(); opt != nil {
		r.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), false)
	}
	if q.Opcode != dns.OpcodeQuery {
		r.Rcode = dns.RcodeNotImplemented
		return r, nil
	}
	if len(q.Question) != 1 {
		r.Rcode = dns.RcodeFormatError
		return r, nil
	}
	qn, qt := canon(q.Question[0].Name), q.Question[0].Qtype
	if !inZone(qn) || q.Question[0].Qclass != dns.ClassINET {
		r.Authoritative = false
		r.Rcode = dns.RcodeRefused
		return r, nil
	}
	w := s.world
	d := w.names[qn]
	switch {
	case d != nil && d.Kind == KindNXDomain:
		r.Rcode = dns.RcodeNameError
	case d != nil && d.Kind == KindCNAME && qn == d.Name:
		r.Answer = append(r.Answer, &dns.CNAME{Hdr: hdr(d.Name, dns.TypeCNAME), Target: dns.Fqdn(d.CNAMETarget)})
		if qt != dns.TypeCNAME {
			s.records(r, d.CNAMETarget, d, qt)
		}
	case d != nil:
		s.records(r, qn, d, qt)
	case strings.HasPrefix(qn, "_25._tcp.") && tlsaHost(w, qn[len("_25._tcp."):]) != nil:
		// A host's own name, or an implicit-MX domain's (RFC 7672
		// §2.2.1: the domain is then the TLSA base domain).
		if h := tlsaHost(w, qn[len("_25._tcp."):]); qt == dns.TypeTLSA && h.TLSA != "" {
			r.Answer = append(r.Answer, tlsaRR(qn, h))
		}
	case w.hostByName[qn] != nil:
		r.Answer = append(r.Answer, addrRRs(qn, w.hostByName[qn].Addrs(), qt)...)
	case qn == Zone:
		switch qt {
		case dns.TypeSOA:
			r.Answer = append(r.Answer, soa())
		case dns.TypeNS:
			r.Answer = append(r.Answer, &dns.NS{Hdr: hdr(Zone, dns.TypeNS), Ns: "ns." + Zone + "."})
			r.Extra = append(r.Extra, aRR("ns."+Zone, s.addr.Addr()))
		}
	case qn == "ns."+Zone:
		if qt == dns.TypeA {
			r.Answer = append(r.Answer, aRR(qn, s.addr.Addr()))
		}
	case qn == "hosts."+Zone:
		// An empty non-terminal: the name exists, it owns nothing.
	default:
		r.Rcode = dns.RcodeNameError
	}
	if len(r.Answer) == 0 || (r.Rcode == dns.RcodeSuccess && onlyCNAME(r.Answer) && qt != dns.TypeCNAME) {
		r.Ns = append(r.Ns, soa())
	}
	r.AuthenticatedData = w.Config.DNSSEC
	return r, d
}

// tlsaHost is the host whose TLSA record name is _25._tcp.name: a host's
// own, or an implicit-MX domain's host's; nil when none is.
func tlsaHost(w *World, name string) *Host {
	if h := w.hostByName[name]; h != nil {
		return h
	}
	if d := w.names[name]; d != nil && d.Kind == KindImplicit && d.Name == name {
		return d.ImplicitHost
	}
	return nil
}

// tlsaRR is a host's TLSA record: DANE-EE, SPKI, SHA-256 of its key, or
// of something else for a mismatch.
func tlsaRR(owner string, h *Host) dns.RR {
	spki := []byte("a key this host does not have")
	if h.TLSA == "match" && h.cert != nil {
		spki = h.cert.Leaf.RawSubjectPublicKeyInfo
	}
	sum := sha256.Sum256(spki)
	return &dns.TLSA{Hdr: hdr(owner, dns.TypeTLSA), Usage: 3, Selector: 1, MatchingType: 1, Certificate: hex.EncodeToString(sum[:])}
}

// onlyCNAME says whether the answer holds nothing but a CNAME (a CNAME
// followed by NODATA at the target).
func onlyCNAME(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeCNAME {
			return false
		}
	}
	return true
}

// records adds owner's records of type qt for domain d, and for MX the
// addresses of the targets in the additional section (IPv6 ones only
// with GlueAAAA).
func (s *dnsServer) records(r *dns.Msg, owner string, d *Domain, qt uint16) {
	switch qt {
	case dns.TypeMX:
		seen := map[string]bool{}
		for _, m := range d.MX {
			target := "."
			if m.Host != nil {
				target = dns.Fqdn(m.Host.Name)
			}
			r.Answer = append(r.Answer, &dns.MX{Hdr: hdr(owner, dns.TypeMX), Preference: uint16(m.Pref), Mx: target})
			if m.Host != nil && !seen[m.Host.Name] {
				seen[m.Host.Name] = true
				r.Extra = append(r.Extra, addrRRs(m.Host.Name, m.Host.Addrs(), dns.TypeA)...)
				if s.world.Config.GlueAAAA {
					r.Extra = append(r.Extra, addrRRs(m.Host.Name, m.Host.Addrs(), dns.TypeAAAA)...)
				}
			}
		}
	case dns.TypeA, dns.TypeAAAA:
		if d.ImplicitHost != nil {
			r.Answer = append(r.Answer, addrRRs(owner, d.ImplicitHost.Addrs(), qt)...)
		}
	}
}
