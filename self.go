package smtpfeed

import (
	"fmt"
	"net/netip"
)

// Self says which addresses are this host's. Mail handed to one of them
// would come back into the MTA that gave it to us, which hands it back
// again: a loop (RFC 5321 §5.1: a host that finds itself in the MX list
// must not deliver to itself or to a less preferred host). The loopback
// networks and the unspecified addresses (a connect to 0.0.0.0 or :: is
// a connect to this host) are always this host's; Allow exempts
// networks the operator names, a test world on loopback or a relay on
// another port of this host.
type Self struct {
	addrs map[netip.Addr]bool
	allow []netip.Prefix
}

// alwaysSelf are the networks that are this host's on every host.
var alwaysSelf = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("0.0.0.0/32"),
	netip.MustParsePrefix("::/128"),
}

// NewSelf makes the set from this host's own addresses (its interfaces'
// and the source address of -o) and the networks delivered to anyway.
func NewSelf(own []netip.Addr, allow []netip.Prefix) *Self {
	s := &Self{addrs: make(map[netip.Addr]bool, len(own)), allow: allow}
	for _, a := range own {
		if a.IsValid() {
			s.addrs[a.Unmap().WithZone("")] = true
		}
	}
	return s
}

// Has reports whether mail to a is mail to this host.
func (s *Self) Has(a netip.Addr) bool {
	if s == nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range s.allow {
		if p.Contains(a) {
			return false
		}
	}
	if s.addrs[a] {
		return true
	}
	for _, p := range alwaysSelf {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// isSelf reports whether addr is this host's (never with no Config.Self).
func (e *Engine) isSelf(addr netip.Addr) bool { return e.cfg.Self.Has(addr) }

// maxNotedPrivate bounds the addresses remembered as already logged: an
// intranet list reaches a handful of private hosts, and past the bound
// the log merely repeats itself.
const maxNotedPrivate = 1024

// notePrivate logs, once per address, a destination in a private
// (RFC 1918, RFC 4193) or link-local network: allowed, for intranet
// lists, but worth a line when an MX record points there by mistake.
func (e *Engine) notePrivate(name string, addr netip.Addr) {
	if !addr.IsPrivate() && !addr.IsLinkLocalUnicast() {
		return
	}
	if e.notedPrivate[addr] || len(e.notedPrivate) >= maxNotedPrivate {
		return
	}
	if e.notedPrivate == nil {
		e.notedPrivate = make(map[netip.Addr]bool)
	}
	e.notedPrivate[addr] = true
	e.cfg.Log.Notice(fmt.Sprintf("%s[%s] is a private or link-local address: delivering to it", name, addr))
}

// dropSelf applies RFC 5321 §5.1 to a domain's MX hosts by address: a
// host with an address of this host's is this host, and it and every
// host of equal or worse preference are dropped, since they would relay
// the mail back to it. self names the first such host address, "" when
// none is; the hosts come best first.
func (e *Engine) dropSelf(hosts []MailHost) (kept []MailHost, self string) {
	if e.cfg.Self == nil {
		return hosts, ""
	}
	for i, h := range hosts {
		for _, a := range h.Addrs {
			if !e.isSelf(a.Addr) {
				continue
			}
			cut := i
			for cut > 0 && hosts[cut-1].Pref == h.Pref {
				cut--
			}
			return hosts[:cut:cut], hostAddr(h.Name, a.Addr)
		}
	}
	return hosts, ""
}

// hostAddr is host[addr], or the literal alone for a domain literal.
func hostAddr(host string, addr netip.Addr) string {
	if len(host) > 0 && host[0] == '[' {
		return host
	}
	return fmt.Sprintf("%s[%s]", host, addr)
}
