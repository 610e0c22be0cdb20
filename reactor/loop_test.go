package reactor

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestEventsString(t *testing.T) {
	for _, tc := range []struct {
		ev   Events
		want string
	}{
		{0, "none"},
		{Readable, "readable"},
		{Writable, "writable"},
		{Readable | Writable, "readable|writable"},
		{4, "invalid"},
	} {
		if got := tc.ev.String(); got != tc.want {
			t.Errorf("Events(%d).String() = %q, want %q", uint8(tc.ev), got, tc.want)
		}
	}
}

// TestSocketpairEcho registers one end of a socketpair with an echo handler
// that asks for write interest only while output is pending, pushes more
// data through it than the socket buffers hold, and then closes the peer.
func TestSocketpairEcho(t *testing.T) {
	fds := newFDSet(t)
	l := newLoop(t, nil)
	srv, cli := socketpair(t, fds)

	var (
		pending      []byte
		buf          = make([]byte, 64<<10)
		sawEOF       bool
		idleWritable int // Writable events while nothing was pending
		readErr      error
		closeErr     error
	)
	echo := func(now time.Time, ev Events) {
		if ev&Writable != 0 && len(pending) == 0 {
			idleWritable++
		}
		if ev&Readable != 0 && len(pending) < 1<<20 {
			n, err := Read(srv, buf)
			switch {
			case err == io.EOF:
				sawEOF = true
				closeErr = l.Close(srv)
				fds.forget(srv)
				return
			case err != nil:
				readErr = err
				return
			}
			pending = append(pending, buf[:n]...)
		}
		if len(pending) > 0 {
			n, err := Write(srv, pending)
			if err != nil {
				readErr = err
				return
			}
			pending = pending[n:]
		}
		want := Readable
		if len(pending) > 0 {
			want |= Writable
		}
		if err := l.Modify(srv, want); err != nil {
			readErr = err
		}
	}
	if err := l.Register(srv, Readable, echo); err != nil {
		t.Fatalf("Register: %v", err)
	}

	// 1 MiB of non-repeating data: several times what a socketpair
	// buffers, so the echo must wait for write readiness at some point.
	msg := make([]byte, 1<<20)
	for i := range msg {
		msg[i] = byte(i*7 + i>>8)
	}
	var (
		sent, got  int
		echoed     = make([]byte, 0, len(msg))
		rbuf       = make([]byte, 4<<10)
		sawWriteOn bool
	)
	stepUntil(t, l, 0, 100000, "echo", func() bool {
		if readErr != nil {
			t.Fatalf("handler: %v", readErr)
		}
		// The client reads replies only once its own writes stall or end,
		// so the echo's output backs up and it has to wait for room.
		if sent < len(msg) {
			n, err := Write(cli, msg[sent:min(len(msg), sent+32<<10)])
			if err != nil {
				t.Fatalf("client write: %v", err)
			}
			sent += n
			if n > 0 {
				return false
			}
		}
		n, err := Read(cli, rbuf)
		if err != nil {
			t.Fatalf("client read: %v", err)
		}
		echoed = append(echoed, rbuf[:n]...)
		got += n
		if l.Interest(srv)&Writable != 0 {
			sawWriteOn = true
		}
		return got == len(msg)
	})
	if !bytes.Equal(echoed, msg) {
		t.Fatalf("echoed %d bytes that differ from the %d sent", len(echoed), len(msg))
	}
	if !sawWriteOn {
		t.Errorf("write interest never enabled: the echo never had to wait for output room")
	}
	if got, want := l.Interest(srv), Readable; got != want {
		t.Errorf("interest after the echo drained: got %v, want %v", got, want)
	}
	if idleWritable != 0 {
		t.Errorf("handler woken for Writable with nothing pending %d times, want 0", idleWritable)
	}

	// Peer closes: the handler sees Readable and Read reports io.EOF.
	fds.close(cli)
	stepUntil(t, l, 0, 100, "EOF", func() bool { return sawEOF || readErr != nil })
	if readErr != nil {
		t.Fatalf("handler: %v", readErr)
	}
	if closeErr != nil {
		t.Errorf("Close: %v", closeErr)
	}
	if got := l.Len(); got != 0 {
		t.Errorf("Len after close: got %d, want 0", got)
	}
	if isOpen(srv) {
		t.Errorf("fd %d still open after the pass that closed it", srv)
	}
}

