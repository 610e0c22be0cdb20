package smtpfeed

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"smtpfeed/cache"
	"smtpfeed/proto/resolv"
	"smtpfeed/reactor"

	"golang.org/x/sys/unix"
)

// qstate is where one question is on the wire.
type qstate uint8

const (
	qWaiting qstate = iota // held back by the window
	qUDP                   // tries sent over UDP; waiting for an answer or the retransmission timer
	qTCP                   // asking over TCP after a truncated answer
	qDone                  // answered, failed or timed out; sockets closed
)

var qstateNames = [...]string{"waiting", "udp", "tcp", "done"}

func (s qstate) String() string { return qstateNames[s] }

// try is one UDP datagram sent: its socket (shared, resolver_socket.go)
// and its own ID, unique on that socket, so its round trip is
// unambiguous.
type try struct {
	sock      *udpSocket
	id        uint16
	srv       int
	sent      time.Time
	seq       uint64 // its server's sendSeq when it left; 0 until then
	delivered int    // the window's answers so far when it was sent
}

// tcpTry is the one TCP exchange of a query whose UDP answer was
// truncated.
type tcpTry struct {
	fd        int
	id        uint16
	srv       int
	connected bool
	out       []byte // length-prefixed query not yet written
	in        []byte // what has arrived of the answer
	want      int    // answer length once the prefix is read
}

// query is one question in flight, shared by every lookup that needs it.
// Every question of a burst is pending at once (most of them waiting for
// the window), so the small fields are packed: 160 bytes, not 176.
type query struct {
	r        *Resolver
	q        resolv.Question
	waiters  []func(time.Time, reply)
	deadline time.Time
	failed   uint64
	open     []try
	tcp      *tcpTry
	timer    *reactor.Timer
	lastErr  string
	base     int32 // first server (rotate)
	tries    int32 // UDP tries sent
	broken   int32 // answers that did not parse (malformed)
	state    qstate
	fresh    bool // its first try is out and not yet timed out (Resolver.Stalled)
}

func (qq *query) failedOn(srv int) bool { return srv < 64 && qq.failed&(1<<srv) != 0 }
func (qq *query) markFailed(srv int) {
	if srv < 64 {
		qq.failed |= 1 << srv
	}
}

func (qq *query) allFailed() bool {
	for i := range qq.r.servers {
		if !qq.failedOn(i) {
			return false
		}
	}
	return true
}

// backoff is the exponent of the next try's timeout, counted from 1. The
// first retransmission of a try shown lost (its server answered a try sent
// after it) waits no longer than the first send did: the server is there
// and a drop is not its silence. Later ones back off as RFC 6298 §5.5
// has it, so a question that server never answers costs a try per doubling
// timeout, not one per round trip.
func (qq *query) backoff() int {
	n := int(qq.tries)
	if n == 2 && len(qq.open) > 0 {
		t := qq.open[len(qq.open)-1]
		if qq.r.servers[t.srv].ackSeq > t.seq {
			n = 1
		}
	}
	return n
}

func (qq *query) start(now time.Time) {
	qq.state = qUDP
	qq.timer = qq.r.loop.AddTimer(now, qq.onTimer)
	qq.sendUDP(now)
}

// onTimer retransmits, retries TCP, or gives up at the deadline.
func (qq *query) onTimer(now time.Time) {
	if qq.state == qDone {
		return
	}
	if !now.Before(qq.deadline) {
		why := fmt.Sprintf("no answer for %s within %v", qq.q, qq.r.cfg.Timeout)
		if qq.lastErr != "" {
			why += " (last: " + qq.lastErr + ")"
		}
		qq.r.stats.Timeouts++
		qq.finish(now, reply{neg: cache.Timeout, why: why}, true)
		return
	}
	if qq.state == qTCP {
		qq.closeTCP()
		qq.startTCP(now, qq.nextServer(now))
		return
	}
	r := qq.r
	if n := len(qq.open); n > 0 && qq.open[n-1].sock.fd >= 0 {
		// The answer may be waiting unread on the try's socket: the last
		// read filled its batch, or the poller's batch of ready
		// descriptors, full of SMTP sockets, left this one for the next
		// pass. Read before deciding the try is lost (one syscall, and
		// only for a late answer). What is read may end the query, or
		// fail the socket and so send the next try and set the timer.
		r.onSocket(now, qq.open[n-1].sock)
		if qq.state != qUDP || qq.timer.Pending() {
			return
		}
	}
	if n := len(qq.open); n > 0 {
		t := qq.open[n-1]
		s := r.servers[t.srv]
		if wait := s.rto(1, r.cfg.RetransmitFloor, r.cfg.RetransmitCeiling); s.queued(t, now, wait) {
			r.stats.Queued++
			qq.arm(now, wait) // still due: queued tries do not stall the resolver
			return
		}
		r.lost(t, now)
		if !r.win.mayPace(now) {
			// Retransmissions are paced too: timers set by a burst fire
			// as a burst, and a server that dropped the first would drop
			// a share of the second.
			qq.arm(now, r.win.next.Sub(now))
			return
		}
	}
	qq.sendUDP(now)
}

