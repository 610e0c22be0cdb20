package sim

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// hosts owns every mail host's socket: a listener per live host's
// address, a filled backlog-0 socket per dead host or dead IPv6 address
// (Host.Kind6), and nothing for refusing ones (so a connect there gets
// RST). All share one port.
type hosts struct {
	world *World
	stats *stats
	port  uint16
	lns   []net.Listener
	dead  []*deadHost

	stop  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	// serves is Host.Serves as sets, for RCPT.
	serves map[*Host]map[string]bool
	// gates holds each host's throttle state, by Host.Index.
	gates []gate
}

// bindHosts binds every live and dead host on port. With port 0 it takes
// the port the kernel gives the first host and retries with a new one when
// another address has it in use.
func bindHosts(w *World, port int) ([]net.Listener, []*deadHost, uint16, error) {
	var first *Host
	for _, h := range w.Hosts {
		if h.Kind != HostRefuse {
			first = h
			break
		}
	}
	if first == nil {
		return nil, nil, uint16(port), nil
	}
	for try := 0; ; try++ {
		lns, dead, p, err := bindHostsOnce(w, first, uint16(port))
		if err == nil || port != 0 || try >= 20 || !errors.Is(err, syscall.EADDRINUSE) {
			return lns, dead, p, err
		}
	}
}

func bindHostsOnce(w *World, first *Host, port uint16) (lns []net.Listener, dead []*deadHost, _ uint16, err error) {
	defer func() {
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			for _, d := range dead {
				d.close()
			}
			lns, dead = nil, nil
		}
	}()
	prefix := w.Config.IPv6Prefix
	bindDead := func(h *Host, ap netip.AddrPort) error {
		d, err := listenDead(h, ap)
		if err != nil {
			return bindHint(ap, prefix, err)
		}
		dead = append(dead, d)
		return nil
	}
	bind := func(h *Host) error {
		if h.Kind == HostDead {
			return bindDead(h, netip.AddrPortFrom(h.Addr, port))
		}
		for _, a := range h.Addrs() {
			if port == 0 && len(lns) > 0 {
				// The first address chose the port; the host's
				// other addresses take it too.
				port = lns[0].Addr().(*net.TCPAddr).AddrPort().Port()
			}
			ap := netip.AddrPortFrom(a, port)
			switch {
			case a == h.Addr6 && h.Kind6 == HostRefuse:
				continue
			case a == h.Addr6 && h.Kind6 == HostDead:
				if err := bindDead(h, ap); err != nil {
					return err
				}
				continue
			}
			network := "tcp4"
			if a.Is6() {
				network = "tcp6"
			}
			l, err := net.ListenTCP(network, net.TCPAddrFromAddrPort(ap))
			if err != nil {
				return bindHint(ap, prefix, fmt.Errorf("sim: host %s: listen %v: %w", h.Name, ap, err))
			}
			lns = append(lns, l)
		}
		return nil
	}
	if err := bind(first); err != nil {
		return lns, dead, port, err
	}
	if port == 0 {
		if len(lns) > 0 {
			port = lns[0].Addr().(*net.TCPAddr).AddrPort().Port()
		} else {
			p, err := dead[0].port()
			if err != nil {
				return lns, dead, port, err
			}
			port = p
		}
	}
	for _, h := range w.Hosts {
		if h == first || h.Kind == HostRefuse {
			continue
		}
		if err := bind(h); err != nil {
			return lns, dead, port, err
		}
	}
	return lns, dead, port, nil
}

// startHosts binds all hosts, fills the dead ones, checks that a refusing
// host refuses, and starts accepting.
func startHosts(w *World, st *stats, port int) (*hosts, error) {
	lns, dead, p, err := bindHosts(w, port)
	if err != nil {
		return nil, err
	}
	s := &hosts{world: w, stats: st, port: p, lns: lns, dead: dead, stop: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, serves: map[*Host]map[string]bool{}, gates: newGates(w, time.Now())}
	for _, h := range w.Hosts {
		set := make(map[string]bool, len(h.Serves))
		for _, d := range h.Serves {
			set[d] = true
		}
		s.serves[h] = set
	}
	// Filling waits for one timed-out connect per dead host: do them all
	// at once so a world with many dead hosts still starts in ~100 ms.
	errs := make(chan error, len(dead))
	for _, d := range dead {
		go func() { errs <- d.fill(netip.AddrPortFrom(d.addr, p)) }()
	}
	for range dead {
		err = errors.Join(err, <-errs)
	}
	if err == nil {
		err = s.checkRefuse()
	}
	if err != nil {
		s.close()
		return nil, err
	}
	for i, l := range lns {
		a := l.Addr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		s.wg.Add(1)
		go s.accept(lns[i], w.HostByAddr(a), a)
	}
	return s, nil
}

// checkRefuse makes sure a refusing host, or a refusing IPv6 address,
// refuses: a listener on the wildcard address and this port would
// otherwise take its connections.
func (s *hosts) checkRefuse() error {
	checked := map[int]bool{} // by family: one address is enough, they all share the port
	for _, h := range s.world.Hosts {
		var a netip.Addr
		switch {
		case h.Kind == HostRefuse:
			a = h.Addr
		case h.Kind6 == HostRefuse:
			a = h.Addr6
		default:
			continue
		}
		if checked[familyOf(a)] {
			continue
		}
		checked[familyOf(a)] = true
		ap := netip.AddrPortFrom(a, s.port)
		c, err := net.DialTimeout("tcp", ap.String(), time.Second)
		if err == nil {
			c.Close()
			return fmt.Errorf("sim: refusing host %s: %v accepted a connection (something listens on *:%d)", h.Name, ap, s.port)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("sim: refusing host %s: connect %v: got %v, want connection refused", h.Name, ap, err)
		}
	}
	return nil
}

// accept serves the listener on addr, one of h's addresses.
func (s *hosts) accept(l net.Listener, h *Host, addr netip.Addr) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off briefly
			// instead of spinning; the client sees a slow accept.
			select {
			case <-time.After(10 * time.Millisecond):
				continue
			case <-s.stop:
				return
			}
		}
		at := time.Now()
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
		g := &s.gates[h.Index]
		open, admitted := g.enter(h.MaxConns)
		id := s.stats.accept(h, addr, connectedAt(c, at), open, admitted)
		s.stats.mark(PhaseConnect, at)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ss := newSession(s, h, c, id, addr)
			if admitted {
				ss.gate = g
				ss.run(at)
				ss.release()
			} else {
				ss.refuse(at)
			}
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// fill fills every throttling host's recipient bucket, as at start.
func (s *hosts) fill(now time.Time) {
	for _, h := range s.world.Hosts {
		if h.RcptRate > 0 {
			s.gates[h.Index].fill(h.RcptRate, now)
		}
	}
}

// close stops accepting, ends every session and waits for them.
func (s *hosts) close() {
	s.mu.Lock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	for _, l := range s.lns {
		l.Close()
	}
	for _, d := range s.dead {
		d.close()
	}
	s.wg.Wait()
}