// TestTenThousandFDs registers 10,000 descriptors at once, makes each of
// them readable, and checks that every handler fires exactly once.
func TestTenThousandFDs(t *testing.T) {
	const pairs = 5000
	const need = 2*pairs + 64
	lim, err := RaiseFileLimit()
	if err != nil {
		t.Fatalf("RaiseFileLimit: %v", err)
	}
	if lim < need {
		t.Fatalf("RaiseFileLimit: got %d, want >= %d (raise the hard limit of open files to run this test)", lim, need)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if uint64(rl.Cur) != lim {
		t.Errorf("RaiseFileLimit reported %d, but the soft limit is %d", lim, rl.Cur)
	}

	fds := newFDSet(t)
	l := newLoop(t, nil)
	all := make([]int, 0, 2*pairs)
	calls := make(map[int]int, 2*pairs)
	var bad []string
	one := []byte{1}
	buf := make([]byte, 8)
	for range pairs {
		a, b := socketpair(t, fds)
		all = append(all, a, b)
	}
	for _, fd := range all {
		if err := l.Register(fd, Readable, func(_ time.Time, ev Events) {
			calls[fd]++
			n, err := Read(fd, buf)
			if n != 1 || err != nil || ev != Readable {
				bad = append(bad, "unexpected event or read")
			}
		}); err != nil {
			t.Fatalf("Register fd %d: %v", fd, err)
		}
	}
	if got, want := l.Len(), 2*pairs; got != want {
		t.Fatalf("Len: got %d, want %d", got, want)
	}
	for i := 0; i < len(all); i += 2 {
		for _, fd := range all[i : i+2] {
			if n, err := Write(fd, one); n != 1 || err != nil {
				t.Fatalf("write fd %d: got (%d, %v), want (1, nil)", fd, n, err)
			}
		}
	}
	total := func() int {
		n := 0
		for _, c := range calls {
			n += c
		}
		return n
	}
	passes := stepUntil(t, l, 0, 200, "10,000 handlers", func() bool { return total() >= 2*pairs })
	t.Logf("%d handlers fired in %d passes", total(), passes)
	// A few more passes: every byte was drained, so nothing may fire again.
	for range 3 {
		if err := l.Step(0); err != nil {
			t.Fatalf("Step: %v", err)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d handler calls had a bad event or read, first: %s", len(bad), bad[0])
	}
	if got, want := len(calls), 2*pairs; got != want {
		t.Errorf("distinct descriptors fired: got %d, want %d", got, want)
	}
	for _, fd := range all {
		if calls[fd] != 1 {
			t.Fatalf("handler of fd %d fired %d times, want 1", fd, calls[fd])
		}
	}
	for _, fd := range all {
		if err := l.Remove(fd); err != nil {
			t.Fatalf("Remove fd %d: %v", fd, err)
		}
		fds.close(fd)
	}
	if got := l.Len(); got != 0 {
		t.Errorf("Len after removing all: got %d, want 0", got)
	}
}

// TestCloseAndReuseWithinBatch: two descriptors are ready in one batch and
// whichever handler runs first closes the other through the loop, then
// makes a new socket and registers it.
func TestCloseAndReuseWithinBatch(t *testing.T) {
	fds := newFDSet(t)
	l := newLoop(t, nil)
	a, aPeer := socketpair(t, fds)
	b, bPeer := socketpair(t, fds)

	var (
		first, closed, fresh int = -1, -1, -1
		calls                    = map[int]int{}
		freshCalls           int
		errs                 []error
	)
	freshH := func(time.Time, Events) { freshCalls++ }
	h := func(self, other int) Handler {
		return func(now time.Time, ev Events) {
			calls[self]++
			if first >= 0 {
				return
			}
			first, closed = self, other
			if err := l.Close(other); err != nil {
				errs = append(errs, err)
			}
			fds.forget(other)
			if !isOpen(other) {
				errs = append(errs, errors.New("Close inside a pass closed the descriptor at once"))
			}
			s, err := newSocket(unix.AF_INET, unix.SOCK_STREAM)
			if err != nil {
				errs = append(errs, err)
				return
			}
			fresh = fds.add(s)
			if err := l.Register(fresh, Readable|Writable, freshH); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, p := range [][2]int{{a, b}, {b, a}} {
		if err := l.Register(p[0], Readable, h(p[0], p[1])); err != nil {
			t.Fatalf("Register: %v", err)
		}
	}
	for _, fd := range []int{aPeer, bPeer} {
		if _, err := Write(fd, []byte("x")); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if err := l.Step(time.Second); err != nil {
		t.Fatalf("Step: %v", err)
	}
	if len(errs) > 0 {
		t.Fatalf("handler: %v", errs)
	}
	if first < 0 {
		t.Fatalf("no handler ran")
	}
	if fresh == closed {
		t.Errorf("new socket got the number %d of the descriptor closed in the same batch", fresh)
	}
	if got := calls[closed]; got != 0 {
		t.Errorf("handler of the closed fd %d called %d times, want 0", closed, got)
	}
	if freshCalls != 0 {
		t.Errorf("handler registered in the batch called %d times in it, want 0", freshCalls)
	}
	if _, err := unix.FcntlInt(uintptr(closed), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("fcntl(F_GETFD) on fd %d after the pass: got %v, want EBADF", closed, err)
	}
	if got, want := l.Len(), 2; got != want {
		t.Errorf("Len: got %d, want %d", got, want)
	}
	// The new registration works from the next pass on.
	stepUntil(t, l, 0, 10, "fresh handler", func() bool { return freshCalls > 0 })
}

// TestStaleEventDropped: a handler removes and re-registers (or closes for
// real and reuses the number of) a descriptor that has an event in the same
// batch; the event is stale and the new handler must not get it.
func TestStaleEventDropped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reuse func(t *testing.T, l *Loop, fds *fdSet, other int) int
	}{
		{"remove-register", func(t *testing.T, l *Loop, fds *fdSet, other int) int {
			if err := l.Remove(other); err != nil {
				t.Errorf("Remove: %v", err)
			}
			return other
		}},
		{"remove-close-reuse", func(t *testing.T, l *Loop, fds *fdSet, other int) int {
			if err := l.Remove(other); err != nil {
				t.Errorf("Remove: %v", err)
			}
			fds.close(other) // a real close: the kernel may hand the number out again
			s, err := newSocket(unix.AF_UNIX, unix.SOCK_STREAM)
			if err != nil {
				t.Fatalf("socket: %v", err)
			}
			return fds.add(s)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fds := newFDSet(t)
			l := newLoop(t, nil)
			a, aPeer := socketpair(t, fds)
			b, bPeer := socketpair(t, fds)
			var (
				first   = -1
				oldCall = map[int]int{}
				newCall int
				newFD   = -1
			)
			h := func(self, other int) Handler {
				return func(time.Time, Events) {
					oldCall[self]++
					if first >= 0 {
						return
					}
					first = self
					newFD = tc.reuse(t, l, fds, other)
					if err := l.Register(newFD, Readable|Writable, func(time.Time, Events) { newCall++ }); err != nil {
						t.Errorf("Register: %v", err)
					}
				}
			}
			for _, p := range [][2]int{{a, b}, {b, a}} {
				if err := l.Register(p[0], Readable, h(p[0], p[1])); err != nil {
					t.Fatalf("Register: %v", err)
				}
			}
			for _, fd := range []int{aPeer, bPeer} {
				if _, err := Write(fd, []byte("x")); err != nil {
					t.Fatalf("write: %v", err)
				}
			}
			if err := l.Step(time.Second); err != nil {
				t.Fatalf("Step: %v", err)
			}
			if first < 0 {
				t.Fatalf("no handler ran")
			}
			other := a
			if first == a {
				other = b
			}
			if got := oldCall[other]; got != 0 {
				t.Errorf("old handler of fd %d called %d times, want 0", other, got)
			}
			if newCall != 0 {
				t.Errorf("new handler of fd %d called %d times with the stale event, want 0", newFD, newCall)
			}
			stepUntil(t, l, 0, 10, "new handler", func() bool { return newCall > 0 })
			if got := oldCall[other]; got != 0 {
				t.Errorf("old handler of fd %d called %d times after re-registration, want 0", other, got)
			}
		})
	}
}

// TestRegistrationErrors covers the error cases of Register, Modify,
// Interest and Remove.
func TestRegistrationErrors(t *testing.T) {
	fds := newFDSet(t)
	l := newLoop(t, nil)
	a, _ := socketpair(t, fds)
	nop := func(time.Time, Events) {}
	unregistered := a + 1000
	if isOpen(unregistered) {
		t.Fatalf("fd %d is open; the test needs a closed number", unregistered)
	}

	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"modify unregistered", func() error { return l.Modify(a, Writable) }},
		{"modify beyond table", func() error { return l.Modify(unregistered, Writable) }},
		{"modify negative", func() error { return l.Modify(-1, Writable) }},
		{"remove unregistered", func() error { return l.Remove(a) }},
		{"remove beyond table", func() error { return l.Remove(unregistered) }},
		{"remove negative", func() error { return l.Remove(-1) }},
		{"register negative", func() error { return l.Register(-1, Readable, nop) }},
		{"register nil handler", func() error { return l.Register(a, Readable, nil) }},
		{"register closed fd", func() error { return l.Register(unregistered, Readable, nop) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); err == nil {
				t.Errorf("got nil error, want one")
			}
			if got := l.Len(); got != 0 {
				t.Errorf("Len: got %d, want 0", got)
			}
		})
	}

	if err := l.Register(a, Readable, nop); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if err := l.Register(a, Writable, nop); err == nil {
		t.Errorf("second Register of fd %d: got nil error, want one", a)
	}
	if got, want := l.Interest(a), Readable; got != want {
		t.Errorf("Interest after a refused Register: got %v, want %v", got, want)
	}
	if err := l.Modify(a, Readable); err != nil {
		t.Errorf("Modify to the same interest: got %v, want nil", err)
	}
	if err := l.Modify(a, Readable|Writable); err != nil {
		t.Errorf("Modify: %v", err)
	}
	if got, want := l.Interest(a), Readable|Writable; got != want {
		t.Errorf("Interest: got %v, want %v", got, want)
	}
	if err := l.Remove(a); err != nil {
		t.Errorf("Remove: %v", err)
	}
	for _, fd := range []int{a, unregistered, -1} {
		if got := l.Interest(fd); got != 0 {
			t.Errorf("Interest(%d) when unregistered: got %v, want none", fd, got)
		}
	}
	if err := l.Remove(a); err == nil {
		t.Errorf("second Remove: got nil error, want one")
	}
	if got := l.Len(); got != 0 {
		t.Errorf("Len: got %d, want 0", got)
	}
	// Close outside a pass closes at once, registered or not.
	if err := l.Close(a); err != nil {
		t.Errorf("Close: %v", err)
	}
	fds.forget(a)
	if isOpen(a) {
		t.Errorf("fd %d open after Close outside a pass", a)
	}
}