func (qq *query) nextServer(now time.Time) int {
	idx, _ := qq.r.pick(qq, now)
	return idx
}

func (qq *query) arm(now time.Time, wait time.Duration) {
	when := now.Add(wait)
	if when.After(qq.deadline) {
		when = qq.deadline
	}
	qq.r.loop.ResetTimer(qq.timer, when)
}

func (qq *query) sendUDP(now time.Time) {
	r := qq.r
	idx, srv := r.pick(qq, now)
	if qq.tries == 0 {
		qq.fresh = true
		r.fresh++
	} else {
		r.stale(qq)
	}
	qq.tries++
	qq.arm(now, srv.rto(qq.backoff(), r.cfg.RetransmitFloor, r.cfg.RetransmitCeiling))
	u, err := r.socketFor(idx)
	if err != nil {
		qq.lastErr = fmt.Sprintf("query %s to %v: %v", qq.q, srv.addr, err)
		return // the timer tries again
	}
	id := r.newTryID(u)
	pkt, err := resolv.Pack(id, qq.q, r.cfg.TrustAD)
	if err != nil {
		qq.finish(now, reply{neg: cache.Failure, why: err.Error()}, true)
		return
	}
	r.queue(u, id, qq, pkt) // written by the next flush, which numbers it (resolver_send.go)
	r.sent(u, id, qq)
	r.win.paced(now)
	qq.open = append(qq.open, try{sock: u, id: id, srv: idx, sent: now, delivered: r.win.delivered})
	if len(qq.open) > maxOpenTries {
		r.forget(qq.open[0].sock, qq.open[0].id)
		qq.open = append(qq.open[:0], qq.open[1:]...)
	}
}

// onUDP takes a datagram that arrived on socket u with the ID of one of
// the query's tries.
func (qq *query) onUDP(now time.Time, u *udpSocket, id uint16, pkt []byte) {
	r := qq.r
	var t try
	for _, o := range qq.open {
		if o.sock == u && o.id == id {
			t = o
		}
	}
	if t.sock == nil {
		r.stats.Mismatched++
		return
	}
	ans, err := resolv.Parse(pkt, t.id, qq.q)
	if errors.Is(err, resolv.ErrMalformed) {
		if len(pkt) >= udpAnswerRoom {
			// Cut to our buffer: larger than the size we asked for and
			// not marked truncated. TCP carries it whole.
			qq.closeUDP()
			qq.startTCP(now, t.srv)
			return
		}
		qq.malformed(now, t.srv, err, false)
		return
	}
	if err != nil {
		r.stats.Mismatched++
		return
	}
	srv := r.servers[t.srv]
	first := !srv.rtt.measured()
	srv.sample(now.Sub(t.sent))
	srv.answer(t, now)
	if first {
		r.rearm(t.srv, now)
	}
	r.win.answered(now.Sub(t.sent))
	qq.answered(now, ans, t.srv, false)
}

// dropTry forgets the query's tries on socket u, which failed.
func (qq *query) dropTry(u *udpSocket) {
	kept := qq.open[:0]
	for _, t := range qq.open {
		if t.sock != u {
			kept = append(kept, t)
		}
	}
	qq.open = kept
}

// refused acts on a server that is not there for this query (an ICMP
// port unreachable): another server is asked at once, if any is left.
func (qq *query) refused(now time.Time, idx int, why string) {
	if qq.state != qUDP {
		return
	}
	qq.lastErr = why
	qq.markFailed(idx)
	if len(qq.open) == 0 && !qq.allFailed() {
		qq.sendUDP(now)
	}
}

