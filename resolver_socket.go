package smtpfeed

import (
	"fmt"
	"net/netip"
	"time"

	"smtpfeed/reactor"

	"golang.org/x/sys/unix"
)

// UDP queries go out on a small rotating set of connected sockets per
// server, each carrying many queries told apart by their IDs, instead of a
// socket per query.
//
// Why: a socket per query costs seven syscalls (socket, connect, epoll
// add, write, read, epoll del, close); a shared socket costs a share of
// one sendmmsg and one recvmmsg (resolver_send.go, reactor.Datagrams),
// each carrying a run of tries. Measured by CPU profiles of
// BenchmarkResolveSim (10,000 domains, 2 cores): sending a query went from
// about 32 us to 6 us and receiving from 24 us to 3 us with a write and a
// read per datagram, and CPU per 1,000 domains from 97 ms to 45 ms; the
// batches took the loop's CPU down by about a quarter again.
//
// The security trade-off: a forged answer must match the server's address
// and port (the socket is connected), the socket's random source port, an
// ID in use on that socket and the question. With a socket per query an
// off-path forger who guessed the port has one ID in 65,536 to hit; here up
// to maxTriesPerSocket IDs are live on one port, so one in 256. Against
// that the forger must still find one of udpSockets random ports, and each
// socket is retired after carrying maxTriesPerSocket queries, so a port
// found is soon useless. The resolver talks to its configured servers,
// normally a local or LAN resolver, not to the Internet at large.
const (
	// udpSockets is how many sockets a server's queries rotate over: 64
	// random source ports to guess, and few enough that opening them is
	// nothing next to thousands of queries.
	udpSockets = 64
	// maxTriesPerSocket retires a socket (no new queries; closed once its
	// last answer is in or given up) after that many datagrams: it bounds
	// the IDs live on one port at 256 of 65,536, and renews the ports.
	maxTriesPerSocket = 256
	// triesPerRun is how many tries of one pass go on one socket before
	// the next takes over: they leave in one batch (resolver_send.go).
	// Runs of 32 make 8 of a socket's maxTriesPerSocket; the answers come
	// back in clumps a single recvmmsg (maxReadsPerWakeup) takes whole.
	triesPerRun = 32
	// maxReadsPerWakeup bounds the datagrams read from one socket in one
	// pass (one recvmmsg), so that one busy socket cannot hold up the
	// loop.
	maxReadsPerWakeup = 64
	// udpAnswerRoom is the room for one UDP answer: we ask for at most
	// resolv.UDPSize, so a longer datagram breaks the protocol and, cut short
	// here, fails to parse like any garbage.
	udpAnswerRoom = 4096
)

// udpSocket is one connected UDP socket to one server and the tries
// waiting for an answer on it, by ID.
type udpSocket struct {
	fd      int
	srv     int
	pending map[uint16]*query
	carried int        // tries sent on it so far
	retired bool       // takes no new tries; closed when pending is empty
	out     []outgoing // tries queued for the next flush (resolver_send.go)
}

// socketFor returns a socket to server idx for a new try. The tries of one
// pass go in runs of up to triesPerRun on one socket, so that each run
// leaves in one batch; a run starts on a new socket while the server has
// fewer than udpSockets, else on the next in turn. A run ends with the
// pass, so a trickle of tries still spreads over every socket.
func (r *Resolver) socketFor(idx int) (*udpSocket, error) {
	s := r.servers[idx]
	if s.run > 0 && s.run < triesPerRun && s.cur != nil && !s.cur.retired {
		s.run++
		return s.cur, nil
	}
	u, err := r.nextSocket(s, idx)
	if err != nil {
		return nil, err
	}
	s.cur, s.run = u, 1
	return u, nil
}

