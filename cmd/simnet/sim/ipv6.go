package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"syscall"
)

// IPv6 hosts.
//
// With Config.IPv6Prefix set, some live hosts get an IPv6 address from
// the prefix: dual-stack hosts (Host.Addr6) as well as their IPv4 one,
// IPv6-only hosts (Host.Addr is then IPv6) instead of it. Their names
// have AAAA records; an IPv6-only host's name has no A record (A is
// NODATA), and neither has an implicit-MX domain on such a host. MX
// answers carry AAAA glue only with Config.GlueAAAA. Dead and refusing
// hosts stay IPv4-only: a dual-stack host's IPv6 address alone may hang
// or refuse (Config.DeadIPv6, RefuseIPv6), the case Happy Eyeballs is
// for.
//
// The choices draw from a random generator of their own and the IPv4
// addresses do not move (an IPv6-only host leaves its IPv4 address
// unused), so a Config without IPv6 gives the world it gave before IPv6
// existed, and adding IPv6 changes nothing else of a world.
//
// Binding an IPv6 address needs it to be local. On Linux, in a network
// namespace of one's own, the whole prefix becomes bindable with
//
//	ip link set lo up
//	ip -6 route add local fd5e:feed::/64 dev lo
//	sysctl -w net.ipv6.ip_nonlocal_bind=1
//
// (the local route makes the kernel take packets for every address of the
// prefix, the sysctl lets bind() take an address no interface carries).
//
// The world's expectations (Recipient.Expect, Host, Bound) are those of a
// dual-stack client: every live host listens on one family at least, so
// a domain on IPv6-only hosts is deliverable. A client of one family
// cannot reach some hosts; Domain.HostOver says where its mail goes, and
// a deliverable domain with no host over its family is deferred for it.

// ipv6Defaults clears what selects nothing without a prefix, so that such
// a world describes itself as before.
func (c Config) ipv6Defaults() Config {
	if !c.IPv6Prefix.IsValid() {
		c.GlueAAAA = false
		return c
	}
	c.IPv6Prefix = c.IPv6Prefix.Masked()
	return c
}

// validateIPv6 says what is wrong with the IPv6 knobs (after
// withDefaults).
func (c Config) validateIPv6() error {
	for name, v := range map[string]float64{
		"dual-stack": c.DualStack, "ipv6-only": c.IPv6Only, "dead-ipv6": c.DeadIPv6, "refuse-ipv6": c.RefuseIPv6,
	} {
		if v < 0 || math.IsNaN(v) {
			return fmt.Errorf("sim: knob %s=%v must be >= 0", name, v)
		}
	}
	p := c.IPv6Prefix
	switch {
	case !p.IsValid() && c.DualStack+c.IPv6Only > 0:
		return fmt.Errorf("sim: dual-stack and IPv6-only hosts need an IPv6 prefix (-ipv6-prefix)")
	case (c.DeadIPv6 > 0 || c.RefuseIPv6 > 0) && c.DualStack == 0:
		return fmt.Errorf("sim: dead-ipv6 and refuse-ipv6 select dual-stack hosts; -dual-stack is 0")
	case p.IsValid() && (!p.Addr().Is6() || p.Addr().Is4In6()):
		return fmt.Errorf("sim: IPv6 prefix %v is not an IPv6 prefix", p)
	}
	return nil
}

// ipv6RNG is the generator of the IPv6 choices, apart from the others so
// that old worlds stay the same.
func ipv6RNG(cfg Config) *rand.Rand { return rand.New(rand.NewPCG(cfg.Seed, 0x69707636)) }

