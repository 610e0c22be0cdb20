package smtpfeed

import (
	"fmt"
	"slices"
	"time"

	"smtpfeed/reactor"
)

// Concurrency per mail host, after Postfix's queue manager: a host
// starts with one connection; every session that gets ready and every
// transaction it delivers lets it have one more (slow start), up to the
// ceiling (-P). More connections open only when the work waiting is
// more than the ones open would finish soon. A throttling reply (see
// throttle.go) takes one connection off the window, and nothing new
// starts at the host until a back-off, doubling with each throttle in a
// row, has passed; after that the window grows by one per window's worth
// of deliveries.

// Defaults of the flow's knobs.
const (
	// DefaultHostConcurrency is the ceiling of connections to one MX
	// host (-P): Postfix's default_destination_concurrency_limit.
	DefaultHostConcurrency = 20
	// DefaultBackoff is the first back-off after a throttling reply
	// (-t backoff); it doubles with each throttle in a row.
	DefaultBackoff = time.Second
	// maxBackoffDoublings caps the back-off at DefaultBackoff << 6
	// (64 s with the default): retried within the message deadline, a
	// throttled host is asked again about once a minute at worst.
	maxBackoffDoublings = 6
	// growAtTransactions is the pipelined work one connection finishes
	// soon enough: up to three transactions' worth waiting do not pay
	// for another connect, greeting and EHLO.
	growAtTransactions = 3
	// chunkTransactions is the most a lane takes at once when several
	// share a host: small enough that the lanes end together, large
	// enough that a lane's next MAIL still rides its last final dot.
	chunkTransactions = 4
	// growAtLockstep is the same for a host without PIPELINING, where
	// each recipient costs a round trip.
	growAtLockstep = 16
	// lockstepTxnRoundTrips is what a one-recipient transaction costs a
	// host without PIPELINING: MAIL, RCPT, DATA and the final dot each
	// wait for their reply.
	lockstepTxnRoundTrips = 4
	// cautiousDeliveries is how many windows' worth of delivering
	// transactions, after a throttle, earn the window one more lane.
	cautiousDeliveries = 4
	// maxDryBackoffs is how many back-offs in a row, with nothing
	// delivered at the host between them (1+2+4 s with the default), a
	// throttled recipient waits out before it goes on to its next MX
	// host, or back to the MTA: a host that refuses everyone (a policy
	// in 4.7.1's words, greylisting) is not asked again for the
	// message's whole deadline.
	maxDryBackoffs = 3
)

// flow is one MX host's concurrency, shared by the destinations (one
// per address) that reach it under its name.
type flow struct {
	e     *Engine
	name  string
	dests []*dest
	// window is how many lanes the host may have now; credit counts
	// deliveries toward its next step once a throttle was seen
	// (cautious).
	window, credit int
	cautious       bool
	strikes        int       // back-offs with no delivery between: each doubles
	until          time.Time // no connection opens before (back-off)
	quiet          bool      // nor any transaction starts (a rate throttle)
	timer          *reactor.Timer
	// perConn is the transactions a connection the host was seen to
	// take before it refused the next MAIL with 421; 0: none seen.
	perConn int
	// tokens is the rate limit's bucket (-rate), refilled as of filled.
	tokens float64
	filled time.Time
}

// flowFor is the flow of the MX host name, made when new.
func (e *Engine) flowFor(name string) *flow {
	f := e.flows[name]
	if f == nil {
		f = &flow{e: e, name: name, window: 1, tokens: float64(e.cfg.HostRate), filled: e.loop.Now()}
		e.flows[name] = f
	}
	return f
}

// leave takes a forgotten destination off its flow; a flow with no
// destination and nothing to remember is dropped too.
func (f *flow) leave(d *dest) {
	if k := slices.Index(f.dests, d); k >= 0 {
		f.dests = slices.Delete(f.dests, k, k+1)
	}
	if len(f.dests) == 0 && !f.backingOff() && !f.cautious {
		f.stop()
		delete(f.e.flows, f.name)
	}
}

// backingOff reports a host to which no connection may open yet;
// holding one where no transaction may start either.
func (f *flow) backingOff() bool { return f.e.loop.Now().Before(f.until) }
func (f *flow) holding() bool    { return f.quiet && f.backingOff() }

// stop drops the flow's timer (drain).
func (f *flow) stop() {
	if f.timer != nil {
		f.e.loop.StopTimer(f.timer)
	}
}

// open counts the host's lanes, over its addresses (a few at most).
func (f *flow) open() int {
	n := 0
	for _, d := range f.dests {
		n += len(d.lanes)
	}
	return n
}

