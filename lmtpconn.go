package smtpfeed

import (
	"errors"
	"fmt"
	"io"
	"time"

	"smtpfeed/proto/lmtp"
	"smtpfeed/reactor"
)

// lmtpReadSize is one read from the caller: sendmail writes a message in
// pieces of a few kilobytes; a large read drains a pipelined RCPT burst at
// once.
const lmtpReadSize = 64 << 10

// LMTPConn is one LMTP session with a caller: on standard input and
// output (sendmail's F=z mailer), or on one socket (in == out). It hands
// each message to the engine and each recipient's outcome back to the
// session, which writes the replies in RCPT order.
type LMTPConn struct {
	e     *Engine
	loop  *reactor.Loop
	in    int
	out   int
	s     *lmtp.Session
	buf   []byte
	done  func(error)
	ended bool
	// resolveOnly answers every recipient with a 4xx after resolving it
	// and writes the grouping to report (-d Q).
	resolveOnly io.Writer
	msgs        int
	delivery    *Delivery // the message in hand, if any
	draining    bool
	idle        time.Duration
	idleTimer   *reactor.Timer
	// The phase the caller is in (lmtp.Phase), since when, and the timer
	// that bounds it (opt.CommandTime, opt.DataTime).
	opt        LMTPOptions
	phase      lmtp.Phase
	phaseTimer *reactor.Timer
}

// LMTPOptions are what an LMTP session needs besides the engine.
type LMTPOptions struct {
	Session lmtp.Config
	// ResolveOnly, when set, makes the session resolve each message's
	// recipients, answer them all with 4xx and write the piggybacking
	// report here, sending no mail (-d Q).
	ResolveOnly io.Writer
	// Idle ends a session whose caller sends nothing for that long while
	// nothing is owed to it (0: never), so a stuck caller costs only
	// itself.
	Idle time.Duration
	// CommandTime bounds one command line from its first byte to its
	// line end, and DataTime the message data from the 354 to the final
	// dot (0: no bound): unlike Idle, a caller that sends a byte now and
	// then does not restart them.
	CommandTime, DataTime time.Duration
}

// ServeLMTP starts an LMTP session on the descriptors in and out (the
// same one for a socket). done is called once, when the session is over:
// nil after QUIT or end of input with every answer written, otherwise
// what ended it (the caller vanished).
func ServeLMTP(loop *reactor.Loop, e *Engine, in, out int, opt LMTPOptions, done func(error)) (*LMTPConn, error) {
	c := &LMTPConn{e: e, loop: loop, in: in, out: out, s: lmtp.NewSession(opt.Session),
		buf: make([]byte, lmtpReadSize), done: done, resolveOnly: opt.ResolveOnly, idle: opt.Idle, opt: opt}
	if in == out {
		if err := loop.Register(in, reactor.Readable|reactor.Writable, c.ready); err != nil {
			return nil, fmt.Errorf("lmtp: %w", err)
		}
	} else {
		if err := loop.Register(in, reactor.Readable, c.readable); err != nil {
			return nil, fmt.Errorf("lmtp input: %w", err)
		}
		if err := loop.Register(out, reactor.Writable, c.writable); err != nil {
			loop.Remove(in)
			return nil, fmt.Errorf("lmtp output: %w", err)
		}
	}
	c.touch()
	c.progress()
	return c, nil
}

// Messages reports how many messages the session handed to the engine.
func (c *LMTPConn) Messages() int { return c.msgs }

func (c *LMTPConn) ready(now time.Time, ev reactor.Events) {
	if ev&reactor.Readable != 0 {
		c.read()
	}
	c.progress()
}

func (c *LMTPConn) readable(now time.Time, _ reactor.Events) {
	c.read()
	c.progress()
}

func (c *LMTPConn) writable(now time.Time, _ reactor.Events) { c.progress() }

func (c *LMTPConn) read() {
	if c.ended || c.draining || !c.s.WantInput() {
		return
	}
	n, err := reactor.Read(c.in, c.buf)
	if n > 0 {
		c.s.Feed(c.buf[:n])
		c.touch()
		c.watchPhase()
	}
	switch {
	case errors.Is(err, io.EOF):
		c.s.EOF()
		if c.s.Abandoned() {
			// Nobody will read the answers, and the caller will try
			// every recipient again: stop delivering this message.
			c.end(fmt.Errorf("lmtp: the caller closed the session with %d answers owed", c.s.Pending()))
		}
	case err != nil:
		c.end(fmt.Errorf("lmtp: reading from the caller: %w", err))
	}
}

// progress hands out messages, writes replies and sets interest.
func (c *LMTPConn) progress() {
	if c.ended {
		return
	}
	for m, ok := c.s.Next(); ok; m, ok = c.s.Next() {
		c.deliver(m)
	}
	if out := c.s.Output(); len(out) > 0 {
		n, err := reactor.Write(c.out, out)
		if n > 0 {
			c.s.Wrote(n)
		}
		if err != nil {
			// The caller is gone: nobody will read the answers, and it
			// will try every recipient again, so stop delivering.
			c.end(fmt.Errorf("lmtp: writing to the caller: %w", err))
			return
		}
	}
	if c.s.Done() || (c.draining && c.s.Pending() == 0 && len(c.s.Output()) == 0) {
		c.end(nil)
		return
	}
	c.arm()
}

