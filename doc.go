// Package smtpfeed is the delivery engine: the only code that owns the
// reactor loop. It resolves every recipient domain at once with its own
// resolver (resolver*.go, mxlookup.go), groups recipients by MX host,
// delivers to each host over pipelined SMTP connections, one until its
// work outgrows it and fewer when it throttles (dest.go, lane.go,
// flow.go, throttle.go, conn.go, pool.go), and answers the caller once per recipient
// (delivery.go, outcome.go, lmtpconn.go); in resolve-only mode (resolveonly.go)
// it reports the grouping instead of delivering.
//
// The engine's invariants:
//   - Every accepted recipient gets exactly one answer, from the loop, and
//     the caller's side writes them in RCPT order.
//   - No recipient is answered delivered without a 2xx to its RCPT and to
//     the final dot of the transaction that carried it; a connection lost
//     after that dot answers 4.4.2 (possibly delivered), never 2xx or 5xx.
//   - A recipient's answer comes no later than the message deadline plus
//     DeadlineGrace; one whose message may already be delivered is never
//     answered before its server's verdict while that verdict can still
//     come (deadline, USR1, the first TERM).
//   - No MX host has more connections than -P, nor a new one during its
//     back-off; after a refusal within a transaction (a rate), no new
//     transaction starts there either until the back-off ends.
//   - Everything runs on the loop's goroutine: no locks, no goroutines,
//     and the time is the loop's pass time, passed down as now.
//
// The resolver's invariants:
//   - A (name, type) is asked at most once at a time (in-flight
//     deduplication) and not again while the cache holds an answer or a
//     remembered failure for it.
//   - At most ResolverConfig.MaxOutstanding queries are on the wire at once;
//     the rest wait in FIFO order.
//   - Every lookup ends, with addresses or a Failure carrying the reply
//     code for its recipients, no later than ResolverConfig.Timeout after
//     it began; a broken answer from the server asked ends it sooner.
package smtpfeed