// refusedMail learns from a 421 to MAIL on a lane that had begun txns
// transactions (the refused one included) that the host takes
// txns-1 a connection: lanes stop there from now on, as -reuse-limit
// makes them, and the host is not refused into it again.
func (f *flow) refusedMail(txns int) {
	if n := txns - 1; n >= 1 && (f.perConn == 0 || n < f.perConn) {
		f.perConn = n
		f.e.cfg.Log.Notice(fmt.Sprintf("%s: refuses the message after %d on one connection: at most %d a connection from now on", f.name, n, n))
	}
}

// connTransactions is the most transactions a lane of the host may
// begin: -reuse-limit, or less where the host was seen to refuse more;
// 0: no cap.
func (f *flow) connTransactions() int {
	limit := f.e.cfg.ConnTransactions
	if f.perConn > 0 && (limit == 0 || f.perConn < limit) {
		limit = f.perConn
	}
	return limit
}

// ceiling is the most lanes the host may ever have (-P).
func (f *flow) ceiling() int { return f.e.cfg.HostConcurrency }

// ready and delivered are positive feedback: a session got ready, a
// transaction delivered. In slow start the window grows by two for a
// ready lane (room for itself and one more, so the lanes opening double
// each round of connect, greeting and EHLO) and by one for a delivery.
// Once a throttle was seen, it grows by one per cautiousDeliveries
// windows' worth of deliveries: a host that refused at some count is
// asked for one more only now and then. Only a delivery ends a run of
// throttles (strikes). The window grows only while the host uses all of
// it (RFC 7661's idea for TCP): a host with work for one lane, or
// waiting out a back-off, earns no permission it has not tried.
func (f *flow) ready() {
	if !f.cautious && f.open() >= f.window {
		f.window = min(f.window+2, f.ceiling())
	}
}

func (f *flow) delivered() {
	f.strikes = 0
	if f.window >= f.ceiling() || f.open() < f.window {
		return
	}
	if !f.cautious {
		f.window++
		return
	}
	if f.credit++; f.credit >= cautiousDeliveries*f.window {
		f.credit = 0
		f.window++
		f.e.cfg.Log.Notice(fmt.Sprintf("%s: concurrency %d -> %d after %d deliveries without a throttle", f.name, f.window-1, f.window, cautiousDeliveries*(f.window-1)))
	}
}

// throttled is negative feedback: the host refused for load, on one of
// its lanes (still open, and counted). The window drops to the lanes
// besides it, so a burst of refusals (every lane beyond a host's limit
// hearing 421 at once) leaves it at what the host took; no connection
// opens until the back-off passes, set by the first of the burst. A
// refusal within a transaction (quiet: a rate) also holds the lanes open
// from starting transactions meanwhile; one that ended a session (too
// many connections, too many messages on one) leaves them going.
func (f *flow) throttled(why string, quiet bool) {
	f.e.stats.Throttled++
	old := f.window
	f.window = max(1, min(f.window, f.open()-1))
	f.cautious, f.credit = true, 0
	if f.backingOff() {
		f.quiet = f.quiet || quiet
		if f.window != old {
			f.e.cfg.Log.Notice(fmt.Sprintf("%s: concurrency %d -> %d after %s", f.name, old, f.window, why))
		}
		return
	}
	wait := f.e.cfg.Backoff << min(f.strikes, maxBackoffDoublings)
	f.strikes++
	// Jitter of ±25%: hosts throttled together are not asked again in
	// step.
	wait = wait*3/4 + time.Duration(f.e.rand.Int64N(int64(wait/2)+1))
	f.until, f.quiet = f.e.loop.Now().Add(wait), quiet
	if f.timer == nil {
		f.timer = f.e.loop.AddTimer(f.until, f.resume)
	} else {
		f.e.loop.ResetTimer(f.timer, f.until)
	}
	f.e.cfg.Log.Notice(fmt.Sprintf("%s: concurrency %d -> %d, back-off %v after %s", f.name, old, f.window, wait.Round(time.Millisecond), why))
}

// resume ends a back-off (or a wait for the rate's tokens): the host's
// destinations start what waits.
func (f *flow) resume(time.Time) {
	for _, d := range slices.Clone(f.dests) {
		if len(d.waiting) > 0 {
			d.start()
		}
	}
}

// String describes the flow for the state dump.
func (f *flow) String() string {
	s := fmt.Sprintf("concurrency %d of %d", f.window, f.ceiling())
	if f.backingOff() {
		s += fmt.Sprintf(", backing off for %v", f.until.Sub(f.e.loop.Now()).Round(time.Millisecond))
	}
	return s
}

