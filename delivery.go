package smtpfeed

import (
	"fmt"
	"slices"
	"smtpfeed/proto/tlspolicy"
	"time"

	"smtpfeed/proto/lmtp"
	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// delivery is one message on its way: its recipients, their lookups and the
// answers owed to the caller.
type delivery struct {
	e        *Engine
	id       int
	from     string
	msg      *smtp.Message
	utf8     bool
	trace    *smtp.Trace // -F: the Received field of one-recipient transactions
	rcpts    []rcpt      // made once: pointers into it stay valid
	addrs    []string    // the caller's list, shared: rcpt.addr reads it
	left     int         // recipients without an outcome
	lookups  int         // this message's MX lookups still running
	domains  int
	answer   func(int, Outcome)
	done     func()
	deadline *reactor.Timer
	expired  bool           // the deadline passed: nothing of it starts any more
	cutoff   *reactor.Timer // the end of the grace after the deadline
	started  time.Time
	first    time.Duration // time to the first delivery; 0 until then
	last     time.Duration // time to the last delivery
	counts   [smtp.NextHost + 1]int

	// DSN parameters: RET and ENVID, and the recipients' (rcpt.dsn).
	ret, envID string
	dsn        []smtp.RecipientDSN
}

func newDelivery(e *Engine, id int, m *Message, answer func(int, Outcome), done func()) *delivery {
	j := &delivery{e: e, id: id, from: m.From, utf8: m.SMTPUTF8, answer: answer, done: done, left: len(m.Rcpts), addrs: m.Rcpts}
	j.ret, j.envID, j.dsn = m.Ret, m.EnvID, m.RcptDSN
	j.rcpts = make([]rcpt, len(m.Rcpts))
	for i := range m.Rcpts {
		j.rcpts[i] = rcpt{j: j, i: int32(i)}
	}
	if !e.cfg.DeliverNothing {
		j.msg = smtp.NewMessage(m.Data)
		j.msg.Declared8Bit = m.EightBit
	}
	if e.cfg.TraceRcpt {
		j.trace = traceField(e.cfg.SMTP.Hostname, j.ID(), e.loop.Now())
	}
	return j
}

// traceField is the Received field -F puts before a one-recipient
// transaction's message (RFC 5321 §4.4): smtpfeed took the message by
// LMTP, under the ID its log lines carry.
func traceField(host, id string, now time.Time) *smtp.Trace {
	return &smtp.Trace{
		Head: "Received: by " + host + " (smtpfeed) with LMTP id " + id + "\r\n\tfor <",
		Tail: ">; " + now.Format(time.RFC1123Z) + "\r\n",
	}
}

// ID names the message in logs, as a queue ID does.
func (j *delivery) ID() string { return fmt.Sprintf("m%06d", j.id) }

func (j *delivery) start(now time.Time) {
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
		for i := range j.rcpts {
			j.rcpts[i].finish(o)
		}
		return
	}
	doms := j.groupByDomain()
	j.domains = len(doms)
	j.lookups += len(doms)
	j.e.plan.lookupsStarted(len(doms))
	for _, d := range doms {
		dane := d.tls.Level == tlspolicy.DANE || d.tls.Level == tlspolicy.DANEOnly
		j.e.lookupDomain(d.name, dane, func(res MXResult) { j.resolved(d, res) }) // routes.go: -M first
	}
}

// groupByDomain gives every recipient its domain and lists each domain's
// recipients, domains in order of first appearance. Recipients whose
// address does not parse are bounced here.
func (j *delivery) groupByDomain() []*rcptDomain {
	byName := make(map[string]*rcptDomain)
	var doms []*rcptDomain
	grouped := 0
	for i := range j.rcpts {
		r := &j.rcpts[i]
		_, name, err := lmtp.SplitAddress(r.addr())
		if err != nil {
			r.finish(outcomeBadAddress(err))
			continue
		}
		d := byName[name]
		if d == nil {
			d = &rcptDomain{name: name, tls: j.e.policyFor(name)}
			byName[name] = d
			doms = append(doms, d)
		}
		d.n++
		grouped++
		r.dom = d
	}
	// One array holds every domain's members, each domain a full slice
	// of it: counting first spares a slice per domain grown by append.
	members := make([]int32, grouped)
	for _, d := range doms {
		d.members, members = members[:0:d.n], members[d.n:]
	}
	for i := range j.rcpts {
		if d := j.rcpts[i].dom; d != nil {
			d.members = append(d.members, int32(i))
		}
	}
	return doms
}

