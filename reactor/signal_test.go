package reactor

import (
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// bridgeRunning reports whether a signal bridge goroutine exists, started
// or not yet: it is the goroutine Notify creates.
func bridgeRunning() bool {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Contains(string(buf[:n]), "created by smtpfeed/reactor.(*Loop).Notify ")
}

func TestSignalWakeup(t *testing.T) {
	// os/signal starts its own watcher goroutine on first use and keeps it:
	// start it before taking the baseline.
	prime := make(chan os.Signal, 1)
	signal.Notify(prime, syscall.SIGUSR2)
	signal.Stop(prime)
	baseline := runtime.NumGoroutine()

	clock := NewFakeClock(epoch)
	l, err := New(clock)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var (
		got   []os.Signal
		nows  []time.Time
		other int
	)
	if err := l.Notify(func(now time.Time, sig os.Signal) {
		got = append(got, sig)
		nows = append(nows, now)
	}, syscall.SIGUSR1); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if err := l.Notify(func(time.Time, os.Signal) { other++ }, syscall.SIGUSR1); err == nil {
		t.Errorf("second Notify: got nil error, want one")
	}
	if !bridgeRunning() {
		t.Errorf("no signal bridge goroutine after Notify")
	}
	if got := l.Len(); got != 1 {
		t.Errorf("Len after Notify: got %d, want 1 (the self-pipe)", got)
	}
	// Nothing pending: a pass delivers nothing.
	if err := l.Step(0); err != nil {
		t.Fatalf("Step: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("signals before any was sent: got %v, want none", got)
	}

	clock.Advance(time.Hour)
	for i := range 2 {
		if err := unix.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
			t.Fatalf("kill: %v", err)
		}
		stepUntil(t, l, 100*time.Millisecond, 100, "SIGUSR1", func() bool { return len(got) > i })
	}
	if len(got) != 2 || got[0] != syscall.SIGUSR1 || got[1] != syscall.SIGUSR1 {
		t.Errorf("signals: got %v, want [%v %v]", got, syscall.SIGUSR1, syscall.SIGUSR1)
	}
	for _, n := range nows {
		if !n.Equal(clock.Now()) {
			t.Errorf("handler's now: got %v, want the loop's %v", n, clock.Now())
		}
	}
	if other != 0 {
		t.Errorf("handler of the refused Notify called %d times", other)
	}

	if err := l.Shutdown(); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	// The bridge goroutine is gone once Shutdown returns, give or take
	// its last instructions: poll, bounded.
	var n int
	for range 10000 {
		if n = runtime.NumGoroutine(); n <= baseline && !bridgeRunning() {
			break
		}
		runtime.Gosched()
	}
	if n > baseline {
		t.Errorf("goroutines after Shutdown: got %d, want <= %d", n, baseline)
	}
	if bridgeRunning() {
		t.Errorf("signal bridge goroutine still running after Shutdown")
	}
}
