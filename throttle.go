package smtpfeed

import (
	"errors"
	"fmt"
	"syscall"

	"smtpfeed/proto/smtp"
)

// Throttling: the replies by which a host says "too much, too fast",
// and what becomes of the recipients they refuse. Such a recipient is
// not the host's to refuse for good, nor a reason to go to the next MX:
// it waits at the same host for the back-off (flow.throttled) and is
// sent again, in the same run, while its message's deadline allows; then
// it is deferred with the host's words.
//
// Retried in the run (README repeats this):
//   - a temporary reply with an enhanced code 4.7.x, but 4.7.5 (a TLS
//     failure): 421 4.7.0 "try again later", 450 4.7.1 "rate limited",
//     451 4.7.500 "server busy", greylisting's 451 4.7.1;
//   - 421 without an enhanced code, from a host known to work (one of
//     its connections carried a transaction, or another is open);
//   - a connect refused or a connection reset while another connection
//     to the host is open.
//
// Back to the MTA at once: every other 4xx (a full mailbox 452 4.2.2, a
// per-mailbox rate 450 4.2.1, greylisting without 4.7.x), and 421 from a
// host never seen working, which goes to the next MX as before.

// throttling reports a reply that refuses for load.
func throttling(rep smtp.Reply) bool {
	e := rep.Enhanced
	return rep.Code/100 == 4 && e.Class == 4 && e.Subject == 7 && e.Detail != 5
}

// throttledSession reports a session ended for load: by a throttling
// reply, or by 421 from a host seen working.
func (d *dest) throttledSession(l *lane, err error) (smtp.Reply, bool) {
	var ce *smtp.ConnError
	if !errors.As(err, &ce) || ce.Reply.Code/100 != 4 {
		return smtp.Reply{}, false
	}
	if throttling(ce.Reply) {
		return ce.Reply, true
	}
	return ce.Reply, ce.Reply.Code == 421 && (l.carried || d.establishedBesides(l))
}

// refusedUnderLoad reports a connect refused, or a connection reset,
// while another connection to the host is open: the host is there, and
// turns connections away.
func (d *dest) refusedUnderLoad(l *lane, err error) bool {
	return d.establishedBesides(l) && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET))
}

// establishedBesides reports a lane of d other than l whose connect
// succeeded.
func (d *dest) establishedBesides(l *lane) bool {
	for _, o := range d.lanes {
		if o != l && !o.conn.Connecting() && o.conn.Reusable() {
			return true
		}
	}
	return false
}

// retry sends a recipient a throttle refused back to wait at d for the
// back-off, or answers it o when its message's deadline would pass
// first. After maxDryBackoffs with nothing delivered at the host, it
// goes on to its next MX host instead (o, if it has none).
func (d *dest) retry(r *rcpt, o Outcome) {
	j := r.j
	if j.expired || !d.flow.until.Before(j.started.Add(d.e.cfg.MessageTimeout)) {
		r.finish(o)
		return
	}
	r.hostFailed(o.Text)
	if d.flow.strikes > maxDryBackoffs {
		if r.nextHost(); int(r.pos) >= len(r.dom.mx) && (r.is(rcptFellBack) || d.e.cfg.Fallback == "") {
			r.finish(o)
			return
		}
		r.route()
		return
	}
	d.e.stats.Retried++
	d.add(r)
}

// outcomeThrottled is the answer of a recipient whose session a
// throttling host ended, when no retry is left: 451 and the host's
// enhanced code (LMTP's 421 would end our own session).
func outcomeThrottled(relay string, rep smtp.Reply) Outcome {
	return Outcome{Status: smtp.Deferred, Code: 451, Enhanced: enhancedOr(rep), Relay: relay,
		Text: fmt.Sprintf("%s said: %s", relay, rep.Text())}
}
