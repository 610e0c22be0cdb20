package smtpfeed

import "smtpfeed/proto/tlspolicy"

// rcpt is one recipient of a delivery, which holds its recipients in one
// slice of values made once, so they cost one allocation between them
// and pointers to them stay valid. What every recipient of a domain
// shares lives once, in its rcptDomain: at 100,000 recipients each byte
// here is 100 kB.
type rcpt struct {
	j       *delivery
	dom     *rcptDomain // nil when the address does not parse
	lastErr string      // why the last host tried failed
	i       int32       // position in the caller's RCPT order
	pos     int32       // the host in dom.mx tried now
	apos    int32       // the address of that host tried now
	flags   rcptFlag
}

// rcptFlag is one of a recipient's yes/no states, packed into a byte.
type rcptFlag uint8

const (
	// rcptTentative: the recipient waits on a connect still in flight,
	// and so holds (plan.hold) every address after it in its
	// list: those may still get it if this one fails.
	rcptTentative  rcptFlag = 1 << iota
	rcptFellBack            // sent to the fallback MX (-m) already
	rcptRetried             // already retried once after a reused connection failed
	rcptInConn              // handed to a connection, which owes it a result
	rcptDone                // answered
	rcptTLSRefused          // the last host failed the recipient's TLS policy: 4.7.5 if no host is left
)

func (r *rcpt) is(f rcptFlag) bool { return r.flags&f != 0 }

// addr is the recipient's address, read from the message's list rather
// than kept in each of 100,000 recipients.
func (r *rcpt) addr() string     { return r.j.addrs[r.i] }
func (r *rcpt) set(f rcptFlag)   { r.flags |= f }
func (r *rcpt) clear(f rcptFlag) { r.flags &^= f }

// rcptDomain is one recipient domain of a delivery: its name and the MX hosts
// its lookup found, shared by its recipients. Each recipient keeps only
// its own place in the list, since they fall back one by one.
type rcptDomain struct {
	name string
	tls  *tlspolicy.Policy // the domain's TLS policy
	mx   []MailHost        // nil until the lookup succeeds
	// members are the recipients waiting for the lookup, as indexes into
	// the delivery's recipients; nil once it is done.
	members  []int32
	n        int32       // recipients of the domain, to size members
	fellBack *rcptDomain // the same domain with the fallback MX's hosts
}

// hosts is the recipient's MX list.
func (r *rcpt) hosts() []MailHost {
	if r.dom == nil {
		return nil
	}
	return r.dom.mx
}

// hostFailed records why the host tried last failed the recipient, for
// the answer it gets if no host is left.
func (r *rcpt) hostFailed(why string) {
	r.lastErr = why
	r.clear(rcptTLSRefused)
}

// policyRefused records that the host tried last did not meet the
// recipient's TLS policy: 451 4.7.5 if no host is left.
func (r *rcpt) policyRefused(why string) {
	r.lastErr = why
	r.set(rcptTLSRefused)
}

// noHostLeft is the answer when every host has failed the recipient:
// its last host's reason decides which.
func (r *rcpt) noHostLeft() Outcome {
	if r.is(rcptTLSRefused) {
		return outcomeTLSRefused(r.dom.name, r.lastErr)
	}
	return outcomeUnreachable(r.dom.name, r.lastErr)
}

// finish gives the recipient its one answer.
func (r *rcpt) finish(o Outcome) {
	if r.is(rcptDone) {
		return
	}
	r.settle()
	r.set(rcptDone)
	mx := r.hosts()
	for _, h := range mx[min(int(r.pos), len(mx)):] {
		for _, a := range h.Addrs {
			r.j.e.plan.release(a.Addr)
		}
	}
	r.j.answered(r, o)
}
