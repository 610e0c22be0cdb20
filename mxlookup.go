package smtpfeed

import (
	"fmt"
	"net/netip"
	"smtpfeed/proto/tlspolicy"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/idna"

	"smtpfeed/cache"
	"smtpfeed/proto/lmtp"
	"smtpfeed/proto/resolv"
	"smtpfeed/reactor"
)

// Source says where an address came from.
type Source uint8

const (
	FromAnswer     Source = iota + 1 // an A/AAAA answer
	FromAdditional                   // the MX answer's additional section
	FromCache                        // an answer cached by an earlier lookup
	FromLiteral                      // a domain literal, user@[192.0.2.1]
)

var sourceNames = [...]string{"", "answer", "additional", "cache", "literal"}

func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "source?"
}

// HostAddr is one address of a mail host and where it came from.
type HostAddr struct {
	Addr netip.Addr
	From Source
}

// MailHost is one host mail for a domain may go to.
type MailHost struct {
	Name  string // lower case, no trailing dot; the domain itself for an implicit MX
	Pref  uint16
	Addrs []HostAddr
	Fail  *Failure // why the host has no address, when it has none
	// DANE is what DNSSEC says of the host's TLSA records (looked up
	// only for a domain under DANE whose MX answer was secure); TLSA
	// holds them, or why their lookup failed. A pointer: at 100,000
	// recipients most hosts have none, and each byte here is counted
	// per domain.
	DANE daneState
	TLSA *HostTLSA
}

// HostTLSA is a host's TLSA records, usable or not, and whether any is
// (said once here rather than worked out per recipient); or why the
// lookup failed.
type HostTLSA struct {
	Records []tlspolicy.TLSA
	Usable  bool
	Err     string
}

// daneState is what a host's TLSA lookup found.
type daneState uint8

const (
	daneNone    daneState = iota // no secure TLSA records: no DANE
	daneRecords                  // secure TLSA records
	daneFailed                   // the lookup failed: the host cannot be used under DANE
	daneAsking                   // asked, not yet answered (failed if the lookup ends so)
)

// FailKind is why a lookup gave its domain no mail host. What the
// recipients hear for each is outcome.go's table (failReplies).
type FailKind uint8

const (
	FailBadName     FailKind = iota + 1 // not a domain name or literal (IDNA included)
	FailNoDomain                        // NXDOMAIN
	FailNullMX                          // the domain accepts no mail (RFC 7505)
	FailNoAddress                       // no MX host has an address
	FailFamily                          // an address literal of a family not used (-N 4)
	FailOtherFamily                     // the MX hosts have addresses, none of the family used (-N 4)
	FailTemporary                       // server failure, timeout, broken answers, a CNAME loop
	FailLoop                            // this host is the best MX (RFC 5321 §5.1)
)

// Failure is a lookup's outcome for the recipients of its domain: the
// kind, and the text that says what failed for which name.
type Failure struct {
	Kind FailKind
	Text string
}

// Temporary reports whether the recipients should be tried again later.
func (f *Failure) Temporary() bool { return f.Kind == FailTemporary }

func (f *Failure) String() string { return outcomeFail(f).String() }

// The failures RFC 5321 §5.1, RFC 7505 and RFC 3463 prescribe.
func failNullMX(d string) *Failure {
	return &Failure{FailNullMX, fmt.Sprintf("domain %s accepts no mail (null MX)", d)}
}
func failNXDomain(d, why string) *Failure {
	return &Failure{FailNoDomain, fmt.Sprintf("domain %s does not exist: %s", d, why)}
}
func failNoHost(d, why string) *Failure {
	return &Failure{FailNoAddress, fmt.Sprintf("domain %s has no mail host with an address: %s", d, why)}
}
func failHostNoAddr(h, why string) *Failure {
	return &Failure{FailNoAddress, fmt.Sprintf("host %s has no address: %s", h, why)}
}
func failOtherFamily(d, why string) *Failure {
	return &Failure{FailOtherFamily, fmt.Sprintf("no mail host of %s has an IPv4 address, and only IPv4 is used (-N 4): %s", d, why)}
}
func failTemp(d, why string) *Failure {
	return &Failure{FailTemporary, fmt.Sprintf("DNS lookup for %s failed: %s", d, why)}
}
func failLoop(d string) *Failure {
	return &Failure{FailLoop, fmt.Sprintf("mail for %s loops back to myself (our name is its best MX)", d)}
}

