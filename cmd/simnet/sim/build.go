package sim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Generate builds the world a Config describes. It is deterministic: the
// same Config gives the same world, byte for byte. It opens no sockets.
func Generate(cfg Config) (*World, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// A fixed second seed word keeps old seeds meaning the same world.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x73696d6e6574))
	w := &World{
		Config:     cfg,
		hostByName: map[string]*Host{},
		hostByAddr: map[netip.Addr]*Host{},
		names:      map[string]*Domain{},
		rcpts:      map[string]*Recipient{},
	}
	D, H := cfg.Domains, cfg.Hosts

	kinds := []struct {
		k DomainKind
		n int
	}{
		{KindShare, count(cfg.Share, D)},
		{KindDeadFirst, count(cfg.DeadFirst, D)},
		{KindRefuseFirst, count(cfg.RefuseFirst, D)},
		{KindCrossed, count(cfg.Crossed, D)},
		{KindImplicit, count(cfg.Implicit, D)},
		{KindCNAME, count(cfg.CNAME, D)},
		{KindNullMX, count(cfg.NullMX, D)},
		{KindNXDomain, count(cfg.NXDomain, D)},
		{KindSilent, count(cfg.Silent, D)},
		{KindTruncate, count(cfg.Truncate, D)},
	}
	total := 0
	for i := range kinds {
		if kinds[i].k == KindCrossed && kinds[i].n%2 == 1 {
			kinds[i].n++ // crossed domains come in pairs
		}
		total += kinds[i].n
	}
	if total > D {
		return nil, fmt.Errorf("sim: the domain kinds ask for %d domains, the world has %d", total, D)
	}
	need := map[DomainKind]int{}
	for _, k := range kinds {
		need[k.k] = k.n
	}

	// Hosts: kinds first, so every domain kind finds the hosts it needs.
	nDead, nRefuse := count(cfg.DeadHosts, H), count(cfg.RefuseHosts, H)
	if need[KindDeadFirst] > 0 && nDead == 0 {
		nDead = 1
	}
	if need[KindRefuseFirst] > 0 && nRefuse == 0 {
		nRefuse = 1
	}
	nLive := H - nDead - nRefuse
	minLive := 1
	if need[KindCrossed] > 0 {
		minLive = 2
	}
	if nLive < minLive {
		return nil, fmt.Errorf("sim: %d hosts leave %d live after %d dead and %d refusing, need %d", H, nLive, nDead, nRefuse, minLive)
	}
	// Provider hosts take the addresses after the ordinary hosts'.
	addrs, err := hostAddrs(cfg.FirstHostAddr, H+cfg.providerAddrs())
	if err != nil {
		return nil, err
	}
	hw := max(4, len(strconv.Itoa(H)))
	var live, dead, refuse []*Host
	for i, p := range rng.Perm(H) {
		h := &Host{Index: i, Name: fmt.Sprintf("mx%0*d.hosts.%s", hw, i+1, Zone), Addr: addrs[i], Kind: HostLive}
		switch {
		case p < nDead:
			h.Kind = HostDead
			dead = append(dead, h)
		case p < nDead+nRefuse:
			h.Kind = HostRefuse
			refuse = append(refuse, h)
		default:
			live = append(live, h)
		}
		w.Hosts = append(w.Hosts, h)
		w.hostByName[h.Name] = h
		w.hostByAddr[h.Addr] = h
	}
	noPipe, no8, noSize := pick(rng, nLive, cfg.NoPipelining), pick(rng, nLive, cfg.No8BitMIME), pick(rng, nLive, cfg.NoSize)
	noEnh, helo, limited := pick(rng, nLive, cfg.NoEnhanced), pick(rng, nLive, cfg.HeloOnly), pick(rng, nLive, cfg.RcptLimited)
	for i, h := range live {
		h.Pipelining, h.EightBitMIME, h.Size, h.Enhanced = !noPipe[i], !no8[i], !noSize[i], !noEnh[i]
		if helo[i] {
			// An RFC 821 host advertises nothing.
			h.HeloOnly, h.Pipelining, h.EightBitMIME, h.Size, h.Enhanced = true, false, false, false, false
		}
		if limited[i] {
			h.RcptLimit = cfg.RcptLimit
		}
		h.RTT = cfg.RTT
		if span := cfg.RTTMax - cfg.RTT; span > 0 {
			h.RTT += time.Duration(rng.Int64N(int64(span) + 1))
		}
	}
	pickTLS(cfg, live)
	pickDSN(cfg, live)

	// Domains: a random permutation decides the kinds, so kinds are
	// spread over the name space instead of sitting in blocks.
	kindOf := make([]DomainKind, D)
	for i, p := range rng.Perm(D) {
		kindOf[i] = KindNormal
		for _, k := range kinds {
			if p < k.n {
				kindOf[i] = k.k
				break
			}
			p -= k.n
		}
	}
	dw := max(5, len(strconv.Itoa(D)))
	rr := 0 // round robin over the live hosts spreads first MXes evenly
	nextLive := func() *Host { h := live[rr%len(live)]; rr++; return h }
	other := func(h *Host) *Host { // a live host that is not h, or nil
		if len(live) < 2 {
			return nil
		}
		for {
			if o := live[rng.IntN(len(live))]; o != h {
				return o
			}
		}
	}
	second := pick(rng, D, cfg.SecondMX)
	var shareHost, sharePrev *Host
	shareN, crossedPrev := 0, (*Domain)(nil)
	nd, nr := 0, 0
	for i := range D {
		d := &Domain{Index: i, Name: fmt.Sprintf("d%0*d.%s", dw, i+1, Zone), Kind: kindOf[i]}
		mx := func(pref int, h *Host) {
			if h != nil {
				d.MX = append(d.MX, MX{Pref: pref, Host: h, Target: h.Name})
			}
		}
		switch d.Kind {
		case KindNormal:
			h := nextLive()
			mx(10, h)
			if second[i] {
				mx(20, other(h))
			}
		case KindTruncate:
			mx(10, nextLive())
		case KindShare:
			if shareN%cfg.ShareGroup == 0 {
				shareHost = live[rng.IntN(len(live))]
				sharePrev = other(shareHost)
			}
			shareN++
			d.ShareGroup = (shareN-1)/cfg.ShareGroup + 1
			mx(10, shareHost)
			mx(20, sharePrev)
		case KindDeadFirst:
			mx(10, dead[nd%len(dead)])
			nd++
			mx(20, nextLive())
		case KindRefuseFirst:
			mx(10, refuse[nr%len(refuse)])
			nr++
			mx(20, nextLive())
		case KindCrossed:
			if crossedPrev == nil {
				x := nextLive()
				mx(10, x)
				mx(20, other(x))
				crossedPrev = d
			} else {
				mx(10, crossedPrev.MX[1].Host)
				mx(20, crossedPrev.MX[0].Host)
				d.CrossedWith, crossedPrev.CrossedWith = crossedPrev.Name, d.Name
				crossedPrev = nil
			}
		case KindImplicit:
			d.ImplicitHost = nextLive()
		case KindCNAME:
			d.CNAMETarget = strings.TrimSuffix(d.Name, "."+Zone) + "-canon." + Zone
			mx(10, nextLive())
		case KindNullMX:
			d.MX = []MX{{Pref: 0, Target: "."}}
		}
		w.Domains = append(w.Domains, d)
		w.names[d.Name] = d
		if d.CNAMETarget != "" {
			w.names[d.CNAMETarget] = d
		}
		for _, h := range d.MXHosts() {
			h.Serves = append(h.Serves, d.Name)
			if d.CNAMETarget != "" {
				h.Serves = append(h.Serves, d.CNAMETarget)
			}
		}
		for _, m := range d.MX { // dead and refusing hosts "serve" too, on paper
			if m.Host != nil && m.Host.Kind != HostLive {
				m.Host.Serves = append(m.Host.Serves, d.Name)
			}
		}
	}
	if cfg.DNSDelay > 0 {
		delayed := pick(rng, D, cfg.DNSDelayShare)
		for i, d := range w.Domains {
			if cfg.DNSDelayShare == 0 || delayed[i] {
				d.DNSDelay = cfg.DNSDelay
			}
		}
	}
	prng := providerRNG(cfg)
	w.addProviders(prng, live, addrs[H:])
	if err := w.addIPv6(live); err != nil {
		return nil, err
	}
	w.makeRecipients(rng)
	w.interleave(prng)
	w.computeBounds()
	return w, nil
}