// malformed acts on an answer from server idx that carries the query's
// ID but does not parse: that server is broken for this question, as if
// it had said SERVFAIL. Another server is asked at once; with none left,
// the question is asked once more (a datagram mangled on its way), and
// a second broken answer fails the lookup at once (451 4.4.3) rather
// than at the end of its timeout.
func (qq *query) malformed(now time.Time, idx int, err error, overTCP bool) {
	r := qq.r
	r.stats.Malformed++
	qq.lastErr = fmt.Sprintf("%v sent an answer for %s that does not parse: %v", r.servers[idx].addr, qq.q, err)
	qq.broken++
	qq.failOver(now, idx, overTCP, qq.broken == 1)
}

// failOver moves the query on from server idx, which failed it (lastErr
// says how): to the next server it has not failed on, or, with none
// left, to failure, after one more try when again is set.
func (qq *query) failOver(now time.Time, idx int, overTCP, again bool) {
	qq.markFailed(idx)
	if qq.allFailed() && !again {
		qq.finish(now, reply{neg: cache.Failure, why: qq.lastErr}, true)
		return
	}
	if overTCP {
		qq.closeTCP()
		qq.startTCP(now, qq.nextServer(now))
		return
	}
	qq.sendUDP(now)
}

// answered acts on a matching reply from server idx.
func (qq *query) answered(now time.Time, ans resolv.Answer, idx int, overTCP bool) {
	r := qq.r
	srv := r.servers[idx]
	switch ans.Kind {
	case resolv.KindTruncated:
		if !overTCP {
			qq.closeUDP()
			qq.startTCP(now, idx)
			return
		}
		fallthrough // a truncated TCP answer is a broken server
	case resolv.KindServFail, resolv.KindRefused:
		qq.lastErr = fmt.Sprintf("%v answered %s for %s", srv.addr, ans.Kind, qq.q)
		srv.avoidUntil = now.Add(avoidFor)
		qq.failOver(now, idx, overTCP, false)
		return
	}
	for i := range ans.MX {
		ans.MX[i].Host = r.intern(ans.MX[i].Host)
	}
	rep := reply{set: rrset{kind: ans.Kind, canonical: ans.Canonical, chain: uint8(ans.Chain), mx: ans.MX, addrs: ans.Addrs,
		secure: r.cfg.TrustAD && ans.Authenticated}}
	if len(ans.TLSA) > 0 {
		rep.set.tlsa = &ans.TLSA
	}
	ttl := ans.TTL
	switch ans.Kind {
	case resolv.KindNoData:
		rep = reply{neg: cache.NoData, why: fmt.Sprintf("%v answered NODATA for %s", srv.addr, qq.q)}
	case resolv.KindNXDomain:
		rep = reply{neg: cache.NXDomain, why: fmt.Sprintf("%v answered NXDOMAIN for %s", srv.addr, qq.q)}
	case resolv.KindData:
		if ans.HasGlue() {
			ttl = min(ttl, ans.GlueTTL)
		}
	}
	if (ans.Kind == resolv.KindNoData || ans.Kind == resolv.KindNXDomain) && !ans.HasSOA {
		ttl = 0 // RFC 2308 §5: no SOA, no negative caching beyond the floor
	}
	rep.ttl = time.Duration(ttl) * time.Second
	qq.finish(now, rep, true)
}

// finish closes the query's sockets and hands the reply to the resolver.
func (qq *query) finish(now time.Time, rep reply, onWire bool) {
	if qq.state == qDone {
		return
	}
	qq.state = qDone
	qq.closeAll()
	qq.r.finished(qq, now, rep, onWire)
}

func (qq *query) closeAll() {
	qq.closeUDP()
	qq.closeTCP()
	if qq.timer != nil {
		qq.r.loop.StopTimer(qq.timer)
	}
}

func (qq *query) closeUDP() {
	for _, t := range qq.open {
		qq.r.forget(t.sock, t.id)
	}
	qq.open = nil
}

func (qq *query) closeTCP() {
	if qq.tcp != nil {
		qq.r.loop.Close(qq.tcp.fd)
		qq.tcp = nil
	}
}