// MXResult is where mail for one domain may go, best host first.
type MXResult struct {
	Domain   string // as asked, lower case
	Hosts    []MailHost
	Implicit bool     // no MX: the domain's own addresses (RFC 5321 §5.1)
	Fail     *Failure // set when no host has an address
}

// mxState is where one domain's lookup is.
type mxState uint8

const (
	mxAskMX    mxState = iota // asking the MX of name (following CNAMEs)
	mxAskAddrs                // asking the addresses of the hosts
	mxDone                    // result delivered
)

// mxLookup finds the mail hosts of one domain. Every lookup a message needs
// is pending at once, so the fields are ordered to fit 128 bytes.
type mxLookup struct {
	r        *Resolver
	domain   string // lower case, bare
	name     string // canonical name asked now
	hosts    []MailHost
	temp     []string
	timer    *reactor.Timer
	done     func(MXResult)
	asking   []uint8 // per host, address questions not yet answered
	pending  int     // address questions not yet answered
	hops     int     // CNAMEs followed
	state    mxState
	implicit bool
	starting bool
	dane     bool // look up TLSA records where the MX answer is secure
	// implicitTLSA: the TLSA records of an implicit MX (the domain's own
	// name, RFC 7672 §2.2.1) are asked, once its address answer is secure.
	implicitTLSA bool
}

// LookupMX finds the mail hosts of domain (a domain name, or a domain
// literal such as "[192.0.2.1]" or "[IPv6:2001:db8::1]") and calls done
// with them once, from the loop, never from inside LookupMX. Every lookup
// a message needs is started at once; the resolver shares their questions.
func (r *Resolver) LookupMX(domain string, done func(MXResult)) { r.lookupMX(domain, false, done) }

// LookupMXTLSA is LookupMX for a domain under DANE: where the MX answer
// is DNSSEC-secure (TrustAD, AD bit), it also asks every MX host's TLSA
// records (_25._tcp.host), at once with the addresses (RFC 7672 §2.2).
// A TLSA lookup that fails or times out leaves its host daneFailed, so
// DANE never quietly downgrades.
func (r *Resolver) LookupMXTLSA(domain string, done func(MXResult)) {
	r.lookupMX(domain, r.cfg.TrustAD, done)
}

func (r *Resolver) lookupMX(domain string, dane bool, done func(MXResult)) {
	r.startLookup(domain, dane, true, done)
}

// startLookup starts a lookup of domain: its MX records (withMX), or
// the domain as its own one mail host (LookupHost).
func (r *Resolver) startLookup(domain string, dane, withMX bool, done func(MXResult)) {
	now := r.loop.Now()
	l := &mxLookup{r: r, domain: strings.ToLower(strings.TrimSuffix(domain, ".")), done: done, starting: true, dane: dane}
	defer func() { l.starting = false }()
	if withMX && strings.HasPrefix(l.domain, "[") {
		l.literal(now)
		return
	}
	ascii, err := lookupName(l.domain)
	if err != nil {
		l.finish(now, &Failure{FailBadName, err.Error()})
		return
	}
	l.domain = ascii
	l.timer = r.loop.AddTimer(now.Add(r.cfg.Timeout), l.onTimeout)
	l.name = resolv.Canonical(l.domain)
	if withMX {
		l.askMX(now)
	} else {
		l.askImplicit(now)
	}
}

// lookupName is the name DNS knows domain by: an internationalised
// domain (a U-label from an SMTPUTF8 caller, RFC 6531) as its A-label,
// by IDNA 2008's lookup rules (UTS #46 mapping, as browsers and mail
// clients resolve). Mail to it keeps the U-label on the wire.
func lookupName(domain string) (string, error) {
	name := domain
	for i := 0; i < len(domain); i++ {
		if domain[i] >= 0x80 {
			a, err := idna.Lookup.ToASCII(domain)
			if err != nil {
				return "", fmt.Errorf("%q is not a valid internationalised domain name: %v", domain, err)
			}
			name = strings.ToLower(a)
			break
		}
	}
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return "", fmt.Errorf("%q is not a valid domain name", domain)
	}
	return name, nil
}

