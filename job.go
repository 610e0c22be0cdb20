package smtpfeed

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// job is one message on its way: its recipients, their lookups and the
// answers owed to the caller.
type job struct {
	e        *Engine
	id       int
	from     string
	msg      *smtp.Message
	utf8     bool
	rcpts    []*rcpt
	left     int // recipients without an outcome
	lookups  int // this message's MX lookups still running
	domains  int
	answer   func(int, Outcome)
	done     func()
	deadline *reactor.Timer
	started  time.Time
	first    time.Duration // time to the first delivery; 0 until then
	last     time.Duration // time to the last delivery
	counts   [smtp.NextHost + 1]int
}

// rcpt is one recipient of a job.
type rcpt struct {
	j      *job
	i      int // position in the caller's RCPT order
	addr   string
	domain string
	mx     []MailHost
	pos    int // the host in mx tried now
	apos   int // the address of that host tried now
	// tent: the recipient waits on a connect still in flight, and so
	// counts toward e.tentative for every address after it in its list:
	// those may still get it if this one fails.
	tent     bool
	fellBack bool
	retried  bool   // already retried once after a reused connection failed
	inConn   bool   // handed to a connection, which owes it a result
	lastErr  string // why the last host tried failed
	done     bool
}

func newJob(e *Engine, id int, m *Message, answer func(int, Outcome), done func()) *job {
	j := &job{e: e, id: id, from: m.From, utf8: m.SMTPUTF8, answer: answer, done: done, left: len(m.Rcpts)}
	for i, a := range m.Rcpts {
		j.rcpts = append(j.rcpts, &rcpt{j: j, i: i, addr: a})
	}
	if !e.cfg.DeliverNothing {
		j.msg = smtp.NewMessage(m.Data)
	}
	return j
}

// ID names the message in logs, as a queue ID does.
func (j *job) ID() string { return fmt.Sprintf("m%06d", j.id) }

func (j *job) start(now time.Time) {
	j.started = now
	j.deadline = j.e.loop.AddTimer(now.Add(j.e.cfg.MessageTimeout), j.expire)
	if len(j.rcpts) == 0 {
		j.finish(now)
		return
	}
	if j.e.cfg.DeliverNothing || j.e.stopping {
		o := outcomeNotSent()
		if j.e.stopping {
			o = outcomeShutdown()
		}
		for _, r := range j.rcpts {
			r.finish(o)
		}
		return
	}
	byDomain := make(map[string][]*rcpt)
	var order []string
	for _, r := range j.rcpts {
		_, domain, err := SplitAddress(r.addr)
		if err != nil {
			r.finish(Outcome{Status: smtp.Bounced, Code: 501, Enhanced: "5.1.3", Text: err.Error()})
			continue
		}
		r.domain = domain
		if _, seen := byDomain[domain]; !seen {
			order = append(order, domain)
		}
		byDomain[domain] = append(byDomain[domain], r)
	}
	j.domains = len(order)
	j.lookups += len(order)
	j.e.lookups += len(order)
	for _, d := range order {
		rs := byDomain[d]
		j.e.res.LookupMX(d, func(res MXResult) { j.resolved(rs, res) })
	}
}

// resolved hands a domain's recipients their MX hosts and routes them.
func (j *job) resolved(rs []*rcpt, res MXResult) {
	// The lookup still counts while its recipients are routed, so that
	// none of them starts a host before the others have joined it.
	for _, r := range rs {
		if r.done {
			continue // the deadline came first
		}
		if res.Fail != nil {
			r.finish(outcomeFail(res.Fail))
			continue
		}
		r.setHosts(res.Hosts)
		r.route()
	}
	j.lookups--
	j.e.lookups--
	if j.e.lookups == 0 {
		j.e.lookupsDone()
	}
}

func (j *job) expire(now time.Time) {
	why := j.e.cfg.MessageTimeout.String()
	for _, r := range j.rcpts {
		if !r.done {
			r.finish(outcomeDeadline(why))
		}
	}
}