// resolved hands a domain's recipients their MX hosts and routes them.
func (j *delivery) resolved(d *rcptDomain, res MXResult) {
	var loop string
	if res.Fail == nil {
		d.mx, loop = j.e.dropSelf(res.Hosts)
	}
	var variants []*rcptDomain
	if res.Fail == nil {
		variants = d.spread(j.e.cfg.SMTP.MaxRcpts)
	}
	// The lookup still counts while its recipients are routed, so that
	// none of them starts a host before the others have joined it.
	for n, k := range d.members {
		r := &j.rcpts[k]
		if r.is(rcptDone) {
			continue // the deadline came first
		}
		if res.Fail != nil {
			r.finish(outcomeFail(res.Fail))
			continue
		}
		if len(d.mx) == 0 && loop != "" {
			r.finish(outcomeLoop(d.name, loop))
			continue
		}
		if variants != nil {
			r.dom = variants[n%len(variants)]
		}
		r.setHosts()
		r.route()
	}
	d.members = nil
	j.lookups--
	j.e.plan.lookupEnded()
}

// expire is the message deadline: recipients not on a connection are
// answered 4.4.7 and never sent; those a connection holds but no SMTP
// transaction has begun to carry are withdrawn, and answered the same
// when they come back (dest.results). An SMTP transaction already begun
// runs to its verdict, bounded by the SMTP timeouts: answering 4.4.7
// while it may still deliver would have the caller send it again.
func (j *delivery) expire(now time.Time) {
	j.expired = true
	o := outcomeDeadline(j.e.cfg.MessageTimeout.String())
	for i := range j.rcpts {
		if r := &j.rcpts[i]; !r.is(rcptInConn) {
			r.finish(o)
		}
	}
	// Gathered first: a withdrawal answers recipients, which takes
	// settled envelopes off d.inflight.
	type withdrawal struct {
		c  *Conn
		tx *smtp.Envelope
	}
	var ws []withdrawal
	for _, d := range j.e.dests {
		d.inflight(func(l *lane, b *envelope) {
			if b.j == j {
				ws = append(ws, withdrawal{l.conn, &b.env})
			}
		})
	}
	for _, w := range ws {
		w.c.Withdraw(w.tx, "the message deadline passed")
	}
	if j.left > 0 {
		j.cutoff = j.e.loop.AddTimer(now.Add(j.e.cfg.DeadlineGrace), j.cut)
	}
}

// cut ends the grace after the deadline: the connections still carrying
// the message's transactions are closed, so that the caller has every
// answer in bounded time (a recipient past its final dot then hears
// 4.4.2, possibly delivered; the others 4.4.7).
func (j *delivery) cut(time.Time) {
	why := fmt.Errorf("the message deadline passed %v ago", j.e.cfg.DeadlineGrace)
	var cut []*Conn
	for _, d := range j.e.dests {
		for _, l := range d.lanes {
			if slices.ContainsFunc(l.inflight, func(b *envelope) bool { return b.j == j }) {
				cut = append(cut, l.conn)
			}
		}
	}
	for _, c := range cut {
		c.Close(why)
	}
}

// cancel answers every recipient not yet handed to a connection 4.3.2.
func (j *delivery) cancel() {
	for i := range j.rcpts {
		if r := &j.rcpts[i]; !r.is(rcptInConn) {
			r.finish(outcomeShutdown())
		}
	}
}

// answered counts a recipient's answer and passes it on; the last one
// ends the delivery.
func (j *delivery) answered(r *rcpt, o Outcome) {
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
	j.e.cfg.Log.Recipient(RcptLog{ID: j.ID(), To: r.addr(), Relay: o.Relay, Delay: now.Sub(j.started), Outcome: o})
	j.answer(int(r.i), o)
	if j.left == 0 {
		j.finish(now)
	}
}

// finish ends the delivery once every recipient is answered.
func (j *delivery) finish(now time.Time) {
	j.e.loop.StopTimer(j.deadline)
	if j.cutoff != nil {
		j.e.loop.StopTimer(j.cutoff)
	}
	delete(j.e.deliveries, j)
	j.e.forgetUnused()
	j.e.cfg.Log.Message(MessageLog{
		ID: j.ID(), From: j.from, Rcpts: len(j.rcpts), Domains: j.domains,
		Delivered: j.counts[smtp.Delivered], Deferred: j.counts[smtp.Deferred], Bounced: j.counts[smtp.Bounced],
		First: j.first, Last: j.last, Elapsed: now.Sub(j.started), Engine: j.e.stats, DNS: j.e.dnsStats(),
	})
	if j.done != nil {
		j.done()
	}
}