func (l *mxLookup) literal(now time.Time) {
	a, err := lmtp.ParseLiteral(l.domain)
	if err != nil {
		l.finish(now, &Failure{FailBadName, fmt.Sprintf("%s: %v", l.domain, err)})
		return
	}
	if !l.r.wantFamily(a) {
		l.finish(now, &Failure{FailFamily, fmt.Sprintf("domain literal %s is IPv6 and only IPv4 is used", l.domain)})
		return
	}
	l.hosts = []MailHost{{Name: l.domain, Addrs: []HostAddr{{a, FromLiteral}}}}
	l.finish(now, nil)
}

func (l *mxLookup) askMX(now time.Time) {
	l.r.ask(resolv.Question{Name: l.name, Type: dns.TypeMX}, now, l.onMX)
}

func (l *mxLookup) onMX(now time.Time, rep reply) {
	if l.state != mxAskMX {
		return
	}
	switch rep.neg {
	case cache.NXDomain:
		l.finish(now, failNXDomain(l.domain, rep.why))
		return
	case cache.NoData:
		l.askImplicit(now)
		return
	case cache.Failure, cache.Timeout:
		l.finish(now, failTemp(l.domain, rep.why))
		return
	}
	l.hops += int(rep.set.chain)
	if l.hops > resolv.MaxCNAME {
		l.finish(now, failTemp(l.domain, fmt.Sprintf("more than %d CNAMEs (a loop?) at %s", resolv.MaxCNAME, resolv.Bare(rep.set.canonical))))
		return
	}
	l.name = rep.set.canonical
	if rep.set.kind == resolv.KindCNAME {
		l.askMX(now)
		return
	}
	l.hostsFromMX(now, rep)
}

// askImplicit makes the name asked the one mail host, preference 0 (an
// implicit MX, RFC 5321 §5.1), and asks its addresses: for a domain
// without MX records, and for the route map's A (LookupHost).
func (l *mxLookup) askImplicit(now time.Time) {
	l.implicit = true
	l.state = mxAskAddrs
	l.hosts = []MailHost{{Name: resolv.Bare(l.name)}}
	l.askAddrs(now, 0, l.name)
	l.settle(now)
}

// hostsFromMX orders the MX set and starts the address lookups of the
// hosts whose addresses did not come with it.
func (l *mxLookup) hostsFromMX(now time.Time, rep reply) {
	if resolv.IsNullMX(rep.set.mx) {
		l.finish(now, failNullMX(l.domain))
		return
	}
	mx := resolv.Order(resolv.Usable(rep.set.mx), l.r.cfg.Rand.IntN)
	mx, self := resolv.DropSelf(mx, func(h string) bool { return l.r.own[h] })
	if len(mx) == 0 {
		if self {
			l.finish(now, failLoop(l.domain))
		} else {
			l.finish(now, failNullMX(l.domain))
		}
		return
	}
	// A host beyond the address cap could not be tried: each has an
	// address at least, so its addresses are not even asked.
	mx = mx[:min(len(mx), l.r.cfg.MaxMXAddrs)]
	l.state = mxAskAddrs
	l.hosts = make([]MailHost, len(mx))
	from := FromAdditional
	if rep.cached {
		from = FromCache
	}
	for i, m := range mx {
		l.hosts[i] = MailHost{Name: resolv.Bare(m.Host), Pref: m.Pref}
		for _, a := range m.Glue {
			if l.r.wantFamily(a) {
				l.hosts[i].Addrs = append(l.hosts[i].Addrs, HostAddr{a, from})
			}
		}
	}
	// A host whose glue lacks a family is asked for it: glue is
	// whatever the server had at hand, often only A records.
	for i, m := range mx {
		l.askAddrs(now, i, m.Host)
	}
	if l.dane && rep.set.secure {
		for i := range l.hosts {
			l.askTLSA(now, i)
		}
	}
	l.settle(now)
}

