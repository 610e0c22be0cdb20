package smtpfeed

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// The routing rules, in one place: when a destination may start, when a
// recipient moves to the next address or MX host and joins what is bound
// there (regrouping, paper §3.2), and when it falls back to -m. The idle
// connection that goes at the limit is pool.victim's choice, by plan's
// needed.
//
// A destination with waiting recipients and no connection starts as soon
// as nothing running can add recipients to it: no MX lookup still running
// (any may name its address) and no connect in flight whose failure would
// send recipients there (a hold, see rcpt.tentative), or as soon as it
// has a full transaction's worth, which more recipients cannot make
// fewer transactions of. Otherwise it waits for the grace period, longer
// while lookups are still being answered (gathering: a grace period with
// no answer ends the wait), and never longer than Gather: there is no
// global barrier on the lookups, so a silent name server costs the other
// hosts a retransmission timeout (the resolver stalls: lookupsQuiet), a
// slow one a grace period, and a long list's stream of answers Gather at
// most, not a timeout.

// plan owns the counters the routing rules read, changed only through
// its named transitions.
type plan struct {
	e       *Engine
	lookups int                // MX lookups running, across messages
	lastEnd time.Time          // when a lookup last ended: answers still coming
	needs   map[netip.Addr]int // undecided recipients that may still go to each address
	// held counts, per address, recipients waiting on a connection not
	// yet established whose failure would send them there.
	held      map[netip.Addr]int
	kicks     []netip.Addr // addresses whose hold ended, started at the end of the pass
	kickTimer *reactor.Timer
	// start opens a destination's connection (dest.start); a test may
	// stand in for it.
	start func(d *dest)
}

func newPlan(e *Engine) plan {
	return plan{e: e, needs: make(map[netip.Addr]int), held: make(map[netip.Addr]int), start: (*dest).start}
}

// lookupsStarted counts n MX lookups begun.
func (p *plan) lookupsStarted(n int) { p.lookups += n }

// lookupEnded counts one MX lookup done; the last one lets every waiting
// destination that nothing holds start.
func (p *plan) lookupEnded() {
	p.lookups--
	p.lastEnd = p.e.loop.Now()
	if p.lookups == 0 {
		p.lookupsDone()
	}
}

// need and release count the recipients that may still go to addr: a
// reason to keep its idle connection (needed).
func (p *plan) need(addr netip.Addr) { p.needs[addr]++ }

func (p *plan) release(addr netip.Addr) {
	if n := p.needs[addr]; n > 1 {
		p.needs[addr] = n - 1
	} else {
		delete(p.needs, addr)
	}
}

// needed reports a pending recipient that may still go to addr.
func (p *plan) needed(addr netip.Addr) bool { return p.needs[addr] > 0 }

// hold and unhold count the connects in flight whose failure would send
// a recipient to addr; the last unhold starts addr's destination, if it
// waits, at the end of the pass.
func (p *plan) hold(addr netip.Addr) { p.held[addr]++ }

func (p *plan) unhold(addr netip.Addr) {
	if n := p.held[addr]; n > 1 {
		p.held[addr] = n - 1
		return
	}
	delete(p.held, addr)
	p.kick(addr)
}

// isHeld reports a connect in flight that may still send recipients to addr.
func (p *plan) isHeld(addr netip.Addr) bool { return p.held[addr] > 0 }

// canStart reports that nothing running can add recipients to addr soon:
// no lookup with an answer due (lookupsQuiet), and no connect whose
// failure would send recipients there.
func (p *plan) canStart(addr netip.Addr) bool { return p.lookupsQuiet() && !p.isHeld(addr) }

// lookupsQuiet reports no lookup running, or none with an answer due:
// the resolver has stalled on silent or slow name servers, whose answers
// (if any come) are a retransmission timeout away, and waiting a grace
// period for them costs the other hosts without grouping anything.
func (p *plan) lookupsQuiet() bool {
	return p.lookups == 0 || p.e.res != nil && p.e.res.Stalled()
}

// lookupsStalled is the resolver's stall hook: as if the last lookup had
// ended, every waiting destination that nothing holds starts.
func (p *plan) lookupsStalled() {
	if p.lookups > 0 {
		p.lookupsDone()
	}
}

