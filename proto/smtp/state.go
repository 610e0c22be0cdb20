package smtp

import "time"

// state is what the client is waiting for on a connection: the reply to
// one command, the end of a write, or nothing.
type state uint8

const (
	stateGreeting state = iota // connected, waiting for the 220 greeting
	stateEHLO                  // EHLO sent, waiting for its reply
	stateHELO                  // HELO sent after EHLO was refused
	stateStartTLS              // STARTTLS sent, waiting for its 220
	stateTLS                   // the caller runs the TLS handshake
	stateMail                  // MAIL FROM sent
	stateRcpt                  // RCPT TO sent
	stateData                  // DATA sent, waiting for 354
	stateBody                  // writing the message
	stateDot                   // final dot sent, waiting for the verdict
	stateRset                  // RSET sent
	stateQuit                  // QUIT sent; its reply is not waited for
	stateIdle                  // nothing outstanding: ready for a transaction
	stateClosed                // the connection is over
	numStates
)

var stateNames = [numStates]string{
	stateGreeting: "greeting",
	stateEHLO:     "ehlo",
	stateHELO:     "helo",
	stateStartTLS: "starttls",
	stateTLS:      "handshake",
	stateMail:     "mail",
	stateRcpt:     "rcpt",
	stateData:     "data",
	stateBody:     "block",
	stateDot:      "dot",
	stateRset:     "rset",
	stateQuit:     "quit",
	stateIdle:     "idle",
	stateClosed:   "closed",
}

func (s state) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "invalid"
}

// stateDoing is the "while ..." of an error in each state.
var stateDoing = [numStates]string{
	stateGreeting: "waiting for the greeting",
	stateEHLO:     "sending EHLO",
	stateHELO:     "sending HELO",
	stateStartTLS: "sending STARTTLS",
	stateTLS:      "in the TLS handshake",
	stateMail:     "sending MAIL FROM",
	stateRcpt:     "sending RCPT TO",
	stateData:     "sending DATA",
	stateBody:     "sending the message",
	stateDot:      "sending end of data",
	stateRset:     "sending RSET",
	stateQuit:     "sending QUIT",
	stateIdle:     "idle",
	stateClosed:   "closed",
}

// Timeouts holds how long the client waits in each state.
type Timeouts [numStates]time.Duration

// DefaultTimeouts are RFC 5321 §4.5.3.2's: 5 minutes for the greeting and
// for each command, 2 for DATA's 354, 3 per block of the message, 10 for
// the final verdict. STARTTLS's reply and the handshake get Postfix's
// smtp_starttls_timeout (5 minutes) each. RSET and QUIT matter to nobody's mail, so they are
// short. The body timeout runs from the last write that made progress.
var DefaultTimeouts = Timeouts{
	stateGreeting: 5 * time.Minute,
	stateEHLO:     5 * time.Minute,
	stateHELO:     5 * time.Minute,
	stateStartTLS: 5 * time.Minute,
	stateTLS:      5 * time.Minute,
	stateMail:     5 * time.Minute,
	stateRcpt:     5 * time.Minute,
	stateData:     2 * time.Minute,
	stateBody:     3 * time.Minute,
	stateDot:      10 * time.Minute,
	stateRset:     1 * time.Minute,
	stateQuit:     1 * time.Minute,
}

// SetTimeout sets the timeout named as on the command line (-t
// NAME=DURATION): greeting, ehlo, helo, starttls, handshake, mail, rcpt, data, block, dot,
// rset, quit. It reports false for an unknown name.
func (t *Timeouts) SetTimeout(name string, d time.Duration) bool {
	for s := stateGreeting; s <= stateQuit; s++ {
		if stateNames[s] == name {
			t[s] = d
			return true
		}
	}
	return false
}

// TimeoutNames lists the names SetTimeout takes.
func TimeoutNames() []string {
	var names []string
	for s := stateGreeting; s <= stateQuit; s++ {
		names = append(names, stateNames[s])
	}
	return names
}