// askTLSA asks host i's TLSA records for SMTP on port 25. Records count
// only when the answer is secure; an insecure answer or a denial means
// no DANE at that host, a failure that the host cannot be used under it.
// A CNAME'd TLSA name is not followed: no DANE there.
func (l *mxLookup) askTLSA(now time.Time, i int) {
	l.pending++
	l.hosts[i].DANE = daneAsking
	q := resolv.Question{Name: resolv.Canonical("_25._tcp." + l.hosts[i].Name), Type: dns.TypeTLSA}
	l.r.ask(q, now, func(now time.Time, rep reply) {
		if l.state != mxAskAddrs {
			return
		}
		l.pending--
		h := &l.hosts[i]
		h.DANE = daneNone
		switch {
		case rep.neg == 0 && rep.set.kind == resolv.KindData && rep.set.secure && rep.set.tlsa != nil:
			recs := *rep.set.tlsa
			h.DANE, h.TLSA = daneRecords, &HostTLSA{Records: recs, Usable: len(tlspolicy.Usable(recs)) > 0}
		case rep.neg == cache.Failure || rep.neg == cache.Timeout:
			h.DANE, h.TLSA = daneFailed, &HostTLSA{Err: rep.why}
		}
		l.settle(now)
	})
}

// askAddrs asks host i's A and AAAA records under name, but a family
// its addresses already have (from glue) and AAAA with -N 4.
func (l *mxLookup) askAddrs(now time.Time, i int, name string) {
	have4, have6 := false, false
	for _, a := range l.hosts[i].Addrs {
		have4 = have4 || a.Addr.Is4()
		have6 = have6 || !a.Addr.Is4()
	}
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if (t == dns.TypeA && have4) || (t == dns.TypeAAAA && (have6 || l.r.cfg.IPv4Only)) {
			continue
		}
		if l.asking == nil { // most lookups have every family they use in the glue
			l.asking = make([]uint8, len(l.hosts))
		}
		l.pending++
		l.asking[i]++
		l.askAddr(now, i, name, t, 0)
	}
}

func (l *mxLookup) askAddr(now time.Time, i int, name string, t uint16, hops int) {
	l.r.ask(resolv.Question{Name: name, Type: t}, now, func(now time.Time, rep reply) {
		if l.state != mxAskAddrs {
			return
		}
		if rep.neg == 0 && rep.set.kind == resolv.KindCNAME {
			if hops += int(rep.set.chain); hops <= resolv.MaxCNAME {
				l.askAddr(now, i, rep.set.canonical, t, hops)
				return
			}
			rep = reply{neg: cache.Failure, why: fmt.Sprintf("more than %d CNAMEs (a loop?) at %s", resolv.MaxCNAME, resolv.Bare(rep.set.canonical))}
		}
		l.pending--
		l.asking[i]--
		h := &l.hosts[i]
		switch rep.neg {
		case 0:
			from := FromAnswer
			if rep.cached {
				from = FromCache
			}
			for _, a := range rep.set.addrs {
				if l.r.wantFamily(a) {
					h.Addrs = append(h.Addrs, HostAddr{a, from})
				}
			}
			if len(h.Addrs) == 0 && len(rep.set.addrs) > 0 {
				h.Fail = &Failure{FailOtherFamily, fmt.Sprintf("host %s has IPv6 addresses only", h.Name)}
			}
		case cache.Failure, cache.Timeout:
			l.temp = append(l.temp, rep.why)
			h.Fail = failTemp(h.Name, rep.why)
		default:
			if h.Fail == nil {
				h.Fail = failHostNoAddr(h.Name, rep.why)
			}
			if t == dns.TypeA && rep.neg == cache.NoData && l.r.cfg.IPv4Only && len(h.Addrs) == 0 {
				// -N 4 asks no AAAA, but a host whose name has no A
				// may have IPv6 addresses: its recipients are then
				// deferred (another sender could deliver), not bounced.
				l.pending++
				l.asking[i]++
				l.askAddr(now, i, name, dns.TypeAAAA, 0)
			}
		}
		if l.dane && l.implicit && !l.implicitTLSA && rep.neg == 0 && rep.set.secure {
			l.implicitTLSA = true
			l.askTLSA(now, i)
		}
		l.settle(now)
	})
}

// settle ends the lookup once no address question is pending. Once
// every host still asked has an address of the other family, the rest
// get ResolutionDelay (RFC 8305 §3): a name server that drops AAAA
// questions costs that, not the lookup's timeout.
func (l *mxLookup) settle(now time.Time) {
	if l.state != mxAskAddrs {
		return
	}
	if l.pending == 0 {
		l.finish(now, l.hostsOutcome())
		return
	}
	for i, n := range l.asking {
		if n > 0 && len(l.hosts[i].Addrs) == 0 {
			return
		}
	}
	for i := range l.hosts {
		if l.hosts[i].DANE == daneAsking {
			return // TLSA answers are no extra: DANE waits for them
		}
	}
	if at := now.Add(ResolutionDelay); at.Before(l.timer.When()) {
		l.r.loop.ResetTimer(l.timer, at)
	}
}