// wait decides when d, which has waiting recipients and no connection,
// starts: now if nothing running can add to it or it has a full
// transaction, else when nothing can (lookupsDone, kick) or its grace
// ends (graceOver), whichever is first.
func (p *plan) wait(d *dest) {
	switch {
	case p.canStart(d.addr) || len(d.waiting) >= p.e.txnRcpts():
		p.start(d)
	case d.grace == nil:
		now := p.e.loop.Now()
		d.since = now
		d.grace = p.e.loop.AddTimer(now.Add(p.e.cfg.Grace), func(now time.Time) { p.graceOver(d, now) })
	}
}

// graceOver starts d unless lookups are still being answered (one ended
// within the last grace period) and d has gathered for less than Gather,
// or the resolver still holds queries back (its window's backlog: the
// answers that decide d's recipients are queued here, not slow): then it
// waits for the next quiet grace period, or Gather, whichever is first.
func (p *plan) graceOver(d *dest, now time.Time) {
	quiet := p.lastEnd.Add(p.e.cfg.Grace)
	limit := d.since.Add(p.e.cfg.Gather)
	backlog := p.e.res != nil && p.e.res.Backlogged()
	if p.lookups > 0 && now.Before(quiet) && (now.Before(limit) || backlog) {
		if limit.Before(quiet) && !backlog {
			quiet = limit
		}
		p.e.loop.ResetTimer(d.grace, quiet)
		return
	}
	p.start(d)
}

// lookupsDone is called when the last running lookup ends: every waiting
// destination that no pending connect can still add recipients to starts
// now. Destinations that are nobody's later choice start first, so that
// their connects hold the hosts their recipients would fall back to;
// which destination the map yields first must not decide that.
func (p *plan) lookupsDone() {
	later := make(map[netip.Addr]bool)
	for _, d := range p.e.dests {
		if len(d.waiting) > 0 && len(d.lanes) == 0 {
			for _, r := range d.waiting {
				r.later(func(a netip.Addr) { later[a] = true })
			}
		}
	}
	var second []*dest
	for _, d := range p.e.dests {
		switch {
		case len(d.waiting) == 0 || len(d.lanes) > 0:
		case later[d.addr]:
			second = append(second, d)
		case !p.isHeld(d.addr):
			p.start(d)
		}
	}
	for _, d := range second {
		if len(d.waiting) > 0 && len(d.lanes) == 0 && !p.isHeld(d.addr) {
			p.start(d)
		}
	}
}

// kick starts addr's destination, if it waits, once the current handler
// is done: holds end in the middle of moving recipients around.
func (p *plan) kick(addr netip.Addr) {
	if d := p.e.dests[addr]; d == nil || len(d.waiting) == 0 || len(d.lanes) > 0 {
		return
	}
	p.kicks = append(p.kicks, addr)
	if p.kickTimer == nil || !p.kickTimer.Pending() {
		p.kickTimer = p.e.loop.Later(p.runKicks)
	}
}

func (p *plan) runKicks(time.Time) {
	kicks := p.kicks
	p.kicks = nil
	for _, a := range kicks {
		if d := p.e.dests[a]; d != nil && len(d.waiting) > 0 && len(d.lanes) == 0 && p.canStart(a) {
			p.start(d)
		}
	}
}

// add queues a recipient at d. Lanes open take it at the end of the
// pass (recipients routed in the same pass share one envelope); with
// none, plan.wait says when the first connection starts.
func (d *dest) add(r *rcpt) {
	if d.raced && d.connecting() && d.race1(r) {
		return // the connect outlived its race delay: on to the next address
	}
	d.waiting = append(d.waiting, r)
	if d.connecting() {
		r.tentative()
	}
	if len(d.lanes) == 0 {
		d.e.plan.wait(d)
		return
	}
	// A lane still connecting or in a transaction takes what came
	// meanwhile when it is idle (idled): queued at once, each pass's few
	// recipients of a lookup still running made an envelope of their
	// own. An idle one takes it once the pass is over, as does a new
	// lane when the work outgrows the busy ones.
	if (d.pending == nil || !d.pending.Pending()) && d.dispatchable() {
		d.pending = d.e.loop.Later(func(time.Time) { d.dispatch() })
	}
}

// setHosts starts the recipient at the top of its domain's MX list; each
// address it may still go to counts as a reason to keep that address's
// connection open.
func (r *rcpt) setHosts() {
	r.pos, r.apos = 0, 0
	for _, h := range r.dom.mx {
		for _, a := range h.Addrs {
			r.j.e.plan.need(a.Addr)
		}
	}
}