// TestHangupWithWriteInterest: a descriptor watched only for Writable, whose
// output buffer is full, still gets an event when its peer goes away.
func TestHangupWithWriteInterest(t *testing.T) {
	fds := newFDSet(t)
	l := newLoop(t, nil)
	a, peer := socketpair(t, fds)
	// Fill a's output so that it is not writable.
	chunk := make([]byte, 64<<10)
	for i := 0; ; i++ {
		n, err := Write(a, chunk)
		if err != nil {
			t.Fatalf("fill: %v", err)
		}
		if n == 0 {
			break
		}
		if i > 10000 {
			t.Fatalf("socket buffer never filled")
		}
	}
	var events []Events
	if err := l.Register(a, Writable, func(_ time.Time, ev Events) { events = append(events, ev) }); err != nil {
		t.Fatalf("Register: %v", err)
	}
	for range 3 {
		if err := l.Step(0); err != nil {
			t.Fatalf("Step: %v", err)
		}
	}
	if len(events) != 0 {
		t.Fatalf("events on a full socket: got %v, want none", events)
	}
	fds.close(peer)
	stepUntil(t, l, 0, 10, "hang-up event", func() bool { return len(events) > 0 })
	if got, want := events[0], Writable; got != want {
		t.Errorf("event after hang-up: got %v, want %v (only what was asked for)", got, want)
	}
	if _, err := Write(a, []byte("x")); !errors.Is(err, unix.EPIPE) && !errors.Is(err, unix.ECONNRESET) {
		t.Errorf("write after hang-up: got %v, want EPIPE or ECONNRESET", err)
	}
}

