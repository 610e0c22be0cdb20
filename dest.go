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

// dest is one mail server address and its one connection: recipients of
// every message and every domain whose current MX host is there wait here
// and share its transactions (piggybacking, paper §3.2). Keying by address
// rather than by name lets domains share a server whatever name their MX
// records (or their own A records, for an implicit MX) call it by.
type dest struct {
	e       *Engine
	name    string     // the first MX name seen for the address, for logs
	addr    netip.Addr // where it connects
	waiting []*rcpt    // not yet handed to the connection
	conn    *Conn
	carried bool // conn has finished a transaction: a failure may be a stale connection
	// inflight are the envelopes handed to conn and not yet settled,
	// in the order handed, which is the order it runs them in.
	inflight []*envelope
	grace    *reactor.Timer
	idle     *reactor.Timer
	race     *reactor.Timer // the connect's race delay (raceFired)
	// raced: the connect outlived the race delay; recipients arriving
	// while it is still unanswered go on to their next address at once.
	raced   bool
	pending *reactor.Timer // the end-of-pass flush
	queued  bool           // waiting in the pool for a connection slot
	// downWhy is the reachability cache's reason downText was made from.
	downWhy, downText string
}

// envelope is one message for the recipients that share this host, as
// handed to the connection (which splits it into SMTP transactions of at
// most -R recipients), and those recipients.
type envelope struct {
	env     smtp.Envelope
	j       *delivery
	rcpts   []int32 // indexes into j.rcpts, in env.Rcpts order
	results int
}

// reachable reports whether the address has an open connection or is not
// known to be down.
func (d *dest) reachable() bool { return d.conn != nil || !d.e.isDown(d.addr) }

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

