package smtp

import (
	"errors"
	"fmt"
)

// Status is a recipient's fate at one server.
type Status uint8

const (
	// Delivered: 2xx to its RCPT and 2xx to the final dot.
	Delivered Status = iota + 1
	// Deferred: a temporary failure from this server (4xx), or a connection
	// lost after the final dot, when the message may have arrived.
	Deferred
	// Bounced: a permanent failure (5xx).
	Bounced
	// NextHost: the connection failed before this recipient's fate was
	// known; the caller tries the next MX host or defers.
	NextHost
)

func (s Status) String() string {
	switch s {
	case Delivered:
		return "delivered"
	case Deferred:
		return "deferred"
	case Bounced:
		return "bounced"
	case NextHost:
		return "next-host"
	}
	return "invalid"
}

// Result is one recipient's fate at one server.
type Result struct {
	Env    *Envelope
	Rcpt   int // index into Tx.Rcpts
	Status Status
	// Reply is the server reply that decided, when one did; for a local
	// decision (message too large for the server) it is the reply we
	// stand in for the server with, and Err says why.
	Reply Reply
	// Err is set when no reply of the server decided: a lost connection,
	// a timeout, a protocol error, a local refusal.
	Err error
	// PossibleDuplicate marks a connection lost after the final dot and
	// before its reply: the server may have taken the message.
	PossibleDuplicate bool
}

func (r Result) String() string {
	addr := r.Env.Rcpts[r.Rcpt].Addr
	var ce *ConnError
	switch {
	case errors.As(r.Err, &ce) && ce.Err == nil:
		return fmt.Sprintf("<%s> %s: %v", addr, r.Status, r.Err)
	case r.Err != nil && r.Reply.Code != 0:
		return fmt.Sprintf("<%s> %s: %v (%s)", addr, r.Status, r.Err, r.Reply)
	case r.Err != nil:
		return fmt.Sprintf("<%s> %s: %v", addr, r.Status, r.Err)
	}
	return fmt.Sprintf("<%s> %s: %s", addr, r.Status, r.Reply)
}

// ConnError is why a connection ended before its work was done: a reply
// that ends the session (421, a refused greeting), a timeout, a lost
// connection or a protocol error, with what the client was doing.
type ConnError struct {
	Doing string // "sending RCPT TO"
	Reply Reply  // the reply that ended it, if any
	Err   error  // otherwise the transport or protocol error
}

func (e *ConnError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v while %s", e.Err, e.Doing)
	}
	return fmt.Sprintf("server said %s while %s", e.Reply, e.Doing)
}

func (e *ConnError) Unwrap() error { return e.Err }

// AtMail reports a session ended by the reply to MAIL FROM: a host
// that counts transactions a connection says so there.
func (e *ConnError) AtMail() bool { return e.Doing == stateDoing[stateMail] }

// ErrTimeout is the error of a server that did not answer in time.
var ErrTimeout = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string   { return "timed out" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
