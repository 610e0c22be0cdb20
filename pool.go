package smtpfeed

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
}

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
// recipient can use, then the least recently used.
func (p *pool) victim() *lane {
	var best *lane
	var bestRank int
	for _, d := range p.e.dests {
		if len(d.waiting) > 0 {
			continue
		}
		needed := p.e.plan.needed(d.addr)
		for k, l := range d.lanes {
			if !l.conn.Idle() {
				continue
			}
			rank := 0 // lower goes first
			if k == 0 {
				rank = 1
				if needed {
					rank = 2
				}
			}
			if best == nil || rank < bestRank || (rank == bestRank && l.conn.LastUsed.Before(best.conn.LastUsed)) {
				best, bestRank = l, rank
			}
		}
	}
	return best
}