// TestZeroInterest: a descriptor watched for nothing gets no events, even
// after its peer hangs up (epoll would report the hang-up on every wait and
// make the loop spin), and gets them again once interest is restored.
func TestZeroInterest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(l *Loop, fd int, h Handler) error
	}{
		{"modified to none", func(l *Loop, fd int, h Handler) error {
			if err := l.Register(fd, Readable, h); err != nil {
				return err
			}
			return l.Modify(fd, 0)
		}},
		{"registered with none", func(l *Loop, fd int, h Handler) error {
			return l.Register(fd, 0, h)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fds := newFDSet(t)
			l := newLoop(t, nil)
			a, peer := socketpair(t, fds)
			var events []Events
			if err := tc.setup(l, a, func(_ time.Time, ev Events) { events = append(events, ev) }); err != nil {
				t.Fatalf("setup: %v", err)
			}
			fds.close(peer)
			if ready, err := l.p.wait(0, nil); err != nil || len(ready) != 0 {
				t.Errorf("poller with only a paused descriptor: got %v, %v, want nothing", ready, err)
			}
			// Real clock: a pass should wait for the timer, not return at
			// once over and over. A few passes allow for EINTR.
			fired := false
			l.AddTimer(l.Now().Add(20*time.Millisecond), func(time.Time) { fired = true })
			passes := 0
			for ; !fired; passes++ {
				if passes == 5 {
					t.Fatalf("timer not fired after %d passes: the loop does not block", passes)
				}
				stepBlocking(t, l)
			}
			if len(events) != 0 {
				t.Errorf("events with no interest: got %v, want none", events)
			}
			if err := l.Modify(a, Readable); err != nil {
				t.Fatalf("Modify: %v", err)
			}
			stepUntil(t, l, 0, 10, "event after restoring interest", func() bool { return len(events) > 0 })
			if n, err := Read(a, make([]byte, 8)); n != 0 || err != io.EOF {
				t.Errorf("read: got (%d, %v), want (0, EOF)", n, err)
			}
			if err := l.Remove(a); err != nil {
				t.Errorf("Remove: %v", err)
			}
			if err := l.Register(a, 0, func(time.Time, Events) {}); err != nil {
				t.Errorf("Register after Remove: %v", err)
			}
			if err := l.Remove(a); err != nil {
				t.Errorf("Remove with no interest: %v", err)
			}
		})
	}
}

