package smtpfeed

import (
	"strings"

	"smtpfeed/proto/lmtp"
	"smtpfeed/proto/smtp"
)

// DSN (RFC 3461) through smtpfeed: the caller's RET, ENVID, NOTIFY and
// ORCPT ride with the message (Message.Ret, EnvID, RcptDSN) into every
// envelope, and the SMTP client sends them on, as received, to servers
// that offer DSN. A recipient whose NOTIFY asks for SUCCESS and whose
// next hop does not offer DSN is answered as outcomeRelayedNoDSN says.

// recipientDSNs copies the LMTP session's per-recipient parameters for
// the engine; nil stays nil, so a list without them costs nothing.
func recipientDSNs(in []lmtp.RcptDSN) []smtp.RecipientDSN {
	if in == nil {
		return nil
	}
	out := make([]smtp.RecipientDSN, len(in))
	for i, d := range in {
		out[i] = smtp.RecipientDSN{Notify: d.Notify, ORcpt: d.ORcpt}
	}
	return out
}

// dsn is the recipient's DSN parameters to pass on, nil when it has
// none (or a caller's list is short). It points into the delivery's
// list, so envelopes share it.
func (r *rcpt) dsn() *smtp.RecipientDSN {
	if int(r.i) >= len(r.j.dsn) {
		return nil
	}
	d := &r.j.dsn[r.i]
	if *d == (smtp.RecipientDSN{}) {
		return nil
	}
	return d
}

// wantsSuccess reports a recipient whose NOTIFY asks for a success
// notice.
func (r *rcpt) wantsSuccess() bool {
	d := r.dsn()
	return d != nil && notifiesSuccess(d.Notify)
}

// notifiesSuccess reports a NOTIFY value listing SUCCESS (keywords are
// case-insensitive, RFC 3461 §4.1).
func notifiesSuccess(notify string) bool {
	for kw := range strings.SplitSeq(notify, ",") {
		if strings.EqualFold(kw, "SUCCESS") {
			return true
		}
	}
	return false
}
