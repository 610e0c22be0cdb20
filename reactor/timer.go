package reactor

import "time"

// Timer is a callback due at a point in time, owned by a Loop. Add, Reset
// and Stop cost O(log n) in the number of pending timers.
type Timer struct {
	when  time.Time
	index int // position in the heap, -1 when not pending
	seq   uint64
	f     func(now time.Time)
}

// Pending reports whether the timer is waiting to fire.
func (t *Timer) Pending() bool { return t.index >= 0 }

// When reports the time the timer is (or was last) due.
func (t *Timer) When() time.Time { return t.when }

// timerHeap is a binary min-heap ordered by due time, then by the order the
// timers were scheduled, so timers due at the same instant fire in the
// order they were set.
type timerHeap []*Timer

func (h timerHeap) less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h timerHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h timerHeap) down(i int) bool {
	start := i
	n := len(h)
	for {
		left := 2*i + 1
		if left >= n {
			break
		}
		least := left
		if right := left + 1; right < n && h.less(right, left) {
			least = right
		}
		if !h.less(least, i) {
			break
		}
		h.swap(i, least)
		i = least
	}
	return i > start
}

func (h *timerHeap) push(t *Timer) {
	t.index = len(*h)
	*h = append(*h, t)
	h.up(t.index)
}

// remove takes the timer at index i out of the heap.
func (h *timerHeap) remove(i int) {
	old := *h
	last := len(old) - 1
	t := old[i]
	if i != last {
		old.swap(i, last)
	}
	old[last] = nil
	*h = old[:last]
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
	t.index = -1
}

// fix restores heap order after the timer at index i changed its due time.
func (h timerHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

// AddTimer schedules f to run at when (or on the first pass after it).
func (l *Loop) AddTimer(when time.Time, f func(now time.Time)) *Timer {
	t := &Timer{when: when, index: -1, f: f}
	l.ResetTimer(t, when)
	return t
}

// Later runs f once the handlers of this pass are done, before the loop
// waits again: work that must not run under its caller's feet (a
// callback inside the call that asked for it, or a batch that the rest of
// the pass may still add to). It is a timer due now; StopTimer cancels it.
func (l *Loop) Later(f func(now time.Time)) *Timer { return l.AddTimer(l.Now(), f) }

// ResetTimer makes t due at when, whether or not it is pending.
func (l *Loop) ResetTimer(t *Timer, when time.Time) {
	l.timerSeq++
	t.when = when
	t.seq = l.timerSeq
	if t.index >= 0 {
		l.timers.fix(t.index)
		return
	}
	l.timers.push(t)
}

// StopTimer cancels t. It reports whether t was pending.
func (l *Loop) StopTimer(t *Timer) bool {
	if t == nil || t.index < 0 {
		return false
	}
	l.timers.remove(t.index)
	return true
}

// nextDeadline reports the earliest pending due time.
func (l *Loop) nextDeadline() (time.Time, bool) {
	if len(l.timers) == 0 {
		return time.Time{}, false
	}
	return l.timers[0].when, true
}

// fireTimers runs every timer due at or before now, earliest first. A timer
// that a callback schedules at or before now runs in the same pass.
func (l *Loop) fireTimers(now time.Time) {
	for len(l.timers) > 0 && !l.timers[0].when.After(now) {
		t := l.timers[0]
		l.timers.remove(0)
		t.f(now)
	}
}
