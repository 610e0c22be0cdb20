package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Sim is a running world: its DNS server and every mail host.
type Sim struct {
	World *World

	stats *stats
	dns   *dnsServer
	hosts *hosts
	once  sync.Once
}

// Start generates the world and starts serving it. When Start returns,
// every socket is bound and listening and every dead host already hangs,
// so a test may query and connect at once.
func Start(cfg Config) (*Sim, error) {
	w, err := Generate(cfg)
	if err != nil {
		return nil, err
	}
	return StartWorld(w)
}

// StartWorld serves an already generated world.
func StartWorld(w *World) (*Sim, error) {
	if err := makeCerts(w); err != nil {
		return nil, err
	}
	st := newStats()
	// Sized for what the world expects: a million deliveries appended
	// one by one copy the slice over and over while the sessions wait
	// on the stats lock.
	st.deliveries = make([]delivery, 0, w.Expected()[Delivered])
	h, err := startHosts(w, st, w.Config.SMTPPort)
	if err != nil {
		return nil, err
	}
	d, err := startDNS(w, st, w.Config.DNSAddr)
	if err != nil {
		h.close()
		return nil, err
	}
	st.markStart()
	return &Sim{World: w, stats: st, dns: d, hosts: h}, nil
}

// DNSAddr is the address the DNS server answers on, UDP and TCP.
func (s *Sim) DNSAddr() netip.AddrPort { return s.dns.addr }

// SMTPPort is the one port every mail host listens on.
func (s *Sim) SMTPPort() int { return int(s.hosts.port) }

// HostAddr is where a host's SMTP service is (or would be, for refusing
// hosts), on its first address; see Host.Addrs for the others.
func (s *Sim) HostAddr(h *Host) netip.AddrPort { return netip.AddrPortFrom(h.Addr, s.hosts.port) }

// MarkStart sets the origin of every "time since start" in the report to
// now; a benchmark calls it just before it starts the client, so report
// times compare directly with the bound. It also fills every throttling
// host's recipient bucket: the bound assumes them full at the start.
func (s *Sim) MarkStart() {
	s.stats.markStart()
	s.hosts.fill(time.Now())
}

// Accepted receives once a transaction's data has been accepted,
// coalesced: one value stands for every transaction since the last
// receive. A driver waiting for a client's deliveries reads Report after
// each value instead of polling it.
func (s *Sim) Accepted() <-chan struct{} { return s.stats.accepted }

// Report returns a snapshot of what the world has seen so far.
func (s *Sim) Report() Report { return s.stats.report(s.World) }

// ReadyLine is the line the command prints once the world serves: the
// range of the hosts' IPv4 addresses (host-addrs) and, in a world with
// IPv6, of their IPv6 ones (host-addrs6).
func (s *Sim) ReadyLine() string {
	var v4, v6 []netip.Addr
	for _, h := range s.World.Hosts {
		for _, a := range h.Addrs() {
			if a.Is4() {
				v4 = append(v4, a)
			} else {
				v6 = append(v6, a)
			}
		}
	}
	span := func(as []netip.Addr) string {
		if len(as) == 0 {
			return "none"
		}
		return fmt.Sprintf("%v-%v", slices.MinFunc(as, netip.Addr.Compare), slices.MaxFunc(as, netip.Addr.Compare))
	}
	line := fmt.Sprintf("simnet: ready dns=%v smtp-port=%d hosts=%d domains=%d host-addrs=%s",
		s.DNSAddr(), s.SMTPPort(), len(s.World.Hosts), len(s.World.Domains), span(v4))
	if len(v6) > 0 {
		line += " host-addrs6=" + span(v6)
	}
	if n := s.World.Config.Providers; n > 0 {
		line += fmt.Sprintf(" providers=%d", n)
	}
	return line
}

// Close stops every server, drops pending delayed answers and waits until
// all of the world's goroutines are gone. It is safe to call twice.
func (s *Sim) Close() error {
	s.once.Do(func() {
		s.dns.close()
		s.hosts.close()
	})
	return nil
}
