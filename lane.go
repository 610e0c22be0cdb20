package smtpfeed

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// lane is one connection of a destination and the envelopes it carries.
type lane struct {
	d    *dest
	conn *Conn
	// carried: the connection has finished a transaction, so a failure
	// may be a stale connection rather than a dead host.
	carried bool
	ready   bool      // the session got ready (greeting, EHLO, TLS)
	txns    int       // SMTP transactions begun (-reuse-limit)
	started time.Time // when its connect began
	// inflight are the envelopes handed to conn and not yet settled, in
	// the order handed, which is the order it runs them in.
	inflight []*envelope
	idle     *reactor.Timer
	race     *reactor.Timer // the first connect's race delay (dest.raceFired)
}

// open dials a new lane, its pool slot already taken. A failure gives
// the slot back: the first lane's failure moves the recipients on, an
// extra lane's leaves them to the lanes open.
func (d *dest) open() *lane {
	e := d.e
	l := &lane{d: d}
	cfg := ConnConfig{SMTP: e.cfg.SMTP, ConnectTimeout: e.cfg.ConnectTimeout, Lifetime: e.cfg.ConnLifetime,
		Source: e.cfg.Source, ReadBuf: e.readBuf}
	err := e.connTLS(&cfg, d)
	var c *Conn
	if err == nil {
		c, err = DialSMTP(e.loop, d.name, netip.AddrPortFrom(d.addr, e.cfg.Port), cfg,
			ConnHandlers{Opened: l.opened, Results: l.results, Idle: l.idled, Closed: l.closed, Began: l.began})
	}
	if err != nil {
		e.pool.release()
		if len(d.lanes) > 0 {
			return nil
		}
		if enhanced, local := localFault(err); local {
			d.localFailure(enhanced, err)
			return nil
		}
		e.markDown(d.addr, err.Error())
		d.unreachable()
		return nil
	}
	e.stats.Connections++
	l.conn, l.started = c, e.loop.Now()
	d.lanes = append(d.lanes, l)
	e.stats.PeakHostLanes = max(e.stats.PeakHostLanes, d.flow.open())
	if len(d.lanes) == 1 {
		d.raced = false
		l.race = e.loop.AddTimer(l.started.Add(min(d.raceDelay(), MinRaceDelay)), l.raceFired)
	}
	if e.tls.strict {
		c.SetAdmit(func(tx *smtp.Envelope, i int) error {
			k := l.envelopeOf(tx)
			if k < 0 {
				return nil
			}
			b := l.inflight[k]
			return e.admit(c, &b.j.rcpts[b.rcpts[i]])
		})
	}
	return l
}

// available reports an idle lane that may take more work.
func (l *lane) available() bool { return l.conn.Idle() && l.conn.Reusable() && !l.spent() }

// detach takes l off its destination's lanes, reporting whether it was
// still there: a failing connection takes no more work.
func (d *dest) detach(l *lane) bool {
	k := slices.Index(d.lanes, l)
	if k < 0 {
		return false
	}
	d.lanes = slices.Delete(d.lanes, k, k+1)
	return true
}

// established reports a lane of d whose connect succeeded.
func (d *dest) established() bool {
	for _, l := range d.lanes {
		if !l.conn.Connecting() {
			return true
		}
	}
	return false
}

// take hands the first n waiting recipients to the lane: one envelope
// per message (per domain too with -2); the client splits each into SMTP
// transactions of at most R recipients, run one after another.
func (l *lane) take(n int) {
	d := l.d
	if n <= 0 {
		return
	}
	if l.idle != nil {
		d.e.loop.StopTimer(l.idle)
	}
	rs := d.waiting[:n]
	d.waiting = d.waiting[n:]
	if len(d.waiting) == 0 {
		d.waiting = nil // let the array go
	}
	envs := d.group(rs)
	for _, b := range envs {
		for _, i := range b.rcpts {
			b.j.rcpts[i].set(rcptInConn)
		}
	}
	for _, b := range envs {
		l.inflight = append(l.inflight, b)
		d.e.stats.Envelopes++
		if l.carried {
			d.e.stats.Reused++
		}
		l.conn.Add(&b.env)
	}
}