// nextSocket opens a socket to server idx while it has fewer than
// udpSockets, else returns the next in turn.
func (r *Resolver) nextSocket(s *nameServer, idx int) (*udpSocket, error) {
	if len(s.socks) < udpSockets {
		fd, err := reactor.DialUDP(s.addr, netip.Addr{})
		if err != nil {
			return nil, err
		}
		u := &udpSocket{fd: fd, srv: idx, pending: make(map[uint16]*query)}
		if err := r.loop.Register(fd, reactor.Readable, func(now time.Time, _ reactor.Events) { r.onSocket(now, u) }); err != nil {
			unix.Close(fd)
			return nil, err
		}
		s.socks = append(s.socks, u)
		r.sockets[u] = struct{}{}
		r.stats.UDPSockets++
		return u, nil
	}
	s.next = (s.next + 1) % len(s.socks)
	return s.socks[s.next], nil
}

// newTryID picks a random ID not in use on u.
func (r *Resolver) newTryID(u *udpSocket) uint16 {
	for {
		id := r.newID()
		if u.pending[id] == nil {
			return id
		}
	}
}

// sent records a try on u and retires u once it has carried its share.
func (r *Resolver) sent(u *udpSocket, id uint16, qq *query) {
	u.pending[id] = qq
	u.carried++
	if u.carried >= maxTriesPerSocket {
		r.retire(u)
	}
}

// retire takes u out of its server's rotation; it closes once empty.
func (r *Resolver) retire(u *udpSocket) {
	if u.retired {
		return
	}
	u.retired = true
	s := r.servers[u.srv]
	for i, v := range s.socks {
		if v == u {
			s.socks = append(s.socks[:i], s.socks[i+1:]...)
			break
		}
	}
	if s.next >= len(s.socks) {
		s.next = 0
	}
	r.closeIfIdle(u)
}

// forget ends a try: its ID no longer matches anything on u.
func (r *Resolver) forget(u *udpSocket, id uint16) {
	delete(u.pending, id)
	r.closeIfIdle(u)
}

func (r *Resolver) closeIfIdle(u *udpSocket) {
	if u.retired && len(u.pending) == 0 && u.fd >= 0 {
		r.closeSocket(u)
	}
}

// onSocket reads the datagrams waiting on u and hands each to the query
// whose ID it carries.
func (r *Resolver) onSocket(now time.Time, u *udpSocket) {
	n, err := r.dgrams.Read(u.fd)
	if err != nil {
		r.socketFailed(now, u, err)
		return
	}
	for i := range n {
		if u.fd < 0 { // an answer before closed the socket
			return
		}
		msg := r.dgrams.At(i)
		if len(msg) < 2 {
			r.stats.Mismatched++
			continue
		}
		id := uint16(msg[0])<<8 | uint16(msg[1])
		qq := u.pending[id]
		if qq == nil {
			r.stats.Mismatched++ // late (given up), forged or garbage
			continue
		}
		qq.onUDP(now, u, id, msg)
	}
	// The tries these answers let out go now, not when the loop is about
	// to wait: the rest of the pass may be long (thousands of SMTP
	// sockets), and their timers count from now.
	r.flush()
}

// socketFailed handles an error on u's socket. On a connected UDP socket
// that is ECONNREFUSED: an ICMP port unreachable, nobody serves there, so
// every try on it is lost. The socket is retired and each of its queries
// tries another server now, as with a socket per query.
func (r *Resolver) socketFailed(now time.Time, u *udpSocket, err error) {
	srv := r.servers[u.srv]
	srv.avoidUntil = now.Add(avoidFor)
	var hit []*query
	for id, qq := range u.pending {
		hit = append(hit, qq)
		delete(u.pending, id)
		qq.dropTry(u)
	}
	r.retire(u)
	for _, qq := range hit {
		qq.refused(now, u.srv, fmt.Sprintf("query %s to %v: %v", qq.q, srv.addr, err))
	}
}

func (r *Resolver) closeSocket(u *udpSocket) {
	r.loop.Close(u.fd)
	u.fd = -1
	delete(r.sockets, u)
}

// closeSockets closes every socket, retired ones included.
func (r *Resolver) closeSockets() {
	for u := range r.sockets {
		clear(u.pending)
		u.out = nil
		r.closeSocket(u)
	}
	clear(r.unsent)
	r.unsent = r.unsent[:0]
	for _, s := range r.servers {
		s.socks, s.next, s.cur, s.run = nil, 0, nil, 0
	}
}
