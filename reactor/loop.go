package reactor

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// The per-OS poller files (poller_epoll.go, poller_kqueue.go) each define
// the same names, so the loop has no OS branches:
//
//	type poller struct{ ... }
//	func newPoller() (*poller, error)
//	func (p *poller) add(fd int, ev Events) error
//	func (p *poller) modify(fd int, old, ev Events) error
//	func (p *poller) remove(fd int, old Events) error
//	func (p *poller) wait(delay time.Duration, out []readiness) ([]readiness, error)
//	func (p *poller) close() error
//
// wait blocks when delay < 0, polls when delay == 0 and otherwise waits at
// most delay. It reports a hang-up or an error as Readable|Writable, so the
// handler's next read or write finds the real cause. add reports
// errNotPollable for a descriptor the kernel will not poll (a regular file
// under epoll); the loop then treats it as always ready.

// readiness is one descriptor's readiness as the poller reported it.
type readiness struct {
	fd int
	ev Events
}

var errNotPollable = errors.New("descriptor cannot be polled")

// entry is what the loop knows about one registered descriptor.
type entry struct {
	h        Handler
	interest Events
	gen      uint32 // changes on every Register and Remove: stale events are dropped
	live     bool
	always   bool // not pollable (regular file): ready on every pass
}

// Loop multiplexes descriptors and timers. It is owned by one goroutine.
type Loop struct {
	p          *poller
	clock      Clock
	now        time.Time
	fds        []entry // indexed by descriptor number
	nfds       int     // live registrations
	always     []int   // descriptors that are always ready
	timers     timerHeap
	timerSeq   uint64
	ready      []readiness
	gens       []uint32 // generation of each ready descriptor when the batch began
	closing    []int    // closed at the end of the pass
	inPass     bool
	stopped    bool
	signals    *signalBridge
	inbox      *Inbox
	beforeWait []func() // called before every wait for I/O
	passes     uint64   // passes made: a loop that spins shows here
	// busy is the time spent in passes outside the wait for I/O, and
	// longest the longest such pass: what the loop's work costs, and
	// the worst stall any socket saw from it.
	busy, longest time.Duration
}

// New makes a loop that reads time from clock (SystemClock when nil).
func New(clock Clock) (*Loop, error) {
	if clock == nil {
		clock = SystemClock
	}
	p, err := newPoller()
	if err != nil {
		return nil, err
	}
	return &Loop{p: p, clock: clock, now: clock.Now(), ready: make([]readiness, 0, 256)}, nil
}

// Now is the clock reading of the current (or last) pass.
func (l *Loop) Now() time.Time { return l.now }

// Len reports how many descriptors are registered.
func (l *Loop) Len() int { return l.nfds }

func (l *Loop) slot(fd int) *entry {
	if fd >= len(l.fds) {
		n := max(2*len(l.fds), fd+1, 64)
		grown := make([]entry, n)
		copy(grown, l.fds)
		l.fds = grown
	}
	return &l.fds[fd]
}

// Register starts watching fd for ev and calls h when it is ready.
func (l *Loop) Register(fd int, ev Events, h Handler) error {
	if fd < 0 || h == nil {
		return fmt.Errorf("register fd %d: invalid descriptor or handler", fd)
	}
	e := l.slot(fd)
	if e.live {
		return fmt.Errorf("register fd %d: already registered", fd)
	}
	always := false
	if err := l.p.add(fd, ev); err != nil {
		if !errors.Is(err, errNotPollable) {
			return fmt.Errorf("register fd %d: %w", fd, err)
		}
		always = true
		l.always = append(l.always, fd)
	}
	*e = entry{h: h, interest: ev, gen: e.gen + 1, live: true, always: always}
	l.nfds++
	return nil
}

// Modify changes what fd is watched for.
func (l *Loop) Modify(fd int, ev Events) error {
	if fd < 0 || fd >= len(l.fds) || !l.fds[fd].live {
		return fmt.Errorf("modify fd %d: not registered", fd)
	}
	e := &l.fds[fd]
	if e.interest == ev {
		return nil
	}
	if !e.always {
		if err := l.p.modify(fd, e.interest, ev); err != nil {
			return fmt.Errorf("modify fd %d: %w", fd, err)
		}
	}
	e.interest = ev
	return nil
}

// Interest reports what fd is watched for (0 when it is not registered).
func (l *Loop) Interest(fd int) Events {
	if fd < 0 || fd >= len(l.fds) || !l.fds[fd].live {
		return 0
	}
	return l.fds[fd].interest
}

// Remove stops watching fd without closing it. Events already collected
// for fd in the current batch are dropped.
func (l *Loop) Remove(fd int) error {
	if fd < 0 || fd >= len(l.fds) || !l.fds[fd].live {
		return fmt.Errorf("remove fd %d: not registered", fd)
	}
	e := &l.fds[fd]
	var err error
	if e.always {
		l.dropAlways(fd)
	} else if err = l.p.remove(fd, e.interest); err != nil {
		err = fmt.Errorf("remove fd %d: %w", fd, err)
	}
	*e = entry{gen: e.gen + 1}
	l.nfds--
	return err
}

