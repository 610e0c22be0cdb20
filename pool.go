package smtpfeed

import "time"

// pool counts connections against the limit (-n) and hands free slots to
// the destinations waiting for one, in order. At the limit it makes room
// by quitting the idle connection least likely to be needed: one no
// pending recipient can use, oldest first (paper §3.3).
type pool struct {
	e       *Engine
	limit   int
	open    int
	peak    int
	wanting []*dest
	// idle lists the lanes in the order they went idle, each with the
	// moment it did: victim's candidates, so that it reads the idle
	// connections, not every destination. An entry goes stale when its
	// lane works again (a newer entry follows) or closes; victim drops
	// stale entries as it meets them.
	idle []idleLane
}

// idleLane is a lane that went idle at a moment (its connection's
// LastUsed then).
type idleLane struct {
	l  *lane
	at time.Time
}

// idleCompactFloor is the least list length at which wentIdle compacts:
// a pool of a few connections would otherwise compact at nearly every
// idle, and 32 entries are nothing to keep.
const idleCompactFloor = 32

// wentIdle adds l, idle since its connection's LastUsed, to the
// candidates. Stale entries are dropped once they could outnumber the
// connections, so a long-lived listener's list stays the pool's size.
func (p *pool) wentIdle(l *lane) {
	if len(p.idle) >= 2*max(p.open, idleCompactFloor) {
		p.compact()
	}
	p.idle = append(p.idle, idleLane{l, l.conn.LastUsed})
}

// compact drops the stale entries.
func (p *pool) compact() {
	kept := p.idle[:0]
	for _, e := range p.idle {
		if !e.stale() {
			kept = append(kept, e)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
}

// stale reports an entry whose lane works again (a newer entry follows)
// or is closed.
func (e idleLane) stale() bool { return !e.l.conn.Idle() || !e.l.conn.LastUsed.Equal(e.at) }

// victimWindow is how many of the oldest idle lanes victim ranks. At
// 1,000,000 recipients (feedbench's 1m, 4,096 connections at most),
// ranking every idle lane for every slot taken was 15% of smtpfeed's CPU
// (4.2 s of 27.5 s profiled); with the window it no longer shows.
const victimWindow = 64

// tryAcquire takes a slot if one is free, for an extra lane: growing a
// destination neither waits nor makes room.
func (p *pool) tryAcquire() bool {
	if p.open >= p.limit || len(p.wanting) > 0 {
		return false
	}
	p.open++
	p.peak = max(p.peak, p.open)
	return true
}

// acquire takes a slot for d, or queues d and makes room.
func (p *pool) acquire(d *dest) bool {
	if p.open < p.limit {
		p.open++
		p.peak = max(p.peak, p.open)
		return true
	}
	d.queued = true
	p.wanting = append(p.wanting, d)
	if v := p.victim(); v != nil {
		v.conn.Quit() // its close frees the slot for the first in line
	}
	return false
}

// release frees a slot and starts the next destination in line.
func (p *pool) release() {
	p.open--
	for p.open < p.limit && len(p.wanting) > 0 {
		d := p.wanting[0]
		p.wanting = p.wanting[1:]
		d.queued = false
		d.start()
	}
}

// wanted reports destinations waiting for a slot.
func (p *pool) wanted() bool { return len(p.wanting) > 0 }

// victim is the idle connection to close to make room: a destination's
// extra lane before any first one, then one of an address no pending
// recipient can use, then the least recently used; among the
// victimWindow oldest idle lanes, so it stops at the first extra lane or
// the window's end.
func (p *pool) victim() *lane {
	front := 0
	for front < len(p.idle) && p.idle[front].stale() {
		front++
	}
	clear(p.idle[:front])
	p.idle = p.idle[front:]
	var best *lane
	bestRank, ranked := 3, 0
	for _, e := range p.idle {
		if ranked == victimWindow {
			break
		}
		d := e.l.d
		if e.stale() || len(d.waiting) > 0 {
			continue // its lanes take those
		}
		ranked++
		rank := 0 // lower goes first
		if len(d.lanes) > 0 && d.lanes[0] == e.l {
			rank = 1
			if p.e.plan.needed(d.addr) {
				rank = 2
			}
		}
		if rank < bestRank {
			best, bestRank = e.l, rank
			if rank == 0 {
				break
			}
		}
	}
	return best
}