// addIPv6 gives IPv6 addresses to the chosen live ordinary hosts (live,
// in index order) and, with DualStack, to every provider host, in host
// order from the prefix's ::1.
func (w *World) addIPv6(live []*Host) error {
	cfg := w.Config
	if !cfg.IPv6Prefix.IsValid() {
		return nil
	}
	rng := ipv6RNG(cfg)
	nOnly, nDual := count(cfg.IPv6Only, len(live)), count(cfg.DualStack, len(live))
	if nOnly+nDual > len(live) {
		return fmt.Errorf("sim: %d IPv6-only and %d dual-stack hosts asked of %d live hosts", nOnly, nDual, len(live))
	}
	next := cfg.IPv6Prefix.Addr()
	alloc := func(h *Host) (netip.Addr, error) {
		next = next.Next()
		if !next.IsValid() || !cfg.IPv6Prefix.Contains(next) {
			return netip.Addr{}, fmt.Errorf("sim: IPv6 prefix %v has no address left for host %s", cfg.IPv6Prefix, h.Name)
		}
		w.hostByAddr[next] = h
		return next, nil
	}
	var dual []*Host
	for i, p := range rng.Perm(len(live)) {
		h := live[i]
		switch {
		case p < nOnly:
			a, err := alloc(h)
			if err != nil {
				return err
			}
			delete(w.hostByAddr, h.Addr)
			h.Addr = a
		case p < nOnly+nDual:
			a, err := alloc(h)
			if err != nil {
				return err
			}
			h.Addr6 = a
			dual = append(dual, h)
		}
	}
	nDead, nRefuse := count(cfg.DeadIPv6, len(dual)), count(cfg.RefuseIPv6, len(dual))
	if nDead+nRefuse > len(dual) {
		return fmt.Errorf("sim: %d dead and %d refusing IPv6 addresses asked of %d dual-stack hosts", nDead, nRefuse, len(dual))
	}
	for i, p := range rng.Perm(len(dual)) {
		switch {
		case p < nDead:
			dual[i].Kind6 = HostDead
		case p < nDead+nRefuse:
			dual[i].Kind6 = HostRefuse
		}
	}
	if cfg.DualStack > 0 {
		for _, h := range w.Hosts[cfg.Hosts:] { // the providers'
			a, err := alloc(h)
			if err != nil {
				return err
			}
			h.Addr6 = a
		}
	}
	return nil
}

// familyOf is 4 or 6.
func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// Listens reports whether a client connecting over family (4 or 6) finds
// the host answering: it is live and has an address of that family that
// neither hangs nor refuses.
func (h *Host) Listens(family int) bool {
	if h.Kind != HostLive {
		return false
	}
	for _, a := range h.Addrs() {
		if familyOf(a) == family && (a != h.Addr6 || h.Kind6 == "") {
			return true
		}
	}
	return false
}

// HasFamily reports whether the host has an address of family (4 or 6),
// answering or not: whether its name has A (4) or AAAA (6) records.
func (h *Host) HasFamily(family int) bool {
	for _, a := range h.Addrs() {
		if familyOf(a) == family {
			return true
		}
	}
	return false
}

// HostOver returns the host a client that uses only family (4 or 6)
// delivers the domain's mail to: the first of MXHosts that listens on
// it; nil when none does, and such a client defers the domain's
// deliverable recipients.
func (d *Domain) HostOver(family int) *Host {
	for _, h := range d.MXHosts() {
		if h.Listens(family) {
			return h
		}
	}
	return nil
}

// familyReason is what a delivered recipient's Reason adds for its host's
// families.
func familyReason(h *Host) string {
	if !h.HasFamily(4) {
		return "; over IPv6, the host's only family"
	}
	return ""
}

// bindHint adds to a bind error for an IPv6 address the system does not
// have what the system needs.
func bindHint(ap netip.AddrPort, prefix netip.Prefix, err error) error {
	if ap.Addr().Is6() && errors.Is(err, syscall.EADDRNOTAVAIL) {
		return fmt.Errorf("%w; IPv6 hosts need the prefix on a local interface "+
			"(ip -6 route add local %v dev lo with sysctl net.ipv6.ip_nonlocal_bind=1, or ip -6 addr add ADDR/128 dev lo for each address)",
			err, prefix)
	}
	return err
}

// ipv6Summary is the Summary line on IPv6; "" for a world without it.
func (w *World) ipv6Summary() string {
	cfg := w.Config
	if !cfg.IPv6Prefix.IsValid() {
		return ""
	}
	var dual, only, dead, refuse int
	for _, h := range w.Hosts {
		switch {
		case h.Addr.Is6():
			only++
		case h.Addr6.IsValid():
			dual++
		}
		switch h.Kind6 {
		case HostDead:
			dead++
		case HostRefuse:
			refuse++
		}
	}
	return fmt.Sprintf("ipv6: prefix %v, %d dual-stack hosts (IPv6 dead %d, refusing %d), %d IPv6-only, AAAA glue %v\n",
		cfg.IPv6Prefix, dual, dead, refuse, only, cfg.GlueAAAA)
}
