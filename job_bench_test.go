package smtpfeed

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkNewJob measures what a message holds per recipient while it is
// delivered: 100,000 recipients on 20,000 domains, the shape of
// feedbench's largest world. live-B/rcpt is what the job keeps until its
// last answer; B/op also counts what is garbage once it is built.
func BenchmarkNewJob(b *testing.B) {
	const rcpts, domains = 100_000, 20_000
	m := &Message{From: "list@example.org", Rcpts: make([]string, rcpts)}
	for i := range m.Rcpts {
		m.Rcpts[i] = fmt.Sprintf("user%d@d%d.example", i, i%domains)
	}
	e := &Engine{cfg: Config{DeliverNothing: true}}
	// Measured before the loop: what the loop's last job leaves behind
	// would blur it.
	live := liveBytes(func() any { return newDelivery(e, 1, m, nil, nil) })
	for b.Loop() {
		newDelivery(e, 1, m, nil, nil)
	}
	b.ReportMetric(float64(live)/rcpts, "live-B/rcpt")
}

// liveBytes is how much of the heap what build returns keeps reachable.
func liveBytes(build func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return after.HeapAlloc - before.HeapAlloc
}
