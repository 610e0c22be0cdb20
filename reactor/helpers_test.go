package reactor

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fdSet tracks the descriptors a test owns, so that each one is closed
// exactly once: a number closed twice could belong to someone else by then.
type fdSet struct {
	open map[int]bool
}

func newFDSet(t testing.TB) *fdSet {
	s := &fdSet{open: make(map[int]bool)}
	t.Cleanup(s.closeAll)
	return s
}

func (s *fdSet) add(fd int) int { s.open[fd] = true; return fd }

// forget marks fd as closed by someone else (Loop.Close).
func (s *fdSet) forget(fd int) { delete(s.open, fd) }

func (s *fdSet) close(fd int) {
	if s.open[fd] {
		delete(s.open, fd)
		unix.Close(fd)
	}
}

func (s *fdSet) closeAll() {
	for fd := range s.open {
		unix.Close(fd)
	}
	clear(s.open)
}

// socketpair makes a connected, non-blocking, close-on-exec pair of unix
// stream sockets, portably (darwin has no SOCK_NONBLOCK).
func socketpair(t testing.TB, s *fdSet) (int, int) {
	t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	for _, fd := range p {
		s.add(fd)
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatalf("setnonblock: %v", err)
		}
	}
	return p[0], p[1]
}

func newLoop(t testing.TB, clock Clock) *Loop {
	t.Helper()
	l, err := New(clock)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { l.Shutdown() })
	return l
}

// stepUntil makes passes of at most limit each until done reports true. It
// fails the test after maxPasses passes or 5 s of real time, whichever
// comes first, and returns the number of passes made.
func stepUntil(t testing.TB, l *Loop, limit time.Duration, maxPasses int, what string, done func() bool) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for pass := 0; ; pass++ {
		if done() {
			return pass
		}
		if pass >= maxPasses || time.Now().After(deadline) {
			t.Fatalf("%s: not done after %d passes", what, pass)
		}
		if err := l.Step(limit); err != nil {
			t.Fatalf("Step: %v", err)
		}
	}
}

// stepBlocking runs l.Step(-1) and fails the test if it has not returned
// within 5 s. The loop is used from the helper goroutine only while this
// goroutine waits for it, so ownership passes back and forth cleanly.
func stepBlocking(t testing.TB, l *Loop) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.Step(-1) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Step(-1): %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Step(-1) still blocked after 5s")
	}
}

// isOpen reports whether fd is an open descriptor.
func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}
