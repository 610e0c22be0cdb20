package sim

import (
	"sync"
	"time"
)

// Throttling hosts.
//
// A host's throttles (Host.MaxConns, MsgsPerConn, RcptRate) hold for the
// host as a whole, whichever of its addresses a client connects to, as
// behind a provider's load balancer. The replies are those big providers
// send, with Postfix's wording:
//
//	421 4.7.0 <host> too many connections, try again later     (greeting)
//	421 4.7.0 <host> too many messages on this connection, try again later (MAIL)
//	450 4.7.1 <rcpt>: rate limited, try again later            (RCPT)
//
// The greeting's 421 carries its enhanced code whenever the host has
// ENHANCEDSTATUSCODES, as Postfix's does; the others follow reply's rule
// (only after EHLO). After a 421 the server closes the connection.
//
// A session's slot is given back when the server decides to end it (QUIT
// read, 421 decided), before its last reply leaves, or when the client
// goes away: a client that saw the 221 may connect again at once and be
// admitted. A client that drops the connection without QUIT and
// reconnects at once can still race with the server noticing, as on any
// real server.

// The kinds of 421 a throttling host sends.
const (
	TooManyConnections = "too-many-connections"
	TooManyMessages    = "too-many-messages"
)

// gate is one host's shared throttle state: its open sessions and its
// recipient bucket. Every session of the host, on any of its addresses,
// goes through the same gate.
type gate struct {
	mu       sync.Mutex
	sessions int
	tokens   float64
	at       time.Time // when tokens was last brought up to date
}

// newGates makes a gate per host, indexed by Host.Index, with full
// buckets at now.
func newGates(w *World, now time.Time) []gate {
	g := make([]gate, len(w.Hosts))
	for _, h := range w.Hosts {
		g[h.Index].fill(h.RcptRate, now)
	}
	return g
}

// enter opens a session unless limit (0: none) are open already; it
// returns the sessions open after.
func (g *gate) enter(limit int) (open int, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if limit > 0 && g.sessions >= limit {
		return g.sessions, false
	}
	g.sessions++
	return g.sessions, true
}

// leave closes a session that enter opened.
func (g *gate) leave() {
	g.mu.Lock()
	g.sessions--
	g.mu.Unlock()
}

// take takes one recipient token at now from a bucket refilled at rate
// per second and holding at most rate; false when it is empty.
func (g *gate) take(rate int, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d := now.Sub(g.at); d > 0 {
		g.tokens = min(float64(rate), g.tokens+d.Seconds()*float64(rate))
		g.at = now
	}
	if g.tokens < 1 {
		return false
	}
	g.tokens--
	return true
}

// fill fills the bucket, as at start.
func (g *gate) fill(rate int, now time.Time) {
	g.mu.Lock()
	g.tokens, g.at = float64(rate), now
	g.mu.Unlock()
}
