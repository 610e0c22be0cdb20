// Package reactor is the event loop that smtpfeed runs on: one goroutine
// owns a Loop, which multiplexes every file descriptor the program uses
// (resolver UDP and TCP sockets, SMTP connections, LMTP on stdin/stdout or a
// listener) through the kernel's poller, and runs every timer.
//
// Invariants:
//   - Only the goroutine that calls Run (or Step) touches the Loop and the
//     handlers it calls. The one other goroutine is the signal bridge, which
//     only writes signal numbers into a pipe the loop polls.
//   - Each pass computes its wait from the earliest timer, waits, reads the
//     clock once, dispatches I/O, fires expired timers and then closes the
//     descriptors handlers asked to close. Handlers get that one now; nothing
//     below the loop reads the clock, so a fake Clock drives a 75-second
//     timeout in no time.
//   - Polling is level-triggered: a handler that leaves data unread is called
//     again on the next pass. Write interest is the caller's to enable only
//     while a connect or output is pending.
//   - A descriptor closed through Loop.Close gets no further events, even from
//     the batch being dispatched, and its number cannot be reused by the
//     kernel until the batch ends.
//
// The package knows nothing of mail or DNS.
package reactor