// share is how many waiting recipients one lane of d takes at a time
// when the work is more than enough, and how many are enough for the
// lanes open: below that, no lane is added for them.
func (d *dest) share(l *lane) (chunk, enough int) {
	n, r, p := len(d.waiting), d.e.txnRcpts(), d.flow.ceiling()
	pipelined := l.conn.Extensions().Pipelining
	if pipelined && r > 1 {
		return min(max((n+p-1)/p, r), chunkTransactions*r), growAtTransactions * r
	}
	// A recipient is a round trip: lock-step, or pipelined transactions
	// of one recipient each (-1, VERP), whose MAIL rides the last final
	// dot; four (MAIL, RCPT, DATA, the dot) in lock-step transactions of
	// one. The work is spread over as many lanes as the ceiling allows,
	// though no lane is opened for fewer recipients than growAtLockstep
	// round trips take, so a host with a few still gets one connection.
	enough = growAtLockstep
	if !pipelined && r == 1 {
		enough = growAtLockstep / lockstepTxnRoundTrips
	}
	return min(max((n+p-1)/p, enough), max(r, enough)), enough
}

// txnRcpts is the most recipients one SMTP transaction carries: -R, or
// one each with VERP.
func (e *Engine) txnRcpts() int {
	if e.cfg.VERP != nil {
		return 1
	}
	return e.cfg.SMTP.MaxRcpts
}

// quota is how many of the waiting recipients lane l takes now, with
// idle lanes (l included) idle at once: everything when it is no more
// than enough, split between the idle lanes; else a chunk, unless the
// lane is the host's only one and what it would leave is not worth
// another; within the lane's transaction cap (-reuse-limit) and the
// host's rate (-rate).
func (d *dest) quota(l *lane, idle int) int {
	n := len(d.waiting)
	chunk, enough := d.share(l)
	q := min(n, chunk)
	switch {
	case n <= enough:
		q = (n + idle - 1) / max(idle, 1)
	case len(d.lanes) == 1 && n-chunk <= enough:
		q = n // a second transaction here beats a lane for the rest
	}
	if limit := d.flow.connTransactions(); limit > 0 {
		q = min(q, (limit-l.txns)*d.e.txnRcpts())
	}
	return d.flow.rated(q)
}

// spent reports a lane that has begun the transactions its host's
// connections may carry (connTransactions).
func (l *lane) spent() bool {
	limit := l.d.flow.connTransactions()
	return limit > 0 && l.txns >= limit
}

// grow opens lanes while the waiting work is more than the lanes open
// and opening will take soon, the window allows and the pool has free
// slots: growing never waits for a slot or evicts another host's
// connection.
func (d *dest) grow() {
	f := d.flow
	var ready *lane
	opening := 0
	for _, l := range d.lanes {
		if l.ready {
			ready = l
		} else {
			opening++
		}
	}
	if ready == nil || d.e.stopping || f.backingOff() {
		return // a lane not yet ready takes its share when it is
	}
	chunk, enough := d.share(ready)
	n := len(d.waiting)
	if n <= enough {
		return
	}
	need := (n+chunk-1)/chunk - opening
	for ; need > 0 && f.open() < min(f.window, f.ceiling()); need-- {
		if d.e.isDown(d.addr) || !d.e.pool.tryAcquire() {
			return
		}
		if d.open() == nil {
			return
		}
	}
}

// rated takes up to q recipients' worth of the host's rate (-rate,
// recipients a minute; 0: none), returning how many it may send now.
// With none to send, the flow's timer starts the host again once a
// lane's worth has come in.
func (f *flow) rated(q int) int {
	rate := f.e.cfg.HostRate
	if rate <= 0 || q <= 0 {
		return q
	}
	now := f.e.loop.Now()
	perSec := float64(rate) / 60
	f.tokens = min(float64(rate), f.tokens+now.Sub(f.filled).Seconds()*perSec)
	f.filled = now
	take := min(q, int(f.tokens))
	if take > 0 {
		f.tokens -= float64(take)
		return take
	}
	if !pending(f.timer) {
		want := float64(min(q, rate)) - f.tokens
		at := now.Add(time.Duration(want / perSec * float64(time.Second)))
		if f.timer == nil {
			f.timer = f.e.loop.AddTimer(at, f.resume)
		} else {
			f.e.loop.ResetTimer(f.timer, at)
		}
	}
	return 0
}
