package smtpfeed

import (
	"fmt"
	"net/netip"
	"strings"
)

// rcpt is one recipient of a job. A job holds its recipients in one
// slice of values made once, so they cost one allocation between them
// and pointers to them stay valid. What every recipient of a domain
// shares lives once, in its rcptDomain: at 100,000 recipients each byte
// here is 100 kB.
type rcpt struct {
	j       *job
	dom     *rcptDomain // nil when the address does not parse
	lastErr string      // why the last host tried failed
	i       int32       // position in the caller's RCPT order
	pos     int32       // the host in dom.mx tried now
	apos    int32       // the address of that host tried now
	flags   rcptFlag
}

// rcptFlag is one of a recipient's yes/no states, packed into a byte.
type rcptFlag uint8

const (
	// rcptTentative: the recipient waits on a connect still in flight,
	// and so counts toward e.tentative for every address after it in its
	// list: those may still get it if this one fails.
	rcptTentative rcptFlag = 1 << iota
	rcptFellBack           // sent to the fallback MX (-m) already
	rcptRetried            // already retried once after a reused connection failed
	rcptInConn             // handed to a connection, which owes it a result
	rcptDone               // answered
)

func (r *rcpt) is(f rcptFlag) bool { return r.flags&f != 0 }

// addr is the recipient's address, read from the message's list rather
// than kept in each of 100,000 recipients.
func (r *rcpt) addr() string     { return r.j.addrs[r.i] }
func (r *rcpt) set(f rcptFlag)   { r.flags |= f }
func (r *rcpt) clear(f rcptFlag) { r.flags &^= f }

// rcptDomain is one recipient domain of a job: its name and the MX hosts
// its lookup found, shared by its recipients. Each recipient keeps only
// its own place in the list, since they fall back one by one.
type rcptDomain struct {
	name string
	mx   []MailHost // nil until the lookup succeeds
	// members are the recipients waiting for the lookup, as indexes into
	// the job's recipients; nil once it is done.
	members  []int32
	n        int32       // recipients of the domain, to size members
	fellBack *rcptDomain // the same domain with the fallback MX's hosts
}

// hosts is the recipient's MX list.
func (r *rcpt) hosts() []MailHost {
	if r.dom == nil {
		return nil
	}
	return r.dom.mx
}

// setHosts starts the recipient at the top of its domain's MX list; each
// address it may still go to counts as a reason to keep that address's
// connection open.
func (r *rcpt) setHosts() {
	r.pos, r.apos = 0, 0
	for _, h := range r.dom.mx {
		for _, a := range h.Addrs {
			r.j.e.needs[a.Addr]++
		}
	}
}

// fallBack moves the recipient to the fallback MX's hosts, which every
// recipient of its domain that falls back shares.
func (r *rcpt) fallBack(hosts []MailHost) {
	d := r.dom
	if d.fellBack == nil {
		d.fellBack = &rcptDomain{name: d.name, mx: hosts}
	}
	r.dom = d.fellBack
	r.setHosts()
}

// next gives up on the current address and moves to the host's next, or
// to the next host.
func (r *rcpt) next() {
	r.settle()
	if r.apos++; int(r.apos) >= len(r.dom.mx[r.pos].Addrs) {
		r.nextHost()
	}
}

// nextHost gives up on the current host.
func (r *rcpt) nextHost() {
	r.settle()
	for _, a := range r.dom.mx[r.pos].Addrs {
		r.j.e.release(a.Addr)
	}
	r.pos, r.apos = r.pos+1, 0
}

// later calls f for every address after the current one.
func (r *rcpt) later(f func(netip.Addr)) {
	mx := r.hosts()
	for p := int(r.pos); p < len(mx); p++ {
		addrs := mx[p].Addrs
		start := 0
		if p == int(r.pos) {
			start = int(r.apos) + 1
		}
		for _, a := range addrs[min(start, len(addrs)):] {
			f(a.Addr)
		}
	}
}

// tentative marks the recipient as waiting on a connection that may
// still fail: the addresses after its current one hold their start for it
// (within the grace period), so that regrouping after a failure finds
// them not yet gone (paper §3.2).
func (r *rcpt) tentative() {
	if r.is(rcptTentative | rcptDone) {
		return
	}
	r.set(rcptTentative)
	r.later(func(a netip.Addr) { r.j.e.tentative[a]++ })
}

// settle ends the hold of tentative.
func (r *rcpt) settle() {
	if !r.is(rcptTentative) {
		return
	}
	r.clear(rcptTentative)
	e := r.j.e
	r.later(func(a netip.Addr) {
		if n := e.tentative[a]; n > 1 {
			e.tentative[a] = n - 1
			return
		}
		delete(e.tentative, a)
		e.kick(a)
	})
}

// route sends the recipient to the first of its addresses, in MX order,
// that is not known to be down; past the last one, to the fallback MX, or
// it is deferred.
func (r *rcpt) route() {
	e := r.j.e
	if e.stopping {
		r.finish(outcomeShutdown())
		return
	}
	if r.j.expired {
		r.finish(outcomeDeadline(e.cfg.MessageTimeout.String()))
		return
	}
	for mx := r.dom.mx; int(r.pos) < len(mx); {
		h := mx[r.pos]
		if int(r.apos) >= len(h.Addrs) {
			r.nextHost()
			continue
		}
		addr := h.Addrs[r.apos].Addr
		if fam := e.cfg.Family; fam != 0 && addr.Is4() != (fam == 4) {
			r.next() // -N: not an address of the family asked for
			continue
		}
		d := e.dest(h.Name, addr)
		if d.reachable() {
			d.add(r)
			return
		}
		r.lastErr = d.downReason()
		r.next()
	}
	if !r.is(rcptFellBack) && e.cfg.Fallback != "" {
		r.set(rcptFellBack)
		e.withFallback(func(fb *MXResult) {
			if r.is(rcptDone) {
				return
			}
			if fb.Fail != nil {
				r.lastErr = "fallback " + e.cfg.Fallback + ": " + fb.Fail.Text
				r.route()
				return
			}
			r.fallBack(fb.Hosts)
			r.route()
		})
		return
	}
	r.finish(outcomeUnreachable(r.dom.name, r.lastErr))
}

// finish gives the recipient its one answer.
func (r *rcpt) finish(o Outcome) {
	if r.is(rcptDone) {
		return
	}
	r.settle()
	r.set(rcptDone)
	mx := r.hosts()
	for _, h := range mx[min(int(r.pos), len(mx)):] {
		for _, a := range h.Addrs {
			r.j.e.release(a.Addr)
		}
	}
	r.j.answered(r, o)
}

// release drops one reason to keep addr's connection.
func (e *Engine) release(addr netip.Addr) {
	if n := e.needs[addr]; n > 1 {
		e.needs[addr] = n - 1
	} else {
		delete(e.needs, addr)
	}
}

// withFallback runs f with the fallback MX's hosts, looking them up once.
func (e *Engine) withFallback(f func(*MXResult)) {
	if e.fallback != nil {
		f(e.fallback)
		return
	}
	name := strings.TrimSuffix(e.cfg.Fallback, ".")
	e.lookups++
	e.res.LookupMX(name, func(res MXResult) {
		if res.Fail == nil {
			hosts, self := e.dropSelf(res.Hosts)
			if len(hosts) == 0 && self != "" {
				res.Fail = &Failure{FailLoop, fmt.Sprintf("mail for %s loops back to myself (%s is this host)", name, self)}
			}
			res.Hosts = hosts
		}
		e.fallback = &res
		f(&res)
		e.lookups--
		if e.lookups == 0 {
			e.lookupsDone()
		}
	})
}
