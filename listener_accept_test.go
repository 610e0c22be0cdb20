//go:build linux

package smtpfeed

import (
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestListenerAcceptOutOfDescriptors: a caller waiting in the accept
// queue while the process is out of descriptors keeps the listening
// socket readable. The listener must not spin the loop on it: it stops
// watching for a back-off, logs once, and accepts the caller once a
// descriptor is free again.
func TestListenerAcceptOutOfDescriptors(t *testing.T) {
	lt := newTCPListener(t, LMTPOptions{}, 0)
	loop, log, l := lt.loop, lt.log, lt.l
	caller, err := net.DialTimeout("tcp", lt.addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()

	// Out of descriptors: the soft limit at the lowest free descriptor
	// number makes the next one fail with EMFILE.
	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	probe, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(probe)
	low := saved
	low.Cur = uint64(probe)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower the descriptor limit: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
				t.Errorf("restoring the descriptor limit: %v", err)
			}
		}
	}
	defer restore()

	const (
		window    = 500 * time.Millisecond
		step      = 50 * time.Millisecond
		maxPasses = 2 * int(window/step) // waits of step, and back-off wake-ups
	)
	start, passes := time.Now(), loop.Passes()
	for time.Since(start) < window {
		if err := loop.Step(step); err != nil {
			t.Fatal(err)
		}
		if n := int(loop.Passes() - passes); n > 1000 {
			break
		}
	}
	n := int(loop.Passes() - passes)
	restore()
	if n > maxPasses {
		t.Errorf("%d loop passes in %v while accept failed, want at most %d: the loop spins on the listening socket", n, window, maxPasses)
	}
	failures := 0
	for _, s := range log.notices {
		if strings.Contains(s, "too many open files") {
			failures++
		}
	}
	if failures != 1 {
		t.Errorf("accept failure logged %d times, want once; first notices: %q", failures, log.notices[:min(3, len(log.notices))])
	}
	stepUntil(t, loop, func() bool { return l.Accepted() == 1 }, 5*time.Second)
}