// start opens a connection for the waiting recipients, or hands them to
// the open one.
func (d *dest) start() {
	if d.grace != nil {
		d.e.loop.StopTimer(d.grace)
		d.grace = nil
	}
	if len(d.waiting) == 0 || d.queued {
		return
	}
	if d.conn != nil {
		if d.conn.Idle() {
			d.flush()
		}
		return // a session not yet ready takes its recipients when it is (idled)
	}
	if d.e.isDown(d.addr) {
		d.unreachable()
		return
	}
	if !d.e.pool.acquire(d) {
		return // started again when a slot frees
	}
	e := d.e
	cfg := ConnConfig{SMTP: e.cfg.SMTP, ConnectTimeout: e.cfg.ConnectTimeout, Lifetime: e.cfg.ConnLifetime,
		Source: e.cfg.Source, ReadBuf: e.readBuf}
	err := e.connTLS(&cfg, d)
	var c *Conn
	if err == nil {
		c, err = DialSMTP(e.loop, d.name, netip.AddrPortFrom(d.addr, e.cfg.Port), cfg,
			ConnHandlers{Opened: d.opened, Results: d.results, Idle: d.idled, Closed: d.closed, Began: d.began})
	}
	if err != nil {
		e.pool.release()
		if enhanced, local := localFault(err); local {
			d.localFailure(enhanced, err)
			return
		}
		e.markDown(d.addr, err.Error())
		d.unreachable()
		return
	}
	e.stats.Connections++
	d.conn, d.carried, d.raced = c, false, false
	d.race = e.loop.AddTimer(e.loop.Now().Add(e.cfg.RaceDelay), d.raceFired)
	if e.tls.strict {
		c.SetAdmit(func(tx *smtp.Envelope, i int) error {
			k := d.envelopeOf(tx)
			if k < 0 {
				return nil
			}
			b := d.inflight[k]
			return e.admit(c, &b.j.rcpts[b.rcpts[i]])
		})
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

// flush hands the waiting recipients to the connection: one envelope
// per message (per domain too with -2); the client splits each into SMTP
// transactions of at most R recipients, run one after another.
func (d *dest) flush() {
	if len(d.waiting) == 0 {
		return
	}
	if d.idle != nil {
		d.e.loop.StopTimer(d.idle)
	}
	envs := d.group(d.waiting)
	d.waiting = nil
	for _, b := range envs {
		for _, i := range b.rcpts {
			b.j.rcpts[i].set(rcptInConn)
		}
	}
	for _, b := range envs {
		d.inflight = append(d.inflight, b)
		d.e.stats.Envelopes++
		if d.carried {
			d.e.stats.Reused++
		}
		d.conn.Add(&b.env)
	}
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
		b.env = smtp.Envelope{From: b.j.from, Msg: b.j.msg, SMTPUTF8: b.j.utf8, Rcpts: make([]smtp.Recipient, 0, sizes[n])}
		b.rcpts = make([]int32, 0, sizes[n])
	}
	for k, r := range rs {
		if n := which[k]; n >= 0 {
			b := envs[n]
			b.env.Rcpts = append(b.env.Rcpts, smtp.Recipient{Addr: r.addr()})
			b.rcpts = append(b.rcpts, r.i)
		}
	}
	return envs
}

// envelopeOf finds the envelope a result is for. The connection runs
// envelopes in the order handed to it, so it is nearly always the first.
func (d *dest) envelopeOf(tx *smtp.Envelope) int {
	for k, b := range d.inflight {
		if &b.env == tx {
			return k
		}
	}
	return -1
}

// raceFired: the connect is still unanswered after the race delay. The
// recipients waiting on it that have another address to go to go there
// now, alongside it (paper §3.2's regrouping, started early); those with
// none keep waiting. The connect goes on: if it fails it is recorded in
// the reachability cache as before; if it succeeds the host serves what
// comes to it next.
func (d *dest) raceFired(now time.Time) {
	if d.conn == nil || !d.conn.Connecting() {
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

// race1 sends r on to its next address if it has one, reporting whether
// it went.
func (d *dest) race1(r *rcpt) bool {
	later := false
	r.later(func(netip.Addr) { later = true })
	if !later && (r.is(rcptFellBack) || d.e.cfg.Fallback == "") {
		return false
	}
	r.hostFailed(fmt.Sprintf("%s[%s]: connect unanswered after %v", d.name, d.addr, d.e.cfg.RaceDelay))
	r.next()
	r.route()
	return true
}

// opened: the connect succeeded, so its recipients no longer hold the
// addresses they would fall back to.
func (d *dest) opened(c *Conn) {
	if d.race != nil {
		d.e.loop.StopTimer(d.race)
	}
	for _, b := range d.inflight {
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
func (d *dest) began(c *Conn, n int) {
	s := &d.e.stats
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
func (d *dest) results(c *Conn, rs []smtp.Result) {
	relay := relayName(d.name, c)
	// The recipients of one SMTP transaction share its verdict: one outcome
	// (and one text) for all of them, not one string per recipient.
	type verdict struct {
		status   smtp.Status
		code     int
		first    string
		verified string
	}
	var memo map[verdict]Outcome
	for _, res := range rs {
		k := d.envelopeOf(res.Env)
		if k < 0 {
			continue
		}
		b := d.inflight[k]
		b.results++
		if b.results == len(b.rcpts) {
			d.inflight = slices.Delete(d.inflight, k, k+1)
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
		if res.Status != smtp.NextHost {
			tlsText, verified := travel(c, r)
			if res.Err != nil || res.PossibleDuplicate || len(res.Reply.Lines) == 0 {
				o := outcomeOf(res, relay)
				o.TLS, o.Verified = tlsText, verified
				r.finish(o)
				continue
			}
			k := verdict{res.Status, res.Reply.Code, res.Reply.Lines[0], verified}
			o, ok := memo[k]
			if !ok {
				if memo == nil {
					memo = make(map[verdict]Outcome)
				}
				o = outcomeOf(res, relay)
				o.TLS, o.Verified = tlsText, verified
				memo[k] = o
			}
			r.finish(o)
			continue
		}
		d.failed(c, r, res.Err)
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
func (d *dest) idled(c *Conn) {
	if d.conn != c {
		return
	}
	if c.began {
		d.carried = true // not at the first idle: the session is just ready
	}
	if len(d.waiting) > 0 {
		d.flush()
		return
	}
	if d.e.pool.wanted() {
		// Hosts wait for a slot: at the limit the idle connection least
		// needed, oldest first, makes room (paper §3.3). Keeping it for a
		// recipient that may come back to it would deadlock the pool when
		// that recipient is itself waiting for a slot.
		if v := d.e.pool.victim(); v != nil {
			v.conn.Quit()
			if v == d {
				return
			}
		}
	}
	if d.idle == nil {
		d.idle = d.e.loop.AddTimer(c.LastUsed.Add(d.e.cfg.IdleTime), d.idleExpired)
		return
	}
	d.e.loop.ResetTimer(d.idle, c.LastUsed.Add(d.e.cfg.IdleTime))
}

func (d *dest) idleExpired(now time.Time) {
	c := d.conn
	if c == nil || !c.Idle() {
		return
	}
	// Kept while a pending recipient may still use the host: one that
	// has it in its MX list, or one whose domain is still being looked
	// up (closed meanwhile, it was opened again for the late domains).
	if d.e.plan.needed(d.addr) || d.e.plan.lookups > 0 {
		d.e.loop.ResetTimer(d.idle, now.Add(d.e.cfg.IdleTime))
		return
	}
	c.Quit()
}

// closed: the socket is gone and its slot is free.
func (d *dest) closed(c *Conn, err error) {
	if d.race != nil {
		d.e.loop.StopTimer(d.race)
	}
	if d.conn == c && err != nil && !d.carried && len(d.waiting) > 0 {
		// The session failed before it carried anything: the recipients
		// waiting for it to be ready fail with it, as those it held do.
		rs := d.waiting
		d.waiting = nil
		for _, r := range rs {
			if !r.is(rcptDone) {
				d.failed(c, r, err)
			}
		}
	}
	if d.conn == c && err != nil && !d.carried {
		// Nobody was left to fail with it (the race sent them on): a
		// connect that failed, or a handshake, is recorded all the same.
		if errors.Is(err, ErrTLSHandshake) {
			d.e.markTLSBroken(d, errText(err))
		} else if _, local := localFault(err); !local && c.Opened.IsZero() {
			d.e.markDown(d.addr, errText(err))
		}
	}
	if d.conn == c {
		d.conn = nil
	}
	if d.idle != nil {
		d.e.loop.StopTimer(d.idle)
	}
	d.e.pool.release()
	if len(d.waiting) > 0 {
		d.start()
	}
	d.e.forgetIfUnused(d)
}

// unused reports a destination nothing refers to any more: no
// connection, no recipient waiting or in flight or still listing its
// address, no timer, no place in the pool's queue.
func (d *dest) unused() bool {
	return d.conn == nil && len(d.waiting) == 0 && len(d.inflight) == 0 && !d.queued &&
		!pending(d.grace) && !pending(d.idle) && !pending(d.pending) && !pending(d.race) &&
		!d.e.plan.needed(d.addr) && !d.e.plan.isHeld(d.addr)
}

func pending(t *reactor.Timer) bool { return t != nil && t.Pending() }

// forgetIfUnused drops d once unused, so that a long-lived listener's
// table holds the hosts in use rather than every host ever reached.
func (e *Engine) forgetIfUnused(d *dest) {
	if e.dests[d.addr] == d && d.unused() {
		delete(e.dests, d.addr)
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
