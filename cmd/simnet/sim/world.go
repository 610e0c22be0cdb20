package sim

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Zone is the one zone the DNS server is authoritative for. Every name of
// the world lives under it, so CNAME targets are "in zone" and answered in
// the same response.
const Zone = "test"

// DomainKind says how a domain is set up in DNS and what happens to mail
// for it.
type DomainKind string

// The domain kinds; see the Config knobs of the same names.
const (
	KindNormal      DomainKind = "normal"
	KindShare       DomainKind = "share"
	KindDeadFirst   DomainKind = "dead-first"
	KindRefuseFirst DomainKind = "refuse-first"
	KindCrossed     DomainKind = "crossed"
	KindImplicit    DomainKind = "implicit"
	KindCNAME       DomainKind = "cname"
	KindNullMX      DomainKind = "null-mx"
	KindNXDomain    DomainKind = "nxdomain"
	KindSilent      DomainKind = "silent"
	KindTruncate    DomainKind = "truncate"
	// KindProvider is a big provider (Config.Providers): several MX hosts
	// of its own at one preference, each on several addresses.
	KindProvider DomainKind = "provider"
)

// HostKind says whether a host answers.
type HostKind string

// The host kinds.
const (
	HostLive   HostKind = "live"   // an SMTP receiver listens
	HostDead   HostKind = "dead"   // connect hangs: full accept queue, SYNs dropped
	HostRefuse HostKind = "refuse" // nothing listens: connect gets RST
)

// Outcome is what a correct client ends up with for a recipient.
type Outcome string

// The outcomes.
const (
	Delivered Outcome = "delivered"
	Deferred  Outcome = "deferred"
	Bounced   Outcome = "bounced"
)

// Host is one mail host on its own loopback address (a provider host on
// several, a dual-stack host on an IPv6 address as well).
type Host struct {
	Index int    `json:"index"`
	Name  string `json:"name"` // FQDN without trailing dot, lower case
	// Addr is the host's first address: IPv4, but for an IPv6-only host
	// (Config.IPv6Only), whose only address it is.
	Addr         netip.Addr `json:"addr"`
	Kind         HostKind   `json:"kind"`
	Pipelining   bool       `json:"pipelining"`
	EightBitMIME bool       `json:"8bitmime"`
	Size         bool       `json:"size"`
	Enhanced     bool       `json:"enhancedstatuscodes"`
	DSN          bool       `json:"dsn,omitempty"` // advertises DSN (RFC 3461): takes RET, ENVID, NOTIFY, ORCPT
	HeloOnly     bool       `json:"helo_only"`
	RcptLimit    int        `json:"rcpt_limit"` // 0: no limit
	StartTLS     bool       `json:"starttls"`
	TLSBroken    bool       `json:"tls_broken"` // offers STARTTLS, fails every handshake
	TLS12Only    bool       `json:"tls12_only"` // TLS 1.2 at most
	// TLSA is the host's TLSA record: "match" (its key), "mismatch"
	// (nothing it has), or "" for none.
	TLSA string `json:"tlsa,omitempty"`
	cert *tls.Certificate
	// RTT is the reply delay; it stands for one network round trip.
	RTT time.Duration `json:"rtt"`
	// Serves lists the mail domains (lower case) this host accepts mail
	// for: every domain it is an MX of, at any preference, or the implicit
	// MX of.
	Serves []string `json:"serves,omitempty"`
	// More are a provider host's further addresses: its name has an A
	// record for each and it listens on each, as one host.
	More []netip.Addr `json:"more_addrs,omitempty"`
	// Addr6 is a dual-stack host's IPv6 address (Config.DualStack): its
	// name has an AAAA record for it. Kind6 is what that address does
	// when it is not what the host does (Config.DeadIPv6, RefuseIPv6):
	// HostDead or HostRefuse; "" when it answers as the host does.
	Addr6 netip.Addr `json:"addr6,omitzero"`
	Kind6 HostKind   `json:"addr6_kind,omitempty"`
	// Throttles, counted over all the host's addresses together; 0 is
	// off. MaxConns: sessions open at once; the connection beyond gets a
	// 421 greeting and is closed. MsgsPerConn: MAIL commands accepted on
	// one connection; the next MAIL gets 421 and the connection is closed.
	// RcptRate: recipients accepted per second, from a bucket holding one
	// second's worth, full at start; a RCPT beyond it gets 450 4.7.1.
	MaxConns    int `json:"max_conns,omitempty"`
	MsgsPerConn int `json:"msgs_per_conn,omitempty"`
	RcptRate    int `json:"rcpt_rate,omitempty"`
}

// Addrs returns every address of the host, Addr first, Addr6 last.
func (h *Host) Addrs() []netip.Addr {
	out := append([]netip.Addr{h.Addr}, h.More...)
	if h.Addr6.IsValid() {
		out = append(out, h.Addr6)
	}
	return out
}

// Throttled says whether any throttle of the host is on.
func (h *Host) Throttled() bool {
	return h.MaxConns > 0 || h.MsgsPerConn > 0 || h.RcptRate > 0
}

// MX is one MX record of a domain. Host is nil for the null MX.
type MX struct {
	Pref int   `json:"pref"`
	Host *Host `json:"-"`
	// Target is the host name, or "." for the null MX.
	Target string `json:"target"`
}

