package smtpfeed

import (
	"fmt"
	"strings"

	"smtpfeed/proto/smtp"
)

// Outcome is a recipient's final answer to the caller: the LMTP reply and
// what the log says of it.
//
// The table (README.md repeats it for operators):
//
//	delivered                      250 2.0.0 delivered to host[addr]: <remote text>
//	delivered, NOTIFY=SUCCESS, the 250 2.1.5 relayed to host[addr], which does not offer
//	  server without DSN           DSN: no success notice will come (NOTIFY=SUCCESS);
//	                               it said: <remote text>
//	remote 4xx/5xx at RCPT/DATA/.  the remote code and enhanced code (X.0.0 when the
//	                               server gave none), "host[addr] said: <remote text>"
//	connection lost after the dot  451 4.4.2, marked as a possible duplicate
//	DNS: null MX                   556 5.1.10
//	DNS: no such domain            550 5.1.2
//	DNS: server failure, timeout   451 4.4.3
//	every MX host unreachable      451 4.4.1 with the last host's error
//	best MX host is this host      554 5.4.6 mail for D loops back to myself
//	local failure (descriptors,    451 4.3.0 (resources) or 4.4.0 (source
//	  buffers, source address)     address, local network), naming the cause
//	message deadline passed        451 4.4.7 (an SMTP transaction already begun
//	                               gets DeadlineGrace more to its verdict)
//	too big for the server (SIZE)  552 5.3.4
//	delivering nothing (-d D)      451 4.3.0
//	shutting down (USR1, TERM)     451 4.3.2
type Outcome struct {
	Status   smtp.Status // Delivered, Deferred or Bounced
	Code     int
	Enhanced string // "2.0.0"
	Text     string
	Relay    string // host[addr] that decided, "" when none did
	// PossibleDuplicate: the connection was lost after the final dot.
	PossibleDuplicate bool
	// RelayedNoDSN: delivered to a server that does not offer DSN, for
	// a recipient whose NOTIFY asked for a success notice, which will
	// not come (outcomeRelayedNoDSN).
	RelayedNoDSN bool
	// TLS is how the message travelled when a host decided:
	// "TLSv1.3/TLS_AES_128_GCM_SHA256", or "none"; Verified is what
	// checked the certificate: dane, secure, none, or plaintext.
	TLS, Verified string
}

func (o Outcome) String() string { return fmt.Sprintf("%d %s %s", o.Code, o.Enhanced, o.Text) }

// statusOf is the status a reply code means.
func statusOf(code int) smtp.Status {
	switch code / 100 {
	case 2:
		return smtp.Delivered
	case 5:
		return smtp.Bounced
	}
	return smtp.Deferred
}

// outcomeOf turns a recipient's result at relay into its outcome.
func outcomeOf(r smtp.Result, relay string) Outcome {
	switch {
	case r.Status == smtp.Delivered:
		return Outcome{Status: smtp.Delivered, Code: 250, Enhanced: "2.0.0", Relay: relay,
			Text: fmt.Sprintf("delivered to %s: %s", relay, r.Reply.Text())}
	case r.PossibleDuplicate:
		return Outcome{Status: smtp.Deferred, Code: 451, Enhanced: "4.4.2", Relay: relay, PossibleDuplicate: true,
			Text: fmt.Sprintf("%s: %v; the message may have been delivered", relay, r.Err)}
	case r.Err != nil && r.Reply.Code != 0:
		// A reply we stand in for the server with (SIZE, SMTPUTF8).
		return Outcome{Status: r.Status, Code: r.Reply.Code, Enhanced: enhancedOr(r.Reply), Relay: relay,
			Text: fmt.Sprintf("%s: %v", relay, r.Err)}
	}
	return Outcome{Status: r.Status, Code: r.Reply.Code, Enhanced: enhancedOr(r.Reply), Relay: relay,
		Text: fmt.Sprintf("%s said: %s", relay, r.Reply.Text())}
}

// outcomeAt is outcomeOf, or outcomeRelayedNoDSN for a delivered
// recipient whose success notice will not come (noDSN).
func outcomeAt(r smtp.Result, relay string, noDSN bool) Outcome {
	if noDSN && r.Status == smtp.Delivered {
		return outcomeRelayedNoDSN(r, relay)
	}
	return outcomeOf(r, relay)
}