// startTCP asks server idx over TCP (RFC 7766), without blocking: connect,
// write the length-prefixed query, read the length-prefixed answer.
func (qq *query) startTCP(now time.Time, idx int) {
	r := qq.r
	srv := r.servers[idx]
	qq.state = qTCP
	qq.tries++
	// TCP retransmits by itself: asking again only helps when the server
	// is gone, so the wait is the ceiling, not a multiple of the measured
	// UDP round trip (a loaded machine would ask twice for nothing).
	qq.arm(now, r.cfg.RetransmitCeiling)
	id := r.newID()
	pkt, err := resolv.Pack(id, qq.q, r.cfg.TrustAD)
	if err != nil {
		qq.finish(now, reply{neg: cache.Failure, why: err.Error()}, true)
		return
	}
	fd, err := reactor.DialTCP(srv.addr, netip.Addr{})
	if err != nil {
		qq.lastErr = fmt.Sprintf("query %s over TCP to %v: %v", qq.q, srv.addr, err)
		return // the timer tries the next server
	}
	t := &tcpTry{fd: fd, id: id, srv: idx, out: resolv.AppendTCP(make([]byte, 0, 2+len(pkt)), pkt)}
	if err := r.loop.Register(fd, reactor.Writable, func(now time.Time, ev reactor.Events) { qq.onTCP(now, t, ev) }); err != nil {
		unix.Close(fd)
		qq.lastErr = err.Error()
		return
	}
	qq.tcp = t
	r.stats.TCPSent++
}

func (qq *query) onTCP(now time.Time, t *tcpTry, ev reactor.Events) {
	if qq.tcp != t {
		return
	}
	if err := qq.stepTCP(now, t, ev); err != nil {
		srv := qq.r.servers[t.srv]
		qq.lastErr = fmt.Sprintf("query %s over TCP to %v: %v", qq.q, srv.addr, err)
		qq.markFailed(t.srv)
		qq.closeTCP()
		// The retransmission timer tries the next server.
	}
}

// stepTCP advances the exchange; an error ends this TCP try.
func (qq *query) stepTCP(now time.Time, t *tcpTry, ev reactor.Events) error {
	r := qq.r
	if !t.connected && ev&reactor.Writable != 0 {
		if err := reactor.ConnectResult(t.fd); err != nil {
			return err
		}
		t.connected = true
	}
	if len(t.out) > 0 {
		n, err := reactor.Write(t.fd, t.out)
		if err != nil {
			return err
		}
		t.out = t.out[n:]
		if len(t.out) == 0 {
			return r.loop.Modify(t.fd, reactor.Readable)
		}
		return nil
	}
	if ev&reactor.Readable == 0 {
		return nil
	}
	n, err := reactor.Read(t.fd, r.buf)
	if err == io.EOF {
		return errors.New("connection closed before the answer")
	}
	if err != nil {
		return err
	}
	// The answer is buffered by its announced length, at most
	// resolv.MaxMessage: a peer cannot make us hold more.
	t.in = append(t.in, r.buf[:n]...)
	if n, ok := resolv.TCPLength(t.in); ok && t.want == 0 {
		if t.want = n; n == 0 {
			return errors.New("empty answer")
		}
	}
	if t.want == 0 || len(t.in) < 2+t.want {
		return nil
	}
	ans, err := resolv.Parse(t.in[2:2+t.want], t.id, qq.q)
	if errors.Is(err, resolv.ErrMalformed) {
		qq.malformed(now, t.srv, err, true)
		return nil
	}
	if err != nil {
		r.stats.Mismatched++
		return err
	}
	qq.answered(now, ans, t.srv, true)
	return nil
}

// rearm pulls in the retransmission timers of the first tries sent to a
// server before its first round trip was measured: they wait the
// conservative initial timeout, and a burst dropped at the start would
// otherwise cost that second.
func (r *Resolver) rearm(srv int, now time.Time) {
	s := r.servers[srv]
	for _, qq := range r.inflight {
		if qq.state != qUDP || qq.tries != 1 || len(qq.open) != 1 || qq.open[0].srv != srv {
			continue
		}
		when := qq.open[0].sent.Add(s.rto(1, r.cfg.RetransmitFloor, r.cfg.RetransmitCeiling))
		if when.Before(qq.timer.When()) {
			if when.Before(now) {
				when = now
			}
			r.loop.ResetTimer(qq.timer, when)
		}
	}
}