func (l *Loop) dropAlways(fd int) {
	for i, a := range l.always {
		if a == fd {
			l.always = append(l.always[:i], l.always[i+1:]...)
			return
		}
	}
}

// Close stops watching fd (if it is watched) and closes it. Inside a pass
// the close itself waits for the end of the pass, so the kernel cannot hand
// the same number to a new socket while events for the old one are still
// being dispatched.
func (l *Loop) Close(fd int) error {
	var err error
	if fd >= 0 && fd < len(l.fds) && l.fds[fd].live {
		err = l.Remove(fd)
	}
	if l.inPass {
		for _, c := range l.closing {
			if c == fd {
				// Closed twice in one pass: the second close at the end of
				// the pass could hit a descriptor someone else just opened.
				return fmt.Errorf("close fd %d: already closed", fd)
			}
		}
		l.closing = append(l.closing, fd)
		return err
	}
	if cerr := unix.Close(fd); cerr != nil && err == nil {
		err = fmt.Errorf("close fd %d: %w", fd, cerr)
	}
	return err
}

// Stop makes Run return after the current pass.
func (l *Loop) Stop() { l.stopped = true }

// Passes reports how many passes the loop has made: a handler that
// leaves its descriptor ready without consuming it makes the loop spin,
// which shows as passes rising while nothing happens.
func (l *Loop) Passes() uint64 { return l.passes }

// Stopped reports whether Stop was called.
func (l *Loop) Stopped() bool { return l.stopped }

// Run makes passes until Stop is called or the poller fails.
func (l *Loop) Run() error {
	for !l.stopped {
		if err := l.Step(-1); err != nil {
			return err
		}
	}
	return nil
}

// Step makes one pass: it calls the BeforeWait hooks, waits for I/O until the earliest timer is due,
// or at most limit when limit >= 0, then dispatches what is ready, fires
// due timers and closes what handlers closed.
func (l *Loop) Step(limit time.Duration) error {
	for _, f := range l.beforeWait {
		f()
	}
	delay := l.waitDelay(limit)
	ready, err := l.p.wait(delay, l.ready[:0])
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	l.ready = ready
	l.now = l.clock.Now()
	l.passes++
	l.inPass = true
	l.dispatch(l.now)
	l.fireTimers(l.now)
	l.inPass = false
	l.closeDeferred()
	if d := l.clock.Now().Sub(l.now); d > 0 {
		l.busy += d
		l.longest = max(l.longest, d)
	}
	return nil
}

// Busy reports the time spent working in passes (not waiting for I/O),
// and the longest single pass.
func (l *Loop) Busy() (total, longest time.Duration) { return l.busy, l.longest }

// BeforeWait has f called at the start of every pass, before the loop
// waits for I/O: where output gathered since the last wait (log lines)
// goes out in one write rather than one per line, and never waits on a
// quiet loop.
func (l *Loop) BeforeWait(f func()) { l.beforeWait = append(l.beforeWait, f) }

// waitDelay is how long the pass may block: until the earliest timer, never
// longer than limit (when limit >= 0), and not at all when an unpollable
// descriptor is always ready.
func (l *Loop) waitDelay(limit time.Duration) time.Duration {
	if l.alwaysWanted() {
		return 0
	}
	delay := limit
	if when, ok := l.nextDeadline(); ok {
		d := max(when.Sub(l.clock.Now()), 0)
		if delay < 0 || d < delay {
			delay = d
		}
	}
	return delay
}

func (l *Loop) alwaysWanted() bool {
	for _, fd := range l.always {
		if l.fds[fd].interest != 0 {
			return true
		}
	}
	return false
}

// dispatch calls the handlers of the ready descriptors. The generation of
// each descriptor is taken before any handler runs: a handler that removes,
// closes or re-registers a descriptor makes the rest of its batch stale,
// and stale events are dropped rather than handed to a new owner.
func (l *Loop) dispatch(now time.Time) {
	for _, fd := range l.always {
		l.ready = append(l.ready, readiness{fd: fd, ev: Readable | Writable})
	}
	l.gens = l.gens[:0]
	for _, r := range l.ready {
		var g uint32
		if r.fd < len(l.fds) {
			g = l.fds[r.fd].gen
		}
		l.gens = append(l.gens, g)
	}
	for i, r := range l.ready {
		if r.fd >= len(l.fds) {
			continue
		}
		e := &l.fds[r.fd]
		if !e.live || e.gen != l.gens[i] {
			continue
		}
		// Only what the handler asked for: the poller reports a hang-up or
		// error as both, so either interest sees it.
		if ev := r.ev & e.interest; ev != 0 {
			e.h(now, ev)
		}
	}
}

func (l *Loop) closeDeferred() {
	for _, fd := range l.closing {
		unix.Close(fd)
	}
	l.closing = l.closing[:0]
}

// Shutdown releases the poller and the signal bridge. Registered
// descriptors stay open: they belong to whoever registered them.
func (l *Loop) Shutdown() error {
	l.closeDeferred()
	if l.signals != nil {
		l.signals.stop()
		l.signals = nil
	}
	if l.inbox != nil {
		l.Remove(l.inbox.rfd)
		l.inbox.stop()
		l.inbox = nil
	}
	return l.p.close()
}
