package lmtp

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// transactionInput is one message to n recipients, addressed as
// feedbench's simulated world addresses them.
func transactionInput(n int) []byte {
	var b strings.Builder
	b.WriteString("LHLO c.test\r\nMAIL FROM:<list@c.test>\r\n")
	for i := range n {
		fmt.Fprintf(&b, "RCPT TO:<user%d@d%05d.test>\r\n", i%5+1, i/5)
	}
	b.WriteString("DATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n")
	return []byte(b.String())
}

// liveHeap is the bytes reachable after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkTransaction runs one message to many recipients through a
// session, read in pieces as LMTPConn reads them, and answers the
// recipients last first: every answer but the first is held until the
// first comes. live-B/rcpt is the most the session and its message keep
// per recipient: just before the first answer, or just after it, before
// anything is written; out-B is the capacity of the output buffer then.
// The answer texts are one shared string, or (text=each) a string made
// for each answer, alike for each 50 recipients, as the engine makes one
// per recipient from its transaction's reply.
func BenchmarkTransaction(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		for _, each := range []bool{false, true} {
			name := fmt.Sprintf("rcpts=%d/text=shared", n)
			if each {
				name = fmt.Sprintf("rcpts=%d/text=each", n)
			}
			b.Run(name, func(b *testing.B) { benchTransaction(b, n, each) })
		}
	}
}

func benchTransaction(b *testing.B, n int, each bool) {
	in := transactionInput(n)
	answer := func(i int) Reply {
		r := Reply{Code: 250, Enhanced: "2.0.0", Text: "delivered"}
		if each {
			r.Text = fmt.Sprintf("mx%d.test[192.0.2.1] said: 2.0.0 queued as Q%d", i/50, i/50)
		}
		return r
	}
	var live uint64
	var outCap int
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		base := liveHeap()
		b.StartTimer()
		s := NewSession(Config{})
		for p := in; len(p) > 0; {
			k := min(len(p), 64<<10)
			s.Feed(p[:k])
			p = p[k:]
			for len(s.Output()) > 0 {
				s.Wrote(len(s.Output()))
			}
		}
		m, ok := s.Next()
		if !ok || len(m.Rcpts) != n {
			b.Fatalf("no message of %d recipients", n)
		}
		for i := n - 1; i > 0; i-- {
			if err := s.Answer(m, i, answer(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		live = max(live, liveHeap()-base)
		b.StartTimer()
		if err := s.Answer(m, 0, answer(0)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		live = max(live, liveHeap()-base) // every answer given, none written yet
		outCap = max(outCap, cap(s.out.buf))
		b.StartTimer()
		for len(s.Output()) > 0 {
			s.Wrote(len(s.Output()))
		}
		if !s.Done() {
			b.Fatal("session not done after QUIT")
		}
		runtime.KeepAlive(m) // as a driver would, delivering to its addresses
	}
	b.ReportMetric(float64(live)/float64(n), "live-B/rcpt")
	b.ReportMetric(float64(outCap), "out-B")
}
