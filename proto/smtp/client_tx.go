package smtp

import "strings"

// mailReply handles the reply to MAIL FROM. A refused sender decides every
// recipient of the transaction; pipelined RCPT and DATA replies that
// follow are then only counted off.
func (c *Client) mailReply(ch *transaction, rep Reply) {
	if rep.Class() == 2 {
		if !c.ext.Pipelining {
			c.sendRcpt(ch, 0)
		}
		return
	}
	ch.mailFail = &rep
	for i := range ch.rcpts {
		c.decide(ch, i, failStatus(rep), rep, nil)
	}
	if !c.ext.Pipelining {
		c.endTransaction(ch)
	}
}

// tooManyRecipients recognises RFC 5321 §4.5.3.1.10's answer to one RCPT
// too many: 452, or 552 from servers that follow RFC 821's older advice.
// It only counts when the transaction already has a recipient, so a
// server that takes none cannot keep the client splitting forever.
func tooManyRecipients(ch *transaction, rep Reply) bool {
	if len(ch.accepted) == 0 {
		return false
	}
	if rep.Code == 452 {
		return true
	}
	return rep.Code == 552 && (rep.Enhanced == EnhancedCode{5, 5, 3} ||
		strings.Contains(strings.ToLower(strings.Join(rep.Lines, " ")), "too many recipients"))
}

func (c *Client) rcptReply(ch *transaction, i int, rep Reply) {
	switch {
	case ch.mailFail != nil:
		// Already decided by the refused MAIL.
	case rep.Class() == 2:
		ch.accepted = append(ch.accepted, i)
	case tooManyRecipients(ch, rep):
		ch.carry = append(ch.carry, ch.rcpts[i])
		ch.decided[i] = true
	case rep.Class() == 3:
		c.fail(&ConnError{Doing: stateDoing[stateRcpt], Err: protocolError("intermediate reply to RCPT", []byte(rep.String()))})
		return
	default:
		c.decide(ch, i, failStatus(rep), rep, nil)
	}
	if c.ext.Pipelining || ch.mailFail != nil {
		return
	}
	if ch.next < len(ch.rcpts) {
		c.sendRcpt(ch, ch.next)
		return
	}
	if len(ch.accepted) == 0 {
		c.endTransaction(ch) // no DATA for nobody
		return
	}
	c.out.command("DATA")
	c.await(stateData, ch, 0)
}

func (c *Client) dataReply(ch *transaction, rep Reply) {
	if rep.Code != 354 {
		if rep.Class() == 2 {
			c.fail(&ConnError{Doing: stateDoing[stateData], Err: protocolError("success reply to DATA", []byte(rep.String()))})
			return
		}
		for _, i := range ch.accepted {
			c.decide(ch, i, failStatus(rep), rep, nil)
		}
		c.endTransaction(ch)
		return
	}
	if ch.mailFail != nil || len(ch.accepted) == 0 {
		// A pipelining server said 354 though nobody is left to receive:
		// RFC 2920 §3.1 has the client end the data at once. The next
		// MAIL group may follow that dot as it follows any other, so a
		// refused recipient costs a VERP list no extra round trip.
		c.out.command(".")
		c.await(stateDot, ch, 0)
		c.pipelineNext(ch)
		return
	}
	c.out.shared(ch.trace)
	c.out.shared(c.outgoing(ch.tx).Wire())
	ch.dotEnd = c.out.queued
	c.body = ch
	c.await(stateDot, ch, 0)
	c.pipelineNext(ch)
}

// pipelineNext starts the next transaction behind ch's final dot: with
// PIPELINING its MAIL group may follow the dot in the same write (RFC
// 2920 §3.1).
func (c *Client) pipelineNext(ch *transaction) {
	if c.ext.Pipelining {
		c.cur = nil
		c.requeueCarry(ch)
		c.startNext()
	}
}

func (c *Client) dotReply(ch *transaction, rep Reply) {
	c.body = nil
	ch.dotSent = true
	status := Delivered
	if rep.Class() != 2 {
		status = failStatus(rep)
	}
	if ch.mailFail == nil {
		for _, i := range ch.accepted {
			c.decide(ch, i, status, rep, nil)
		}
	}
	c.finish(ch)
	c.afterTransaction()
}

// finish takes an ended transaction off the books.
func (c *Client) finish(ch *transaction) {
	if c.cur == ch {
		c.cur = nil
	}
	for i, f := range c.inflight {
		if f == ch {
			c.inflight = append(c.inflight[:i], c.inflight[i+1:]...)
			break
		}
	}
	c.requeueCarry(ch)
}

// endTransaction closes a transaction that never reached its final dot:
// the server still holds its envelope, so RSET comes before anything else.
func (c *Client) endTransaction(ch *transaction) {
	c.needRset = true
	c.finish(ch)
	c.afterTransaction()
}

// requeueCarry puts the recipients refused as too many at the front of
// their envelope and lowers the per-transaction limit to what the server took.
func (c *Client) requeueCarry(ch *transaction) {
	if len(ch.carry) == 0 {
		return
	}
	c.limit = max(1, min(c.limit, len(ch.accepted)))
	if ch.tx.withdrawn != nil {
		c.handBack(ch.tx, ch.carry)
		ch.carry = nil
		return
	}
	for _, j := range c.queue {
		if j.tx == ch.tx {
			j.pending = append(ch.carry, j.pending...)
			ch.carry = nil
			return
		}
	}
	c.queue = append([]*queued{{tx: ch.tx, pending: ch.carry}}, c.queue...)
	ch.carry = nil
}

func failStatus(rep Reply) Status {
	if rep.Permanent() {
		return Bounced
	}
	return Deferred
}

// decide records recipient i of ch's fate.
func (c *Client) decide(ch *transaction, i int, status Status, rep Reply, err error) {
	ch.decided[i] = true
	c.results = append(c.results, Result{Env: ch.tx, Rcpt: ch.rcpts[i], Status: status, Reply: rep, Err: err})
}

// fail ends the connection. Recipients whose fate is not known go back to
// the caller (NextHost), except those whose message went out whole but
// whose verdict never came: the server may have it, so they are deferred
// and marked as possible duplicates.
func (c *Client) fail(e *ConnError) {
	if c.closed {
		return
	}
	c.closed = true
	c.err = e
	c.out.reset()
	for _, ch := range c.inflight {
		c.requeueCarry(ch)
		accepted := make([]bool, len(ch.rcpts))
		for _, i := range ch.accepted {
			accepted[i] = true
		}
		for i := range ch.rcpts {
			switch {
			case ch.decided[i]:
			case ch.dotSent && accepted[i]:
				// The dot went out and its reply never came.
				ch.decided[i] = true
				c.results = append(c.results, Result{Env: ch.tx, Rcpt: ch.rcpts[i], Status: Deferred, Err: e, PossibleDuplicate: true})
			default:
				c.decide(ch, i, NextHost, e.Reply, e)
			}
		}
	}
	c.inflight = nil
	c.cur = nil
	c.body = nil
	c.expects = nil
	c.failJobs()
}

// failJobs hands every recipient not yet in a transaction back.
func (c *Client) failJobs() {
	for _, j := range c.queue {
		for _, r := range j.pending {
			c.results = append(c.results, Result{Env: j.tx, Rcpt: r, Status: NextHost, Reply: c.err.Reply, Err: c.err})
		}
	}
	c.queue = nil
}