// outcomeRelayedNoDSN: delivered to a server that does not offer DSN,
// for a recipient whose NOTIFY includes SUCCESS. RFC 3461 §4.3 asks the
// relaying MTA to send a "relayed" notice then. smtpfeed keeps no queue
// and sends no mail of its own, and the caller sends none either, since
// our LHLO offered DSN: so the notice will not come, and the reply says
// so. It stays 250: the server took the message, and any other code
// would have the caller send it again or bounce it. The enhanced code is
// 2.1.5, which RFC 3463 §3.2 names for positive delivery reports (the
// "relayed" notice would have been one), and which sets these replies
// apart from the plain 2.0.0 in the caller's log. The text is the same
// for every recipient of a transaction, so they share it: the reply is
// per recipient already.
func outcomeRelayedNoDSN(r smtp.Result, relay string) Outcome {
	return Outcome{Status: smtp.Delivered, Code: 250, Enhanced: "2.1.5", Relay: relay, RelayedNoDSN: true,
		Text: fmt.Sprintf("relayed to %s, which does not offer DSN: no success notice will come (NOTIFY=SUCCESS); it said: %s", relay, r.Reply.Text())}
}

// enhancedOr is the reply's enhanced code, or the class's generic one.
func enhancedOr(r smtp.Reply) string {
	if r.Enhanced.Valid() {
		return r.Enhanced.String()
	}
	return fmt.Sprintf("%d.0.0", r.Class())
}

// failReplies is what the recipients of a domain hear for each way its
// lookup can fail (RFC 5321 §5.1, RFC 7505, RFC 3463).
var failReplies = [...]struct {
	code     int
	enhanced string
}{
	FailBadName:   {501, "5.1.3"},
	FailNoDomain:  {550, "5.1.2"},
	FailNullMX:    {556, "5.1.10"},
	FailNoAddress: {550, "5.1.2"},
	FailFamily:    {550, "5.1.2"},
	// Deferred as every MX host unreachable is: a sender with IPv6
	// could deliver it.
	FailOtherFamily: {451, "4.4.1"},
	FailTemporary:   {451, "4.4.3"},
	FailLoop:        {554, "5.4.6"},
}

// outcomeFail is the outcome of a lookup failure.
func outcomeFail(f *Failure) Outcome {
	r := failReplies[f.Kind]
	return Outcome{Status: statusOf(r.code), Code: r.code, Enhanced: r.enhanced, Text: f.Text}
}

// outcomeBadAddress: the recipient's address does not parse.
func outcomeBadAddress(err error) Outcome { return outcomeFail(&Failure{FailBadName, err.Error()}) }

// outcomeUnreachable: every MX host of the recipient failed.
func outcomeUnreachable(domain string, lastErr string) Outcome {
	why := lastErr
	if why == "" {
		why = "no mail host"
	}
	return Outcome{Status: smtp.Deferred, Code: 451, Enhanced: "4.4.1",
		Text: fmt.Sprintf("no mail host for %s could be reached: %s", domain, why)}
}

// outcomeTLSRefused: no MX host met the domain's TLS policy; the last
// one's reason is given. RFC 3463's 4.7.5 (cryptographic failure), as
// Postfix defers it.
func outcomeTLSRefused(domain, lastErr string) Outcome {
	return Outcome{Status: smtp.Deferred, Code: 451, Enhanced: "4.7.5",
		Text: fmt.Sprintf("no mail host for %s met its TLS policy: %s", domain, lastErr)}
}

// outcomeLoop: the best MX host has an address of this host's (dropSelf), so
// delivering would hand the mail back to our own MTA. Worded as Postfix
// words it; 5.4.6 is RFC 3463's routing loop.
func outcomeLoop(domain, self string) Outcome {
	return outcomeFail(&Failure{FailLoop, fmt.Sprintf("mail for %s loops back to myself (%s is this host)", domain, self)})
}

// outcomeLocal: this host failed (out of descriptors or buffers, a
// source address it does not have), not the remote one; enhanced is
// localFault's.
func outcomeLocal(enhanced string, err error) Outcome {
	return Outcome{Status: smtp.Deferred, Code: 451, Enhanced: enhanced,
		Text: fmt.Sprintf("local failure, not the remote host's: %v", err)}
}

// outcomeDeadline: the message's overall time ran out.
func outcomeDeadline(d string) Outcome {
	return Outcome{Status: smtp.Deferred, Code: 451, Enhanced: "4.4.7",
		Text: fmt.Sprintf("delivery not finished within %s", d)}
}

// outcomeNotSent: delivering nothing, as asked (-d D).
func outcomeNotSent() Outcome {
	return Outcome{Status: smtp.Deferred, Code: 451, Enhanced: "4.3.0", Text: "not delivered: smtpfeed runs with -d D"}
}

// outcomeShutdown: smtpfeed was told to stop (USR1, TERM) first.
func outcomeShutdown() Outcome {
	return Outcome{Status: smtp.Deferred, Code: 451, Enhanced: "4.3.2", Text: "smtpfeed is shutting down; try again later"}
}

// relayName is host[addr] as sendmail logs a relay.
func relayName(host string, c *Conn) string {
	if strings.HasPrefix(host, "[") {
		return host
	}
	return fmt.Sprintf("%s[%s]", host, c.Addr.Addr())
}