// envelopeOf finds the envelope a result is for. The connection runs
// envelopes in the order handed to it, so it is nearly always the first.
func (l *lane) envelopeOf(tx *smtp.Envelope) int {
	for k, b := range l.inflight {
		if &b.env == tx {
			return k
		}
	}
	return -1
}

// opened: the connect succeeded, so the recipients waiting on the host
// no longer hold the addresses they would fall back to.
func (l *lane) opened(c *Conn) {
	d := l.d
	if l.race != nil {
		d.e.loop.StopTimer(l.race)
	}
	d.e.connects.sample(d.e.loop.Now().Sub(l.started))
	d.raced = false
	for _, b := range l.inflight {
		for _, i := range b.rcpts {
			b.j.rcpts[i].settle()
		}
	}
	for _, r := range d.waiting {
		r.settle()
	}
}

// began counts SMTP transactions, and the connection as TLS or
// plaintext at its first.
func (l *lane) began(c *Conn, n int) {
	l.txns += n
	s := &l.d.e.stats
	s.Transactions += n
	if c.began {
		return
	}
	c.began = true
	if c.TLS() == nil {
		s.Plaintext++
		return
	}
	s.TLS++
	took, cpu := c.Handshake()
	s.HandshakeTime += took
	s.HandshakeCPU += cpu
}

// results takes the fates the connection reports.
func (l *lane) results(c *Conn, rs []smtp.Result) {
	d := l.d
	relay := relayName(d.name, c)
	// The recipients of one SMTP transaction share its verdict: one outcome
	// (and one text) for all of them, not one string per recipient.
	type verdict struct {
		status   smtp.Status
		code     int
		first    string
		verified string
		noDSN    bool // outcomeRelayedNoDSN
	}
	var memo map[verdict]Outcome
	throttled, delivered := false, false
	for _, res := range rs {
		k := l.envelopeOf(res.Env)
		if k < 0 {
			continue
		}
		b := l.inflight[k]
		b.results++
		if b.results == len(b.rcpts) {
			l.inflight = slices.Delete(l.inflight, k, k+1)
		}
		r := &b.j.rcpts[b.rcpts[res.Rcpt]]
		r.clear(rcptInConn)
		if r.is(rcptDone) {
			continue
		}
		if res.Status == smtp.NextHost && errors.Is(res.Err, smtp.ErrWithdrawn) {
			r.finish(outcomeDeadline(d.e.cfg.MessageTimeout.String()))
			continue
		}
		if res.Status == smtp.Deferred && res.Err == nil && !res.PossibleDuplicate && throttling(res.Reply) {
			if !throttled {
				throttled = true // one reply group, one throttle
				d.flow.throttled(fmt.Sprintf("%s said %s", relay, res.Reply), true)
			}
			o := outcomeOf(res, relay)
			o.TLS, o.Verified = travel(c, r)
			d.retry(r, o)
			continue
		}
		delivered = delivered || res.Status == smtp.Delivered
		if res.Status != smtp.NextHost {
			tlsText, verified := travel(c, r)
			noDSN := res.Status == smtp.Delivered && !c.Extensions().DSN && r.wantsSuccess()
			if res.Err != nil || res.PossibleDuplicate || len(res.Reply.Lines) == 0 {
				o := outcomeAt(res, relay, noDSN)
				o.TLS, o.Verified = tlsText, verified
				r.finish(o)
				continue
			}
			k := verdict{res.Status, res.Reply.Code, res.Reply.Lines[0], verified, noDSN}
			o, ok := memo[k]
			if !ok {
				if memo == nil {
					memo = make(map[verdict]Outcome)
				}
				o = outcomeAt(res, relay, noDSN)
				o.TLS, o.Verified = tlsText, verified
				memo[k] = o
			}
			r.finish(o)
			continue
		}
		d.failed(l, r, res.Err)
	}
	if delivered && !throttled {
		d.flow.delivered()
	}
}

