package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// dnsServer serves the world's zone over UDP and TCP on one address.
//
// It runs its own socket loops and uses miekg/dns for the messages only.
// miekg's dns.Server wants the handler to write before it returns; a
// delayed answer written later from another goroutine would race with the
// server's own per-connection writer state (and, over TCP, the connection
// would stop reading while the handler sleeps, serializing delays). Here
// delayed answers wait in one queue served by one goroutine and one timer
// (delay.go), so delays never serialize and cost no goroutine each; the
// UDP read loop does nothing but read, parse and queue. The UDP socket
// asks for a udpReadBuffer receive buffer, so that the server, which
// shares the CPUs with the client under test, does not drop a burst of
// 10,000 queries by falling behind: with the system's default (208 KiB,
// a few hundred small datagrams) it did, unpredictably. The drop a real
// server's full buffer causes is modelled explicitly and reproducibly by
// Config.BurstLimit instead (burst.go), which counts queries by the time
// they reached the socket (rxtime_linux.go), not the time they were read.
type dnsServer struct {
	world *World
	stats *stats
	addr  netip.AddrPort
	udp   *net.UDPConn
	tcp   *net.TCPListener
	// hostDelay delays names that belong to no domain (host names, the
	// apex) when every name is delayed.
	hostDelay time.Duration
	delays    *delayQueue
	burst     *burst // nil: no drops beyond the kernel's

	stop  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// listenDNS binds UDP and TCP on the same address; with port 0 it retries
// until one free port binds for both.
func listenDNS(addr string) (*net.UDPConn, *net.TCPListener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("sim: DNS address %q: %w", addr, err)
	}
	if !ap.Addr().Is4() || ap.Addr().As4()[0] != 127 {
		return nil, nil, fmt.Errorf("sim: DNS address %v is not in 127.0.0.0/8", ap)
	}
	for try := 0; ; try++ {
		u, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(ap))
		if err != nil {
			return nil, nil, fmt.Errorf("sim: DNS listen udp %v: %w", ap, err)
		}
		port := u.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		t, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ap.Addr(), port)))
		if err == nil {
			return u, t, nil
		}
		u.Close()
		if ap.Port() != 0 || try >= 20 {
			return nil, nil, fmt.Errorf("sim: DNS listen tcp %v:%d: %w", ap.Addr(), port, err)
		}
	}
}

// udpReadBuffer is the receive buffer the UDP socket asks for: room for
// about 10,000 small queries (a datagram costs about 400 bytes of buffer).
// Linux grants at most net.core.rmem_max; the read loop still drains it.
const udpReadBuffer = 4 << 20

func startDNS(w *World, st *stats, addr string) (*dnsServer, error) {
	u, t, err := listenDNS(addr)
	if err != nil {
		return nil, err
	}
	u.SetReadBuffer(udpReadBuffer) // best effort: capped by the system
	enableRxTime(u)
	s := &dnsServer{
		world: w, stats: st, udp: u, tcp: t,
		addr: u.LocalAddr().(*net.UDPAddr).AddrPort(),
		stop: make(chan struct{}), conns: map[net.Conn]struct{}{},
		delays: newDelayQueue(), burst: newBurst(w.Config),
	}
	if w.Config.DNSDelay > 0 && w.Config.DNSDelayShare == 0 {
		s.hostDelay = w.Config.DNSDelay
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	return s, nil
}

// handle answers one query: it counts it, then drops it (silent names),
// or sends the reply now or after the name's delay.
func (s *dnsServer) handle(q *dns.Msg, transport string, send func([]byte)) {
	if len(q.Question) > 0 {
		s.stats.dnsQuery(canon(q.Question[0].Name), dns.Type(q.Question[0].Qtype).String(), transport)
	}
	s.stats.mark(PhaseQuery, time.Now())
	sendMarked := send
	send = func(b []byte) {
		// Marked first: a client that has the answer must find it on
		// the timeline.
		s.stats.mark(PhaseAnswer, time.Now())
		sendMarked(b)
	}
	r, d := s.answer(q)
	delay := s.hostDelay
	if d != nil {
		if d.Kind == KindSilent {
			return
		}
		delay = d.DNSDelay
		if d.Kind == KindTruncate && transport == "udp" {
			r.Truncated = true
			r.Answer, r.Ns, r.Extra = nil, nil, nil
			if opt := q.IsEdns0(); opt != nil {
				r.SetEdns0(opt.UDPSize(), false)
			}
		}
	}
	if transport == "udp" {
		size := dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil {
			size = int(max(opt.UDPSize(), dns.MinMsgSize))
		}
		r.Truncate(size)
	}
	b, err := r.Pack()
	if err != nil {
		return // cannot happen for the messages answer builds
	}
	if delay <= 0 {
		send(b)
		return
	}
	s.delays.after(delay, func() { send(b) })
}

func (s *dnsServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	oob := make([]byte, rxTimeOOB)
	for {
		n, oobn, _, from, err := s.udp.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		q := new(dns.Msg)
		if q.Unpack(buf[:n]) != nil || q.Response {
			continue // garbage gets no answer, like most servers
		}
		if s.burst != nil && s.burst.drop(rxTime(oob[:oobn], time.Now())) {
			if len(q.Question) > 0 {
				s.stats.dnsQuery(canon(q.Question[0].Name), dns.Type(q.Question[0].Qtype).String(), "udp")
			}
			s.stats.dnsDrop()
			continue
		}
		s.handle(q, "udp", func(b []byte) { s.udp.WriteToUDPAddrPort(b, from) })
	}
}

func (s *dnsServer) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.mu.Lock()
		select {
		case <-s.stop:
			s.mu.Unlock()
			c.Close()
			return
		default:
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serveTCPConn(c)
	}
}

// serveTCPConn reads length-prefixed queries until the client closes or
// is idle for 30 s; answers may go out of order when delays differ, which
// RFC 7766 allows.
func (s *dnsServer) serveTCPConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	var wmu sync.Mutex
	send := func(b []byte) {
		out := make([]byte, 2+len(b))
		binary.BigEndian.PutUint16(out, uint16(len(b)))
		copy(out[2:], b)
		wmu.Lock()
		c.Write(out)
		wmu.Unlock()
	}
	var lb [2]byte
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(c, lb[:]); err != nil {
			return
		}
		m := make([]byte, binary.BigEndian.Uint16(lb[:]))
		if _, err := io.ReadFull(c, m); err != nil {
			return
		}
		q := new(dns.Msg)
		if q.Unpack(m) != nil || q.Response {
			return
		}
		s.handle(q, "tcp", send)
	}
}

// close stops the loops, drops pending delayed answers and waits for
// every goroutine of the server.
func (s *dnsServer) close() {
	s.mu.Lock()
	close(s.stop)
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.udp.Close()
	s.tcp.Close()
	s.wg.Wait()
	s.delays.close()
}