// finish ends the job once every recipient is answered.
func (j *job) finish(now time.Time) {
	j.e.loop.StopTimer(j.deadline)
	delete(j.e.jobs, j)
	j.e.cfg.Log.Message(MessageLog{
		ID: j.ID(), From: j.from, Rcpts: len(j.rcpts), Domains: j.domains,
		Delivered: j.counts[smtp.Delivered], Deferred: j.counts[smtp.Deferred], Bounced: j.counts[smtp.Bounced],
		First: j.first, Last: j.last, Elapsed: now.Sub(j.started), Engine: j.e.stats,
	})
	if j.done != nil {
		j.done()
	}
}

// setHosts records a recipient's MX hosts; each address it may still go
// to counts as a reason to keep that address's connection open.
func (r *rcpt) setHosts(hosts []MailHost) {
	r.mx, r.pos, r.apos = hosts, 0, 0
	for _, h := range hosts {
		for _, a := range h.Addrs {
			r.j.e.needs[a.Addr]++
		}
	}
}

// next gives up on the current address and moves to the host's next, or
// to the next host.
func (r *rcpt) next() {
	r.settle()
	if r.apos++; r.apos >= len(r.mx[r.pos].Addrs) {
		r.nextHost()
	}
}

// nextHost gives up on the current host.
func (r *rcpt) nextHost() {
	r.settle()
	for _, a := range r.mx[r.pos].Addrs {
		r.j.e.release(a.Addr)
	}
	r.pos, r.apos = r.pos+1, 0
}

// later calls f for every address after the current one.
func (r *rcpt) later(f func(netip.Addr)) {
	for p := r.pos; p < len(r.mx); p++ {
		addrs := r.mx[p].Addrs
		start := 0
		if p == r.pos {
			start = r.apos + 1
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
	if r.tent || r.done {
		return
	}
	r.tent = true
	r.later(func(a netip.Addr) { r.j.e.tentative[a]++ })
}

// settle ends the hold of tentative.
func (r *rcpt) settle() {
	if !r.tent {
		return
	}
	r.tent = false
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
	if r.j.e.stopping {
		r.finish(outcomeShutdown())
		return
	}
	for r.pos < len(r.mx) {
		h := r.mx[r.pos]
		if r.apos >= len(h.Addrs) {
			r.nextHost()
			continue
		}
		addr := h.Addrs[r.apos].Addr
		if fam := r.j.e.cfg.Family; fam != 0 && addr.Is4() != (fam == 4) {
			r.next() // -N: not an address of the family asked for
			continue
		}
		d := r.j.e.dest(h.Name, addr)
		if d.reachable() {
			d.add(r)
			return
		}
		r.lastErr = d.downReason()
		r.next()
	}
	if !r.fellBack && r.j.e.cfg.Fallback != "" {
		r.fellBack = true
		r.j.e.withFallback(func(fb *MXResult) {
			if r.done {
				return
			}
			if fb.Fail != nil {
				r.lastErr = "fallback " + r.j.e.cfg.Fallback + ": " + fb.Fail.Text
				r.route()
				return
			}
			r.setHosts(fb.Hosts)
			r.route()
		})
		return
	}
	r.finish(outcomeUnreachable(r.domain, r.lastErr))
}

// finish gives the recipient its one answer.
func (r *rcpt) finish(o Outcome) {
	if r.done {
		return
	}
	r.settle()
	r.done = true
	for _, h := range r.mx[min(r.pos, len(r.mx)):] {
		for _, a := range h.Addrs {
			r.j.e.release(a.Addr)
		}
	}
	j := r.j
	now := j.e.loop.Now()
	j.left--
	j.counts[o.Status]++
	if o.Status == smtp.Delivered {
		at := now.Sub(j.started)
		if j.first == 0 {
			j.first = at
		}
		j.last = at
	}
	j.e.cfg.Log.Recipient(RcptLog{ID: j.ID(), To: r.addr, Relay: o.Relay, Delay: now.Sub(j.started), Outcome: o})
	j.answer(r.i, o)
	if j.left == 0 {
		j.finish(now)
	}
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
		e.fallback = &res
		f(&res)
		e.lookups--
		if e.lookups == 0 {
			e.lookupsDone()
		}
	})
}
