// Package cache holds smtpfeed's in-memory state that outlives one lookup
// or one connection: DNS answers (positive and negative, with clamped
// TTLs), the host-reachability table that spares a second 75-second
// connect timeout, and the pool of idle SMTP connections. It is plain data
// owned by the loop's goroutine: no locks, no goroutines, time passed in.
//
// cache imports nothing else of smtpfeed.
package cache