// fallBack moves the recipient to the fallback MX's hosts, which every
// recipient of its domain that falls back shares.
func (r *rcpt) fallBack(hosts []MailHost) {
	d := r.dom
	if d.fellBack == nil {
		d.fellBack = &rcptDomain{name: d.name, tls: d.tls, mx: hosts}
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
		r.j.e.plan.release(a.Addr)
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
	r.later(r.j.e.plan.hold)
}

// settle ends the hold of tentative.
func (r *rcpt) settle() {
	if !r.is(rcptTentative) {
		return
	}
	r.clear(rcptTentative)
	r.later(r.j.e.plan.unhold)
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
		r.hostFailed(d.downReason())
		r.next()
	}
	if !r.is(rcptFellBack) && e.cfg.Fallback != "" {
		r.set(rcptFellBack)
		e.withFallback(func(fb *MXResult) {
			if r.is(rcptDone) {
				return
			}
			if fb.Fail != nil {
				r.hostFailed("fallback " + e.cfg.Fallback + ": " + fb.Fail.Text)
				r.route()
				return
			}
			r.fallBack(fb.Hosts)
			r.route()
		})
		return
	}
	r.finish(r.noHostLeft())
}

// withFallback runs f with the fallback MX's hosts, looking them up once.
func (e *Engine) withFallback(f func(*MXResult)) {
	if e.fallback != nil {
		f(e.fallback)
		return
	}
	name := strings.TrimSuffix(e.cfg.Fallback, ".")
	e.plan.lookupsStarted(1)
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
		e.plan.lookupEnded()
	})
}

// unreachable sends every waiting recipient on to its host's next
// address or its next MX host.
func (d *dest) unreachable() {
	rs := d.waiting
	d.waiting = nil
	why := d.downReason()
	for _, r := range rs {
		if r.is(rcptDone) {
			continue
		}
		r.hostFailed(why)
		r.next()
		r.route()
	}
}

// failed handles a recipient whose connection failed before its fate was
// known. A connection that had carried transactions before may just have
// gone stale while idle: its recipients try once more on a fresh one.
// Otherwise the address goes into the reachability cache and the
// recipient moves on: to the host's next address, or to its next MX,
// joining whatever is already bound there (regrouping, paper §3.2).
func (d *dest) failed(l *lane, r *rcpt, err error) {
	c := l.conn
	var policy *TLSPolicyError
	if errors.As(err, &policy) {
		// Not the host's fault, and the connection goes on for others:
		// the recipient alone moves on to a host that may meet its policy.
		r.policyRefused(fmt.Sprintf("%s: %v", relayName(d.name, c), err))
		r.next()
		r.route()
		return
	}
	if rep, ok := d.throttledSession(l, err); ok {
		// Refused for load: the recipient waits at this host for the
		// back-off (throttle.go), not for the next MX.
		relay := relayName(d.name, c)
		if slices.Contains(d.lanes, l) {
			if ce := (*smtp.ConnError)(nil); errors.As(err, &ce) && ce.AtMail() {
				d.flow.refusedMail(l.txns)
			}
			d.flow.throttled(fmt.Sprintf("%s said %s", relay, rep), false)
			d.detach(l)
		}
		d.retry(r, outcomeThrottled(relay, rep))
		return
	}
	r.hostFailed(fmt.Sprintf("%s: %s", relayName(d.name, c), errText(err)))
	if errors.Is(err, ErrTLSHandshake) {
		// Retried once in plaintext on a new connection; the host gets
		// plaintext for a while (Postfix's level may does the same).
		if d.detach(l) {
			d.e.markTLSBroken(d, errText(err))
		}
		if !r.j.expired {
			d.add(r)
			return
		}
	}
	enhanced, local := localFault(err)
	if d.detach(l) && !l.carried && !local && !d.established() {
		// The lane's first failure, and no other lane shows the host
		// answers: into the reachability cache.
		d.e.markDown(d.addr, errText(err))
	}
	if r.j.expired {
		r.finish(outcomeDeadline(d.e.cfg.MessageTimeout.String()))
		return
	}
	if l.carried && !r.is(rcptRetried) {
		r.set(rcptRetried)
		d.add(r)
		return
	}
	if local {
		// Not the remote host's fault, so it is not marked down, and
		// routing again would pick it again: answered here instead.
		r.finish(outcomeLocal(enhanced, errors.New(r.lastErr)))
		return
	}
	if !d.reachable() {
		r.next()
	}
	r.route()
}
