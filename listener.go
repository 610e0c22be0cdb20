package smtpfeed

import (
	"fmt"
	"net/netip"
	"time"

	"smtpfeed/reactor"
)

// DefaultMaxSessions caps LMTP sessions at once in listener mode: each
// holds its message in memory, and an MTA runs a handful of deliveries
// to one transport at a time.
const DefaultMaxSessions = 100

// acceptBackoff is how long the listener stops watching its socket after
// accept failed (out of descriptors, EMFILE): the caller stays in the
// accept queue, still readable, so a level-triggered poller would report
// it on every pass and the loop would spin doing nothing else. A tenth
// of a second frees the loop while a session or a connection closes.
const acceptBackoff = 100 * time.Millisecond

// LMTPListener accepts LMTP sessions on a listening socket (Postfix's and
// Exim's lmtp transports) and serves them all in the loop, sharing the
// engine: its caches, its reachability table and its idle connections.
type LMTPListener struct {
	e        *Engine
	loop     *reactor.Loop
	fd       int
	opt      LMTPOptions
	max      int
	sessions map[*LMTPConn]int // session -> its socket
	watching bool
	stopped  bool
	accepted int
	onIdle   func()
	// backoff, while pending, keeps the socket unwatched after a failed
	// accept; failing says the failure was logged, until an accept works.
	backoff *reactor.Timer
	failing bool
	// allow, when set, is the networks whose peers may use a TCP
	// listener; anyone else is refused at once. refusedFrom remembers the
	// peers already logged, so a scanner costs one line.
	allow       []netip.Prefix
	refusedFrom map[netip.Addr]bool
}

// maxRefusedLogged bounds the peers remembered as logged: past it a
// flood of strangers is not worth a map entry each.
const maxRefusedLogged = 1024

// AllowPeers makes a TCP listener accept only peers in nets: a listener
// anyone can reach would relay mail for them.
func (l *LMTPListener) AllowPeers(nets []netip.Prefix) { l.allow = nets }

// allowed reports whether the peer on fd may use the listener.
func (l *LMTPListener) allowed(fd int) (netip.Addr, bool) {
	if l.allow == nil {
		return netip.Addr{}, true
	}
	peer, ok := reactor.PeerAddr(fd)
	if !ok {
		return peer, false
	}
	for _, p := range l.allow {
		if p.Contains(peer) {
			return peer, true
		}
	}
	return peer, false
}

// refuse tells a peer outside the allowed networks why (best effort,
// the socket is new and its buffer empty) and closes it.
func (l *LMTPListener) refuse(fd int, peer netip.Addr) {
	reactor.Write(fd, []byte("421 4.7.1 "+peer.String()+" may not use this LMTP listener\r\n"))
	l.loop.Close(fd)
	if l.refusedFrom[peer] || len(l.refusedFrom) >= maxRefusedLogged {
		return
	}
	if l.refusedFrom == nil {
		l.refusedFrom = make(map[netip.Addr]bool)
	}
	l.refusedFrom[peer] = true
	l.e.cfg.Log.Notice(fmt.Sprintf("lmtp listener: refused %s: not in the networks allowed (-lmtp-allow)", peer))
}

// ListenLMTP serves LMTP on the listening socket fd, at most max sessions
// at once (0: DefaultMaxSessions); beyond that new callers wait in the
// accept queue.
func ListenLMTP(loop *reactor.Loop, e *Engine, fd int, opt LMTPOptions, max int) (*LMTPListener, error) {
	if max <= 0 {
		max = DefaultMaxSessions
	}
	l := &LMTPListener{e: e, loop: loop, fd: fd, opt: opt, max: max, sessions: make(map[*LMTPConn]int)}
	if err := loop.Register(fd, reactor.Readable, l.ready); err != nil {
		return nil, fmt.Errorf("lmtp listener: %w", err)
	}
	l.watching = true
	return l, nil
}

// Sessions reports the sessions open now; Accepted those ever accepted.
func (l *LMTPListener) Sessions() int { return len(l.sessions) }

// Accepted reports how many sessions were accepted.
func (l *LMTPListener) Accepted() int { return l.accepted }

// Stop stops accepting sessions and drains the open ones: each ends once
// the message it carries is answered. idle is called when none is left.
func (l *LMTPListener) Stop(idle func()) {
	l.stopped, l.onIdle = true, idle
	if l.watching {
		l.loop.Remove(l.fd)
		l.watching = false
	}
	for c := range l.sessions {
		c.Drain()
	}
	l.checkIdle()
}

func (l *LMTPListener) checkIdle() {
	if l.stopped && len(l.sessions) == 0 && l.onIdle != nil {
		f := l.onIdle
		l.onIdle = nil
		f()
	}
}

func (l *LMTPListener) ready(now time.Time, _ reactor.Events) {
	for len(l.sessions) < l.max && !l.stopped {
		cfd, err := reactor.Accept(l.fd)
		if err != nil {
			l.acceptFailed(now, err)
			return
		}
		if cfd < 0 {
			return
		}
		if l.failing {
			l.failing = false
			l.e.cfg.Log.Notice("lmtp listener: accepting again")
		}
		if peer, ok := l.allowed(cfd); !ok {
			l.refuse(cfd, peer)
			continue
		}
		l.accepted++
		var c *LMTPConn
		c, err = ServeLMTP(l.loop, l.e, cfd, cfd, l.opt, func(err error) { l.ended(c, err) })
		if err != nil {
			l.loop.Close(cfd)
			continue
		}
		if c.ended {
			l.loop.Close(cfd) // over before it began: the caller left at once
			continue
		}
		l.sessions[c] = cfd
	}
	if len(l.sessions) >= l.max && l.watching {
		// At the limit: callers wait in the accept queue.
		l.loop.Modify(l.fd, 0)
	}
}

// acceptFailed stops watching the socket for acceptBackoff: the caller
// that could not be accepted keeps it readable. The failure is logged
// once until an accept works again.
func (l *LMTPListener) acceptFailed(now time.Time, err error) {
	if !l.failing {
		l.failing = true
		l.e.cfg.Log.Notice(fmt.Sprintf("lmtp listener: %v; not accepting for %v at a time until it works again", err, acceptBackoff))
	}
	if l.watching {
		l.loop.Modify(l.fd, 0)
	}
	if l.backoff == nil {
		l.backoff = l.loop.AddTimer(now.Add(acceptBackoff), l.resume)
		return
	}
	l.loop.ResetTimer(l.backoff, now.Add(acceptBackoff))
}

// resume watches the socket again after a back-off.
func (l *LMTPListener) resume(time.Time) {
	if !l.stopped && l.watching && len(l.sessions) < l.max {
		l.loop.Modify(l.fd, reactor.Readable)
	}
}

// ended closes a session's socket and makes room for the next caller.
func (l *LMTPListener) ended(c *LMTPConn, err error) {
	if c == nil {
		return // ended inside ServeLMTP, before it returned
	}
	if err != nil {
		l.e.cfg.Log.Notice(fmt.Sprintf("lmtp session %d: %v", c.in, err))
	}
	delete(l.sessions, c)
	l.loop.Close(c.in)
	if !l.stopped && l.watching && len(l.sessions) < l.max && !pending(l.backoff) {
		l.loop.Modify(l.fd, reactor.Readable)
	}
	l.checkIdle()
}