// Drain ends the session once the message it carries now (if any) is
// answered: no new message is read (USR1, TERM). The caller sees the
// connection close and retries what it did not hand over.
func (c *LMTPConn) Drain() {
	c.draining = true
	c.progress()
}

// watchPhase starts the bound of the phase the caller entered, if it
// entered one; staying in a phase leaves its timer alone.
func (c *LMTPConn) watchPhase() {
	ph := c.s.Phase()
	if ph == c.phase {
		return
	}
	c.phase = ph
	var limit time.Duration
	switch ph {
	case lmtp.PhaseCommand:
		limit = c.opt.CommandTime
	case lmtp.PhaseData:
		limit = c.opt.DataTime
	}
	if limit <= 0 {
		if c.phaseTimer != nil {
			c.loop.StopTimer(c.phaseTimer)
		}
		return
	}
	when := c.loop.Now().Add(limit)
	if c.phaseTimer == nil {
		c.phaseTimer = c.loop.AddTimer(when, c.phaseExpired)
		return
	}
	c.loop.ResetTimer(c.phaseTimer, when)
}

// phaseExpired ends a session whose caller took too long over one
// command or one message's data: 421, and nothing of an unfinished
// message is delivered (the caller sends it again).
func (c *LMTPConn) phaseExpired(time.Time) {
	if c.ended {
		return
	}
	if c.s.Phase() != c.phase || c.phase == lmtp.PhaseNone {
		c.watchPhase() // it moved on in a pass that read nothing
		return
	}
	what, limit := "a command", c.opt.CommandTime
	if c.phase == lmtp.PhaseData {
		what, limit = "the message data", c.opt.DataTime
	}
	why := fmt.Sprintf("caller took more than %v over %s", limit, what)
	reactor.Write(c.out, []byte("421 4.4.2 "+why+"\r\n"))
	c.end(fmt.Errorf("lmtp: %s", why))
}

// touch restarts the idle clock.
func (c *LMTPConn) touch() {
	if c.idle <= 0 {
		return
	}
	when := c.loop.Now().Add(c.idle)
	if c.idleTimer == nil {
		c.idleTimer = c.loop.AddTimer(when, c.idleExpired)
		return
	}
	c.loop.ResetTimer(c.idleTimer, when)
}

func (c *LMTPConn) idleExpired(time.Time) {
	if c.ended {
		return
	}
	if c.s.Pending() > 0 || len(c.s.Output()) > 0 {
		c.touch() // we owe it answers: the wait is ours, not the caller's
		return
	}
	c.end(fmt.Errorf("lmtp: caller idle for %v", c.idle))
}

func (c *LMTPConn) arm() {
	var in, out reactor.Events
	if c.s.WantInput() && !c.draining {
		in = reactor.Readable
	}
	if len(c.s.Output()) > 0 {
		out = reactor.Writable
	}
	if c.in == c.out {
		c.loop.Modify(c.in, in|out)
		return
	}
	c.loop.Modify(c.in, in)
	c.loop.Modify(c.out, out)
}

func (c *LMTPConn) deliver(m *lmtp.Message) {
	c.msgs++
	// The engine reads the session's own address list: a message may
	// have 100,000 recipients, and neither side changes it.
	rcpts := m.Rcpts
	answer := func(i int, o Outcome) {
		if c.ended {
			return
		}
		c.s.Answer(m, i, lmtp.Reply{Code: o.Code, Enhanced: o.Enhanced, Text: o.Text})
		c.progress()
	}
	if c.resolveOnly != nil {
		c.resolve(rcpts, answer)
		return
	}
	msg := &Message{From: m.From.Addr, Rcpts: rcpts, Data: m.Data, SMTPUTF8: m.SMTPUTF8, EightBit: m.EightBit,
		Ret: m.Ret, EnvID: m.EnvID, RcptDSN: recipientDSNs(m.DSN)}
	m.DSN = nil // the engine has its copy; the session reads it no more
	c.delivery = c.e.Deliver(msg, answer, nil)
}

// resolve is -d Q: the grouping is reported, every recipient deferred.
func (c *LMTPConn) resolve(rcpts []string, answer func(int, Outcome)) {
	err := c.e.res.ResolvePlan(rcpts, c.e.cfg.Routes, func(p *Plan) {
		p.WriteReport(c.resolveOnly)
		for i, r := range p.Replies() {
			answer(i, Outcome{Status: statusOf(r.Code), Code: r.Code, Enhanced: r.Enhanced, Text: r.Text})
		}
	})
	if err != nil {
		for i := range rcpts {
			answer(i, outcomeBadAddress(err))
		}
	}
}

// end stops the session once.
func (c *LMTPConn) end(err error) {
	if c.ended {
		return
	}
	c.ended = true
	if err != nil && c.delivery != nil {
		c.delivery.Cancel()
	}
	if c.idleTimer != nil {
		c.loop.StopTimer(c.idleTimer)
	}
	if c.phaseTimer != nil {
		c.loop.StopTimer(c.phaseTimer)
	}
	c.loop.Remove(c.in)
	if c.out != c.in {
		c.loop.Remove(c.out)
	}
	if c.done != nil {
		c.done(err)
	}
}
