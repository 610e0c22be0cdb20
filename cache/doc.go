// Package cache holds smtpfeed's in-memory state that outlives one lookup
// or one connection: DNS answers (positive and negative, with clamped
// TTLs) and the host-reachability table that spares a second 75-second
// connect timeout. (The idle connections and their limit are the engine's:
// pool.go in the root package.) It is plain data owned by the loop's
// goroutine: no locks, no goroutines, time passed in.
//
// cache imports nothing else of smtpfeed.
package cache