// pick returns a slice of n flags with count(share, n) of them set at
// random.
func pick(rng *rand.Rand, n int, share float64) []bool {
	out := make([]bool, n)
	k := count(share, n)
	for i, p := range rng.Perm(n) {
		out[i] = p < k
	}
	return out
}

// deliverable says whether some live host takes mail for the domain.
func (d *Domain) deliverable() bool {
	switch d.Kind {
	case KindNullMX, KindNXDomain, KindSilent:
		return false
	}
	return len(d.MXHosts()) > 0
}

// makeRecipients fills the users of every domain, renames the chosen ones
// to defer-* and bounce-*, and writes the expected outcome of each address.
func (w *World) makeRecipients(rng *rand.Rand) {
	cfg := w.Config
	type slot struct{ d, u int }
	users := w.userCounts()
	total := 0
	for _, n := range users {
		total += n
	}
	// Sized up front: a million recipients appended one by one made
	// generation a matter of seconds, growing slices and the map.
	slots := make([]slot, 0, total)
	for di, d := range w.Domains {
		d.Users = make([]string, users[di])
		deliverable := d.deliverable()
		for u := range users[di] {
			d.Users[u] = "user" + strconv.Itoa(u+1)
			if deliverable {
				slots = append(slots, slot{di, u})
			}
		}
	}
	nDefer, nBounce := count(cfg.DeferRcpts, len(slots)), count(cfg.BounceRcpts, len(slots))
	for i, p := range rng.Perm(len(slots)) {
		s := slots[i]
		switch {
		case p < nDefer:
			w.Domains[s.d].Users[s.u] = "defer-" + w.Domains[s.d].Users[s.u]
		case p < nDefer+nBounce:
			w.Domains[s.d].Users[s.u] = "bounce-" + w.Domains[s.d].Users[s.u]
		}
	}
	w.Recipients = make([]*Recipient, 0, total)
	w.rcpts = make(map[string]*Recipient, total)
	all := make([]Recipient, total) // one allocation, not one per recipient
	for _, d := range w.Domains {
		var first *Host // the host that takes the domain's mail, if one does
		if hs := d.MXHosts(); len(hs) > 0 {
			first = hs[0]
		}
		for _, u := range d.Users {
			r := &all[len(w.Recipients)]
			*r = Recipient{Addr: u + "@" + d.Name, Domain: d}
			switch {
			case d.Kind == KindNullMX:
				r.Expect, r.Reason = Bounced, "null MX (RFC 7505): the domain takes no mail"
			case d.Kind == KindNXDomain:
				r.Expect, r.Reason = Bounced, "NXDOMAIN"
			case d.Kind == KindSilent:
				r.Expect, r.Reason = Deferred, "DNS queries for the domain are never answered"
			case strings.HasPrefix(u, "defer-"):
				r.Expect, r.Reason = Deferred, "RCPT answered 450 4.2.0"
			case strings.HasPrefix(u, "bounce-"):
				r.Expect, r.Reason = Bounced, "RCPT answered 550 5.1.1"
			default:
				r.Expect, r.Host = Delivered, first.Name
				r.Reason = deliveredReason[d.Kind] + familyReason(first)
			}
			w.Recipients = append(w.Recipients, r)
			w.rcpts[strings.ToLower(r.Addr)] = r
		}
	}
}

