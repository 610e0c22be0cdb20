// Package smtpfeed is the delivery engine: the only code that owns the
// reactor loop. It resolves every recipient domain at once with its own
// resolver (resolver*.go, mxlookup.go), groups recipients by MX host and,
// in resolve-only mode (resolveonly.go), reports that grouping instead of
// delivering.
//
// Invariants:
//   - Everything runs on the loop's goroutine: no locks, no goroutines,
//     and the time is the loop's pass time, passed down as now.
//   - A (name, type) is asked at most once at a time (in-flight
//     deduplication) and not again while the cache holds an answer or a
//     remembered failure for it.
//   - At most ResolverConfig.MaxOutstanding queries are on the wire at once;
//     the rest wait in FIFO order.
//   - Every lookup ends, with addresses or a Failure carrying the reply
//     code for its recipients, no later than ResolverConfig.Timeout after it began.
package smtpfeed
