package cache

import (
	"net/netip"
	"time"
)

// DefaultDownTime is how long an address that failed stays marked down: a
// list run reaches every domain within minutes, so one dead host costs one
// connect timeout per run, while a host that comes back is tried again in
// the next run of a long-lived listener.
const DefaultDownTime = 10 * time.Minute

// maxHosts bounds the table, as qmail's is bounded: past it the entry
// closest to expiry goes, so a flood of dead addresses cannot grow memory
// without end. 65,536 addresses are far more than one list reaches.
const maxHosts = 1 << 16

// Hosts remembers addresses that could not be reached, greeted with an
// error or timed out, so that no recipient waits for the same 75-second
// connect timeout twice (paper §3.3).
type Hosts struct {
	down map[netip.Addr]Down
	ttl  time.Duration
}

// Down is why and until when an address is not tried.
type Down struct {
	Until time.Time
	Why   string
}

// NewHosts makes a table whose entries last ttl (DefaultDownTime when 0).
func NewHosts(ttl time.Duration) *Hosts {
	if ttl <= 0 {
		ttl = DefaultDownTime
	}
	return &Hosts{down: make(map[netip.Addr]Down), ttl: ttl}
}

// MarkDown records that addr failed at now, for why.
func (h *Hosts) MarkDown(addr netip.Addr, why string, now time.Time) {
	if _, ok := h.down[addr]; !ok && len(h.down) >= maxHosts {
		h.evict(now)
	}
	h.down[addr] = Down{Until: now.Add(h.ttl), Why: why}
}

// IsDown reports whether addr is marked down at now, and why.
func (h *Hosts) IsDown(addr netip.Addr, now time.Time) (Down, bool) {
	d, ok := h.down[addr]
	if !ok {
		return Down{}, false
	}
	if !now.Before(d.Until) {
		delete(h.down, addr)
		return Down{}, false
	}
	return d, true
}

// Len reports how many addresses are remembered (expired ones included
// until they are next looked at or evicted).
func (h *Hosts) Len() int { return len(h.down) }

// evict drops every expired entry, or failing that the one that expires
// first.
func (h *Hosts) evict(now time.Time) {
	var first netip.Addr
	var firstUntil time.Time
	for a, d := range h.down {
		if !now.Before(d.Until) {
			delete(h.down, a)
			continue
		}
		if firstUntil.IsZero() || d.Until.Before(firstUntil) {
			first, firstUntil = a, d.Until
		}
	}
	if len(h.down) >= maxHosts {
		delete(h.down, first)
	}
}