var deliveredReason = map[DomainKind]string{
	KindNormal:      "accepted by the first MX",
	KindShare:       "accepted by the first MX, shared with other domains",
	KindDeadFirst:   "first MX hangs, accepted by the second MX",
	KindRefuseFirst: "first MX refuses, accepted by the second MX",
	KindCrossed:     "accepted by the first MX, which is another domain's second MX",
	KindImplicit:    "no MX: accepted by the domain's own address (implicit MX)",
	KindCNAME:       "accepted by the MX of the CNAME target",
	KindTruncate:    "MX answer only over TCP, accepted by the first MX",
	KindProvider:    "accepted by one of the provider's MX hosts, all at one preference",
}

// pickDSN picks the hosts that offer DSN, from a generator of its own so
// that the rest of the world is the same with the knob or without it.
func pickDSN(cfg Config, live []*Host) {
	if cfg.DSN <= 0 {
		return
	}
	var esmtp []*Host
	for _, h := range live {
		if !h.HeloOnly {
			esmtp = append(esmtp, h)
		}
	}
	offer := pick(rand.New(rand.NewPCG(cfg.Seed, 0xd5a)), len(esmtp), cfg.DSN)
	for i, h := range esmtp {
		h.DSN = offer[i]
	}
}

// pickTLS chooses the hosts that offer STARTTLS, with a generator of
// its own so that worlds without TLS knobs stay what they were.
func pickTLS(cfg Config, live []*Host) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7115))
	n := len(live)
	offer, broken, old := pick(rng, n, cfg.StartTLS), pick(rng, n, cfg.TLSBroken), pick(rng, n, cfg.TLS12Only)
	var working []*Host
	for i, h := range live {
		if h.HeloOnly {
			continue
		}
		h.TLSBroken, h.TLS12Only = broken[i], old[i] && !broken[i]
		h.StartTLS = offer[i] || h.TLSBroken || h.TLS12Only
		if h.StartTLS && !h.TLSBroken {
			working = append(working, h)
		}
	}
	match, mismatch := pick(rng, len(working), cfg.DANEMatch), pick(rng, len(working), cfg.DANEMismatch)
	for i, h := range working {
		switch {
		case match[i]:
			h.TLSA = "match"
		case mismatch[i]:
			h.TLSA = "mismatch"
		}
	}
}
