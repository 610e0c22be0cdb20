package reactor

import (
	"time"

	"golang.org/x/sys/unix"
)

// ThreadCPU is the CPU time (user and system) of the calling thread: with
// the loop's goroutine locked to its thread (runtime.LockOSThread), what
// the loop itself has cost, apart from every other goroutine's work and
// from the time it waited for a core.
func ThreadCPU() (time.Duration, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