func errText(err error) string {
	if err == nil {
		return "connection closed"
	}
	return err.Error()
}

// idled: the connection finished what it had. More recipients go on it at
// once; otherwise it waits, read-watched, while anything may still need
// the host, and for later messages up to the idle time.
func (l *lane) idled(c *Conn) {
	d := l.d
	if !slices.Contains(d.lanes, l) {
		return
	}
	if c.began {
		l.carried = true // not at the first idle: the session is just ready
	}
	if !l.ready {
		l.ready = true
		d.flow.ready()
	}
	if l.spent() {
		c.Quit() // -reuse-limit: a new lane takes what waits
		return
	}
	if len(d.waiting) > 0 {
		d.dispatch()
		if !c.Idle() {
			return
		}
	}
	if d.e.pool.wanted() {
		// Hosts wait for a slot: at the limit the idle connection least
		// needed, oldest first, makes room (paper §3.3). Keeping it for a
		// recipient that may come back to it would deadlock the pool when
		// that recipient is itself waiting for a slot.
		if v := d.e.pool.victim(); v != nil {
			v.conn.Quit()
			if v == l {
				return
			}
		}
	}
	d.e.pool.wentIdle(l)
	if l.idle == nil {
		l.idle = d.e.loop.AddTimer(c.LastUsed.Add(d.e.cfg.IdleTime), l.idleExpired)
		return
	}
	d.e.loop.ResetTimer(l.idle, c.LastUsed.Add(d.e.cfg.IdleTime))
}

func (l *lane) idleExpired(now time.Time) {
	c, d := l.conn, l.d
	if !c.Idle() || !slices.Contains(d.lanes, l) {
		return // busy again, or failing (its close stops this timer)
	}
	// Kept while a pending recipient may still use the host: one that
	// has it in its MX list, or one whose domain is still being looked
	// up (closed meanwhile, it was opened again for the late domains).
	// A destination's extra lanes go: its first serves what comes.
	if d.lanes[0] == l && (d.e.plan.needed(d.addr) || d.e.plan.lookups > 0) {
		d.e.loop.ResetTimer(l.idle, now.Add(d.e.cfg.IdleTime))
		return
	}
	c.Quit()
}

// closed: the socket is gone and its slot is free.
func (l *lane) closed(c *Conn, err error) {
	d := l.d
	if l.race != nil {
		d.e.loop.StopTimer(l.race)
	}
	if l.idle != nil {
		d.e.loop.StopTimer(l.idle)
	}
	if slices.Contains(d.lanes, l) && err != nil && !l.carried {
		_, local := localFault(err)
		switch {
		case len(d.lanes) == 1 && len(d.waiting) > 0:
			// The session failed before it carried anything: the
			// recipients waiting for it to be ready fail with it, as
			// those it held do (failed takes the lane off and records
			// the host).
			rs := d.waiting
			d.waiting = nil
			for _, r := range rs {
				if !r.is(rcptDone) {
					d.failed(l, r, err)
				}
			}
		case errors.Is(err, ErrTLSHandshake):
			// Nobody was left to fail with it (the race sent them on): a
			// failed handshake is recorded all the same.
			d.detach(l)
			d.e.markTLSBroken(d, errText(err))
		default:
			// A lane refused for load narrows the host's window; a
			// connect that failed while no other lane was open puts
			// the host in the reachability cache.
			if rep, ok := d.throttledSession(l, err); ok {
				d.flow.throttled(fmt.Sprintf("%s said %s", relayName(d.name, c), rep), false)
			} else if d.refusedUnderLoad(l, err) {
				d.flow.throttled(fmt.Sprintf("%s: %v with %d other connections open", relayName(d.name, c), err, len(d.lanes)-1), false)
			}
			d.detach(l)
			if !local && c.Opened.IsZero() && !d.established() {
				d.e.markDown(d.addr, errText(err))
			}
		}
	}
	d.detach(l)
	d.e.pool.release()
	if len(d.waiting) > 0 {
		d.start()
	}
	d.e.forgetIfUnused(d)
}
