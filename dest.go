package smtpfeed

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// dest is one mail server address and its connections (lanes, lane.go):
// recipients of every message and every domain whose current MX host is
// there wait here and share its transactions (piggybacking, paper §3.2).
// Keying by address rather than by name lets domains share a server
// whatever name their MX records (or their own A records, for an
// implicit MX) call it by. One lane serves a destination until its
// queued work outgrows it; flow (flow.go) decides how many it may have.
type dest struct {
	e       *Engine
	name    string     // the first MX name seen for the address, for logs
	addr    netip.Addr // where it connects
	waiting []*rcpt    // not yet handed to a lane
	lanes   []*lane    // open or opening connections, oldest first
	// raced: the first connect outlived the race delay; recipients
	// arriving while it is still unanswered go on to their next
	// address at once.
	raced   bool
	grace   *reactor.Timer
	since   time.Time      // when the grace began: the gathering's start
	pending *reactor.Timer // the end-of-pass dispatch
	queued  bool           // waiting in the pool for a connection slot
	flow    *flow          // the MX host's concurrency, shared by its addresses
	// downWhy is the reachability cache's reason downText was made from.
	downWhy, downText string
}

// envelope is one message for the recipients that share this host, as
// handed to a lane (whose client splits it into SMTP transactions of at
// most -R recipients), and those recipients.
type envelope struct {
	env     smtp.Envelope
	j       *delivery
	rcpts   []int32 // indexes into j.rcpts, in env.Rcpts order
	results int
}

// reachable reports whether the address has a connection or is not
// known to be down.
func (d *dest) reachable() bool { return len(d.lanes) > 0 || !d.e.isDown(d.addr) }

// connecting reports a destination whose every lane is still connecting:
// nothing has shown the host answers yet.
func (d *dest) connecting() bool {
	for _, l := range d.lanes {
		if !l.conn.Connecting() {
			return false
		}
	}
	return len(d.lanes) > 0
}

// downReason says why the address is skipped. Every recipient that
// skips it keeps the text until its answer, so they share one string,
// made again only when the reachability cache's reason changes.
func (d *dest) downReason() string {
	why := "failed"
	if down, ok := d.e.down.IsDown(d.addr, d.e.loop.Now()); ok {
		why = down.Why
	}
	if why != d.downWhy || d.downText == "" {
		d.downWhy, d.downText = why, fmt.Sprintf("%s[%s]: %s", d.name, d.addr, why)
	}
	return d.downText
}

// start opens the first connection for the waiting recipients, or hands
// them to the lanes open.
func (d *dest) start() {
	if d.grace != nil {
		d.e.loop.StopTimer(d.grace)
		d.grace = nil
	}
	if len(d.waiting) == 0 || d.queued {
		return
	}
	if len(d.lanes) > 0 {
		d.dispatch()
		return
	}
	if d.flow.backingOff() {
		return // started again when the back-off ends
	}
	if d.e.isDown(d.addr) {
		d.unreachable()
		return
	}
	if !d.e.pool.acquire(d) {
		return // started again when a slot frees
	}
	l := d.open()
	if l == nil {
		return
	}
	// Only a connect in flight holds the later hosts of its recipients:
	// recipients merely waiting would let two hosts that are each other's
	// second MX hold each other for ever.
	for _, r := range d.waiting {
		r.tentative()
	}
	// The recipients wait until the session is ready (idled): those
	// that arrive during the connect, the greeting, EHLO and TLS join
	// the same envelope rather than make a second transaction.
}

// dispatch hands waiting recipients to the idle lanes, each its share
// (flow.go's quota), and opens another lane when work is left that the
// lanes open would not finish soon and the flow allows one.
func (d *dest) dispatch() {
	if len(d.waiting) == 0 || d.flow.holding() {
		return
	}
	idle := 0
	for _, l := range d.lanes {
		if l.available() {
			idle++
		}
	}
	for _, l := range slices.Clone(d.lanes) { // a lane whose write fails goes at once
		if len(d.waiting) == 0 {
			return
		}
		if l.available() {
			l.take(d.quota(l, idle))
			idle--
		}
	}
	d.grow()
}

// dispatchable reports that dispatch could do something now: a lane is
// idle, or the waiting work is more than enough for the lanes open.
func (d *dest) dispatchable() bool {
	for _, l := range d.lanes {
		if l.available() {
			return true
		}
		if l.ready {
			if _, enough := d.share(l); len(d.waiting) > enough {
				return true
			}
		}
	}
	return false
}

// localFailure answers the waiting recipients when this host could not
// open the connection (out of descriptors, a source address it does not
// have): trying the next address would fail alike, and the remote host is
// not to blame, so nothing goes into the reachability cache.
func (d *dest) localFailure(enhanced string, err error) {
	rs := d.waiting
	d.waiting = nil
	o := outcomeLocal(enhanced, err)
	for _, r := range rs {
		r.finish(o)
	}
	d.e.forgetIfUnused(d)
}