func (l *mxLookup) hostsOutcome() *Failure {
	var why []string
	usable, otherFamily := false, false
	for i := range l.hosts {
		h := &l.hosts[i]
		if len(h.Addrs) > 0 {
			usable = true
		} else if h.Fail != nil {
			why = append(why, h.Fail.Text)
			otherFamily = otherFamily || h.Fail.Kind == FailOtherFamily
		}
	}
	switch {
	case usable:
		return nil
	case len(l.temp) > 0:
		return failTemp(l.domain, strings.Join(l.temp, "; "))
	case otherFamily:
		return failOtherFamily(l.domain, strings.Join(why, "; "))
	}
	return failNoHost(l.domain, strings.Join(why, "; "))
}

// capAddrs orders each host's addresses, the two families interleaved
// (RFC 8305 §4), IPv4 first or IPv6 with PreferIPv6, and keeps at most
// MaxHostAddrs of each and MaxMXAddrs in all, best MX first; the hosts
// past the last address kept are dropped.
func (l *mxLookup) capAddrs() {
	budget := l.r.cfg.MaxMXAddrs
	for i := range l.hosts {
		if budget == 0 {
			l.hosts = l.hosts[:i:i]
			return
		}
		h := &l.hosts[i]
		h.Addrs = interleave(h.Addrs, !l.r.cfg.PreferIPv6)
		h.Addrs = h.Addrs[:min(len(h.Addrs), l.r.cfg.MaxHostAddrs, budget)]
		budget -= len(h.Addrs)
	}
}

// ResolutionDelay is how long a lookup waits for a family's addresses
// once every host has the other's (RFC 8305 §3 recommends 50 ms).
const ResolutionDelay = 50 * time.Millisecond

// wantFamily reports whether a is of a family in use (-N 4).
func (r *Resolver) wantFamily(a netip.Addr) bool { return a.Is4() || !r.cfg.IPv4Only }

// interleave orders addresses by family in turn, the first of the
// family preferred (IPv4 when v4First) first, each family in the order
// given: a host whose first address is unreachable is tried over the
// other family next.
func interleave(addrs []HostAddr, v4First bool) []HostAddr {
	var pref, other []HostAddr
	for _, a := range addrs {
		if a.Addr.Is4() == v4First {
			pref = append(pref, a)
		} else {
			other = append(other, a)
		}
	}
	if len(pref) == 0 || len(other) == 0 {
		return addrs
	}
	out := addrs[:0:0]
	for i := 0; i < len(pref) || i < len(other); i++ {
		if i < len(pref) {
			out = append(out, pref[i])
		}
		if i < len(other) {
			out = append(out, other[i])
		}
	}
	return out
}

func (l *mxLookup) onTimeout(now time.Time) {
	if l.state == mxDone {
		return
	}
	for _, h := range l.hosts {
		if len(h.Addrs) > 0 {
			l.finish(now, nil) // what arrived in time is enough to try
			return
		}
	}
	l.finish(now, failTemp(l.domain, fmt.Sprintf("no answer within %v", l.r.cfg.Timeout)))
}

// finish delivers the result once: through Loop.Later when called
// inside LookupMX, so that done never runs under its caller's feet.
func (l *mxLookup) finish(now time.Time, fail *Failure) {
	if l.state == mxDone {
		return
	}
	l.state = mxDone
	if l.timer != nil {
		l.r.loop.StopTimer(l.timer)
	}
	l.capAddrs()
	for i := range l.hosts {
		if len(l.hosts[i].Addrs) > 0 {
			l.hosts[i].Fail = nil
		}
		if l.hosts[i].DANE == daneAsking {
			l.hosts[i].DANE, l.hosts[i].TLSA = daneFailed, &HostTLSA{Err: fmt.Sprintf("no TLSA answer within %v", l.r.cfg.Timeout)}
		}
	}
	res := MXResult{Domain: l.domain, Hosts: l.hosts, Implicit: l.implicit, Fail: fail}
	if l.starting {
		l.r.loop.Later(func(time.Time) { l.done(res) })
		return
	}
	l.done(res)
}
