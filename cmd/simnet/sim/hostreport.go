package sim

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// What each host saw of its sessions and throttles.

// maxHostEvents caps the accept and 421 times kept per throttling host,
// so that a long run keeps bounded memory; hosts that do not throttle
// keep none.
const maxHostEvents = 100_000

// HostCounts is what one host saw.
type HostCounts struct {
	Connections  int `json:"connections"`          // accepted, refused ones included
	PeakSessions int `json:"peak_sessions"`        // most sessions open at once (a refused connection is none)
	TooManyConns int `json:"too_many_connections"` // 421 greetings sent (MaxConns)
	TooManyMsgs  int `json:"too_many_messages"`    // 421 replies to MAIL sent (MsgsPerConn)
	RateLimited  int `json:"rate_limited"`         // 450 4.7.1 replies to RCPT (RcptRate)
	// Throttled: the host has a throttle on.
	Throttled bool `json:"throttled,omitempty"`
	// Accepts and Sent421 are, for a throttling host, when its
	// connections' handshakes completed (on Linux, from TCP_INFO: not
	// when a busy accept loop got to them) and when its 421s left, since
	// the origin, in order; EventsCapped says that some beyond
	// maxHostEvents were not kept.
	Accepts      []time.Duration `json:"accepts_ns,omitempty"`
	Sent421      []Event421      `json:"sent_421,omitempty"`
	EventsCapped bool            `json:"events_capped,omitempty"`
}

// Event421 is one 421 a host sent: when it left and which kind
// (TooManyConnections or TooManyMessages).
type Event421 struct {
	At   time.Duration `json:"at_ns"`
	Kind string        `json:"kind"`
}

// Violation is a connection a throttling host accepted soon after it
// sent a 421: Connect - Sent421 is within the gap asked for.
type Violation struct {
	Host    string        `json:"host"`
	Kind    string        `json:"kind"`        // of the 421
	Sent421 time.Duration `json:"sent_421_ns"` // when the 421 left, since the origin
	Connect time.Duration `json:"connect_ns"`  // when the connection was accepted
}

// ConnectsWithin lists, host by host in name order and then in time, every
// connection a host accepted in (t, t+gap], t being the last 421 that host
// sent (on any of its addresses) before it. A client that backs off for
// gap after a 421 causes none. It sees only the events kept (see
// HostCounts.EventsCapped).
func (r Report) ConnectsWithin(gap time.Duration) []Violation {
	var out []Violation
	for _, name := range slices.Sorted(maps.Keys(r.Hosts)) {
		hc := r.Hosts[name]
		if len(hc.Sent421) == 0 {
			continue
		}
		for _, a := range hc.Accepts {
			i := sort.Search(len(hc.Sent421), func(i int) bool { return hc.Sent421[i].At >= a }) - 1
			if i >= 0 && a-hc.Sent421[i].At <= gap {
				out = append(out, Violation{Host: name, Kind: hc.Sent421[i].Kind, Sent421: hc.Sent421[i].At, Connect: a})
			}
		}
	}
	return out
}

// throttleSummary is the Summary line on throttles; "" when no host
// throttles or was throttled.
func (r *Report) throttleSummary() string {
	t := r.HostTotals
	throttled := 0
	for _, hc := range r.Hosts {
		if hc.Throttled {
			throttled++
		}
	}
	if throttled == 0 && t.TooManyConns+t.TooManyMsgs+t.RateLimited == 0 {
		return ""
	}
	return fmt.Sprintf("throttling hosts %d: 421 too many connections %d, 421 too many messages %d, 450 rate limited %d; peak sessions %d\n",
		throttled, t.TooManyConns, t.TooManyMsgs, t.RateLimited, t.PeakSessions)
}

// hostSeen is what stats keeps per host.
type hostSeen struct {
	HostCounts // its event slices unused: see accepts and sent421
	accepts    []time.Time
	sent421    []sent421
}

type sent421 struct {
	at   time.Time
	kind string
}

// host returns the record of h, made on first use; s.mu is held.
func (s *stats) host(h *Host) *hostSeen {
	hs := s.hosts[h.Name]
	if hs == nil {
		hs = &hostSeen{HostCounts: HostCounts{Throttled: h.Throttled()}}
		s.hosts[h.Name] = hs
	}
	return hs
}

// accept counts a connection h accepted on addr at at, admitted as one of
// open sessions or refused, and returns its id.
func (s *stats) accept(h *Host, addr netip.Addr, at time.Time, open int, admitted bool) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.host(h)
	hs.Connections++
	s.nconns++
	s.perAddr[addr]++
	s.connSeq++
	if admitted {
		hs.PeakSessions = max(hs.PeakSessions, open)
		s.sessions++
		s.peak = max(s.peak, s.sessions)
	}
	if hs.Throttled {
		if len(hs.accepts) < maxHostEvents {
			hs.accepts = append(hs.accepts, at)
		} else {
			hs.EventsCapped = true
		}
	}
	return s.connSeq
}

// leave counts a session's end.
func (s *stats) leave() {
	s.mu.Lock()
	s.sessions--
	s.mu.Unlock()
}

// sent421 records a 421 of a kind that left h at at.
func (s *stats) sent421(h *Host, kind string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.host(h)
	switch kind {
	case TooManyConnections:
		hs.TooManyConns++
	case TooManyMessages:
		hs.TooManyMsgs++
	}
	if len(hs.sent421) < maxHostEvents {
		hs.sent421 = append(hs.sent421, sent421{at, kind})
	} else {
		hs.EventsCapped = true
	}
}

// rateLimited counts a 450 4.7.1 of h.
func (s *stats) rateLimited(h *Host) {
	s.mu.Lock()
	s.host(h).RateLimited++
	s.mu.Unlock()
}

// hostReport fills r.Hosts, r.HostTotals and r.ConnectionsPerHost; s.mu
// is held.
func (s *stats) hostReport(w *World, r *Report) {
	r.Hosts = make(map[string]HostCounts, len(s.hosts))
	for name, hs := range s.hosts {
		hc := hs.HostCounts
		for _, t := range hs.accepts {
			hc.Accepts = append(hc.Accepts, t.Sub(s.origin))
		}
		for _, e := range hs.sent421 {
			hc.Sent421 = append(hc.Sent421, Event421{At: e.at.Sub(s.origin), Kind: e.kind})
		}
		// Sessions record in the order they take the lock, which
		// need not be the order of their clocks.
		slices.Sort(hc.Accepts)
		slices.SortFunc(hc.Sent421, func(a, b Event421) int { return cmp.Compare(a.At, b.At) })
		r.Hosts[name] = hc
		r.ConnectionsPerHost[name] = hc.Connections
		t := &r.HostTotals
		t.Connections += hc.Connections
		t.TooManyConns += hc.TooManyConns
		t.TooManyMsgs += hc.TooManyMsgs
		t.RateLimited += hc.RateLimited
	}
	r.HostTotals.PeakSessions = s.peak
	for _, h := range w.Hosts {
		if _, ok := r.Hosts[h.Name]; !ok && h.Throttled() {
			r.Hosts[h.Name] = HostCounts{Throttled: true}
		}
	}
}