// Domain is one recipient domain.
type Domain struct {
	Index int        `json:"index"`
	Name  string     `json:"name"`
	Kind  DomainKind `json:"kind"`
	// MX records, published on Name, or on CNAMETarget for KindCNAME.
	MX []MX `json:"mx,omitempty"`
	// CNAMETarget is the canonical name for KindCNAME.
	CNAMETarget string `json:"cname_target,omitempty"`
	// ImplicitHost's address is the domain's A record for KindImplicit.
	ImplicitHost *Host `json:"-"`
	// DNSDelay is how long every query for the domain's names waits.
	DNSDelay time.Duration `json:"dns_delay,omitempty"`
	// ShareGroup numbers the group of KindShare domains (from 1).
	ShareGroup int `json:"share_group,omitempty"`
	// CrossedWith names the partner of a KindCrossed domain.
	CrossedWith string `json:"crossed_with,omitempty"`
	// Users are the local parts of the domain's recipients.
	Users []string `json:"users"`
}

// Recipient is one address of the recipient list with what should become
// of it.
type Recipient struct {
	Addr   string  `json:"addr"`
	Domain *Domain `json:"-"`
	Expect Outcome `json:"expect"`
	Reason string  `json:"reason"`
	// Host is the name of the host that should accept it (delivered only).
	Host string `json:"host,omitempty"`
	// Bound is the earliest time any client could have it accepted,
	// counted from the moment the client starts (delivered only).
	Bound time.Duration `json:"bound,omitempty"`
}

// World is a generated world: everything the DNS server and the receivers
// serve and everything a test can check a client's work against. It is not
// changed after Generate returns, so it may be read from any goroutine.
type World struct {
	Config     Config       `json:"config"`
	Hosts      []*Host      `json:"hosts"`
	Domains    []*Domain    `json:"domains"`
	Recipients []*Recipient `json:"recipients"`

	hostByName map[string]*Host
	hostByAddr map[netip.Addr]*Host
	// names maps every in-zone name that exists (domains, CNAME targets)
	// to its domain.
	names map[string]*Domain
	// rcpts maps a lower-case address to its recipient.
	rcpts map[string]*Recipient
	// maxBound is the largest Recipient.Bound.
	maxBound time.Duration
}

// Host returns the host with that name (any case, trailing dot allowed).
func (w *World) Host(name string) *Host { return w.hostByName[canon(name)] }

// HostByAddr returns the host on that address (any of its addresses).
func (w *World) HostByAddr(a netip.Addr) *Host { return w.hostByAddr[a] }

// HostByName finds a host by its name (lower case, no trailing dot).
func (w *World) HostByName(name string) *Host { return w.hostByName[name] }

// Domain returns the domain with that name, or the domain a CNAME target
// belongs to.
func (w *World) Domain(name string) *Domain { return w.names[canon(name)] }

// Recipient returns the recipient with that address (any case).
func (w *World) Recipient(addr string) *Recipient { return w.rcpts[strings.ToLower(addr)] }

// DomainsOf returns the domains of one kind, in index order.
func (w *World) DomainsOf(k DomainKind) []*Domain {
	var out []*Domain
	for _, d := range w.Domains {
		if d.Kind == k {
			out = append(out, d)
		}
	}
	return out
}

// HostsOf returns the hosts of one kind, in index order.
func (w *World) HostsOf(k HostKind) []*Host {
	var out []*Host
	for _, h := range w.Hosts {
		if h.Kind == k {
			out = append(out, h)
		}
	}
	return out
}

// Addresses returns the recipient list in list order.
func (w *World) Addresses() []string {
	out := make([]string, len(w.Recipients))
	for i, r := range w.Recipients {
		out[i] = r.Addr
	}
	return out
}

// Expected counts the recipients by expected outcome.
func (w *World) Expected() map[Outcome]int {
	m := map[Outcome]int{}
	for _, r := range w.Recipients {
		m[r.Expect]++
	}
	return m
}

// MXHosts returns the live hosts a recipient domain's mail may go to, best
// preference first (the implicit MX host for KindImplicit).
func (d *Domain) MXHosts() []*Host {
	if d.ImplicitHost != nil {
		return []*Host{d.ImplicitHost}
	}
	var out []*Host
	for _, m := range d.MX {
		if m.Host != nil && m.Host.Kind == HostLive {
			out = append(out, m.Host)
		}
	}
	return out
}

// MarshalIndent returns the world description (hosts, domains, recipients with
// expected outcomes and bounds) as indented JSON.
func (w *World) MarshalIndent() ([]byte, error) {
	return json.MarshalIndent(w, "", "  ")
}

// canon lower-cases a DNS name and drops the trailing dot.
func canon(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}

// hostAddrs returns n consecutive addresses from first, skipping .0 and
// .255 in the last octet so no address looks like a network or broadcast
// address to a client that cares.
func hostAddrs(first netip.Addr, n int) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, n)
	a := first
	for len(out) < n {
		b := a.As4()
		if b[0] != 127 {
			return nil, fmt.Errorf("sim: %d host addresses from %v leave 127.0.0.0/8", n, first)
		}
		if b[3] != 0 && b[3] != 255 {
			out = append(out, a)
		}
		a = a.Next()
	}
	return out, nil
}
