package sim

import (
	"net/netip"
	"strings"
)

// Address literals. A host takes mail for its own address literal (RFC
// 5321 §4.1.3): user@[192.0.2.1] or user@[IPv6:2001:db8::1] on one of
// its addresses (any of them, whichever the client came in on). The user
// is one of the host's domains': local part L names the recipient
// L@domain of the first domain in Host.Serves that has one, with the
// same defer-/bounce- answers. The delivery records the address as the
// client sent it, literal and all.

// ownLiteral reports whether an address literal (lower case, brackets
// included) is one of the host's addresses.
func (ss *session) ownLiteral(lit string) bool {
	s, open := strings.CutPrefix(lit, "[")
	s, closed := strings.CutSuffix(s, "]")
	s, v6 := strings.CutPrefix(s, "ipv6:")
	a, err := netip.ParseAddr(s)
	return open && closed && err == nil && a.Is6() == v6 && a.Zone() == "" && ss.srv.world.hostByAddr[a] == ss.h
}

// literalUser is the recipient an address literal's local part names at
// the host; nil when none of its domains has that user.
func (ss *session) literalUser(local string) *Recipient {
	w := ss.srv.world
	for _, name := range ss.h.Serves {
		if d := w.names[name]; d != nil {
			if r := w.rcpts[local+"@"+d.Name]; r != nil {
				return r
			}
		}
	}
	return nil
}