// group sorts the recipients not yet answered into envelopes, in order
// of first appearance. It counts each envelope's recipients
// first, so that the lists held until the verdict are made at their
// size rather than grown.
func (d *dest) group(rs []*rcpt) []*envelope {
	type groupKey struct {
		j      *delivery
		domain string
	}
	index := map[groupKey]int{}
	var envs []*envelope
	var sizes []int
	which := make([]int, len(rs)) // each recipient's envelope; -1: answered
	for k, r := range rs {
		which[k] = -1
		if r.is(rcptDone) { // answered while waiting: deadline, drain, cancel
			continue
		}
		key := groupKey{j: r.j}
		if d.e.cfg.Apart {
			key.domain = r.dom.name
		}
		n, ok := index[key]
		if !ok {
			n = len(envs)
			index[key] = n
			envs = append(envs, &envelope{j: r.j})
			sizes = append(sizes, 0)
		}
		sizes[n]++
		which[k] = n
	}
	for n, b := range envs {
		b.env = smtp.Envelope{From: b.j.from, Msg: b.j.msg, SMTPUTF8: b.j.utf8, Ret: b.j.ret, EnvID: b.j.envID, Rcpts: make([]smtp.Recipient, 0, sizes[n]),
			VERP: d.e.cfg.VERP, Trace: b.j.trace}
		b.rcpts = make([]int32, 0, sizes[n])
	}
	for k, r := range rs {
		if n := which[k]; n >= 0 {
			b := envs[n]
			b.env.Rcpts = append(b.env.Rcpts, smtp.Recipient{Addr: r.addr(), DSN: r.dsn()})
			b.rcpts = append(b.rcpts, r.i)
		}
	}
	return envs
}

// raceFired: the first connect (l) is still unanswered after the race
// delay. The timer first fires at MinRaceDelay and is set again while
// the delay, which the connects completing meanwhile may shorten, has
// not passed. The recipients waiting on it that have another address to
// go to go there now, alongside it (paper §3.2's regrouping, started
// early); those with none keep waiting. The connect goes on: if it fails
// it is recorded in the reachability cache as before; if it succeeds the
// host serves what comes to it next.
func (l *lane) raceFired(now time.Time) {
	d := l.d
	if !d.connecting() {
		return
	}
	if at := l.started.Add(d.raceDelay()); now.Before(at) {
		d.e.loop.ResetTimer(l.race, at)
		return
	}
	d.raced = true
	d.e.stats.Raced++
	rs := d.waiting
	d.waiting = nil
	for _, r := range rs {
		if !r.is(rcptDone) && !d.race1(r) {
			d.waiting = append(d.waiting, r)
		}
	}
}

// raceDelay is how long the first connect waits before its recipients
// also try their next address: MinRaceDelay when that is the same
// host over the other family (Happy Eyeballs, RFC 8305), else what the
// connects seen make of RaceDelay (connectrtt.go).
func (d *dest) raceDelay() time.Duration {
	delay := raceDelayFrom(&d.e.connects, d.e.cfg.RaceDelay)
	for _, r := range d.waiting {
		if r.dom == nil || r.is(rcptDone) {
			continue
		}
		if addrs := r.dom.mx[r.pos].Addrs; int(r.apos)+1 < len(addrs) && addrs[r.apos+1].Addr.Is4() != d.addr.Is4() {
			return min(delay, MinRaceDelay)
		}
		break // the recipients of a host share its list, mostly: the first says
	}
	return delay
}

// race1 sends r on to its next address if it has one, reporting whether
// it went.
func (d *dest) race1(r *rcpt) bool {
	later := false
	r.later(func(netip.Addr) { later = true })
	if !later && (r.is(rcptFellBack) || d.e.cfg.Fallback == "") {
		return false
	}
	waited := d.e.loop.Now().Sub(d.lanes[0].started).Round(time.Millisecond)
	r.hostFailed(fmt.Sprintf("%s[%s]: connect unanswered after %v", d.name, d.addr, waited))
	r.next()
	r.route()
	return true
}

// inflight calls f for every envelope a lane holds, with its lane.
func (d *dest) inflight(f func(l *lane, b *envelope)) {
	for _, l := range d.lanes {
		for _, b := range l.inflight {
			f(l, b)
		}
	}
}

// unused reports a destination nothing refers to any more: no
// connection, no recipient waiting or in flight or still listing its
// address, no timer, no place in the pool's queue.
func (d *dest) unused() bool {
	return len(d.lanes) == 0 && len(d.waiting) == 0 && !d.queued &&
		!pending(d.grace) && !pending(d.pending) &&
		!d.e.plan.needed(d.addr) && !d.e.plan.isHeld(d.addr)
}

func pending(t *reactor.Timer) bool { return t != nil && t.Pending() }

// forgetIfUnused drops d once unused, so that a long-lived listener's
// table holds the hosts in use rather than every host ever reached.
func (e *Engine) forgetIfUnused(d *dest) {
	if e.dests[d.addr] == d && d.unused() {
		delete(e.dests, d.addr)
		d.flow.leave(d)
	}
}

// forgetUnused sweeps the destinations when a message ends: those its
// recipients only skipped (down, or answered before a connect) have no
// connection to close and are dropped here.
func (e *Engine) forgetUnused() {
	for _, d := range e.dests {
		e.forgetIfUnused(d)
	}
}
