package smtp

import (
	"bytes"
	"strings"
	"testing"
)

// BenchmarkClientTransaction measures the machine alone: one pipelined
// session carrying one transaction of 100 recipients, the server's replies
// prepared in advance, output "written" without copying.
func BenchmarkClientTransaction(b *testing.B) {
	rcpts := rcptList(100, "user%03d@example.test")
	msg := NewMessage(bytes.Repeat([]byte("a line of a list message body\r\n"), 100))
	greeting := []byte("220 mx.test ESMTP\r\n")
	ehlo := []byte("250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n")
	group := []byte("250 2.1.0 ok\r\n" + strings.Repeat("250 2.1.5 ok\r\n", 100) + "354 go ahead\r\n")
	dot := []byte("250 2.0.0 queued\r\n")
	b.ReportAllocs()
	for b.Loop() {
		c := NewClient(Config{Hostname: "feed.test"}, t0)
		c.Add(&Envelope{From: "list@lists.test", Rcpts: rcpts, Msg: msg})
		for _, in := range [][]byte{greeting, ehlo, group, dot} {
			c.Feed(in, t0)
			n := 0
			for _, seg := range c.Output() {
				n += len(seg)
			}
			c.Wrote(n, t0)
		}
		if got := len(c.Results()); got != 100 {
			b.Fatalf("%d results, want 100", got)
		}
	}
}