// TestBeforeWait: the hooks run at the start of every pass, before its
// handlers and due timers, in the order they were added, so what one pass
// gathers goes out at the start of the next.
func TestBeforeWait(t *testing.T) {
	fds := newFDSet(t)
	clock := NewFakeClock(time.Unix(1000, 0))
	l := newLoop(t, clock)
	a, peer := socketpair(t, fds)
	var trace []string
	if err := l.Register(a, Readable, func(time.Time, Events) {
		trace = append(trace, "handler")
		Read(a, make([]byte, 8))
	}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	l.AddTimer(clock.Now(), func(time.Time) { trace = append(trace, "timer") })
	l.BeforeWait(func() { trace = append(trace, "hook 1") })
	l.BeforeWait(func() { trace = append(trace, "hook 2") })
	if _, err := Write(peer, []byte("x")); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := l.Step(0); err != nil {
		t.Fatalf("Step: %v", err)
	}
	want := "hook 1,hook 2,handler,timer"
	if got := strings.Join(trace, ","); got != want {
		t.Errorf("first pass: got %s, want %s", got, want)
	}
	trace = nil
	if err := l.Step(0); err != nil {
		t.Fatalf("Step: %v", err)
	}
	if got := strings.Join(trace, ","); got != "hook 1,hook 2" {
		t.Errorf("idle pass: got %s, want the hooks alone", got)
	}
}
