package fuzz

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"smtpfeed/proto/smtp"
)

// fuzzMessage's lines cannot be mistaken for commands, so the harness can
// tell the client's commands from the message in what it wrote.
var fuzzMessage = smtp.NewMessage([]byte("Subject: fuzz\r\n\r\nbody line\r\n"))

var clientSeeds = []string{
	"220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
	"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n",
	"220 mx\r\n502 no\r\n250 mx\r\n250 ok\r\n452 too many\r\n",
	"220 mx\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n421 bye\r\n",
	"220 mx\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n550 a\r\n550 b\r\n550 c\r\n354 go\r\n250 ok\r\n",
	"554 go away\r\n",
	"220 mx\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n451 later\r\n250 reset\r\n",
	"220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n220 go\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n",
	"220 mx\r\n250-mx\r\n250 STARTTLS\r\n454 no TLS\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n",
}

// FuzzClientSession feeds a client arbitrary server bytes, split at the
// given points, and checks what must hold whatever the server says: each
// recipient gets exactly one result; nobody is delivered without a 2xx to
// both its RCPT and the final dot; no message data goes out before a 354;
// every line written ends in CRLF and is within limits.
func FuzzClientSession(f *testing.F) {
	for _, s := range clientSeeds {
		f.Add([]byte(s), []byte{5, 17, 40}, uint8(3))
	}
	f.Fuzz(runSession)
}

func runSession(t *testing.T, server []byte, splits []byte, nrcpt uint8) {
	// A session that never ends becomes a crash the fuzzer keeps, not a
	// worker that silently stops making progress.
	tm := time.AfterFunc(10*time.Second, func() { panic("session did not end within 10s") })
	defer tm.Stop()
	sessionCheck(t.Fatalf, server, splits, nrcpt)
}

// sessionCheck runs one session and reports a broken property to fail.
func sessionCheck(fail func(string, ...any), server []byte, splits []byte, nrcpt uint8) {
	{
		n := int(nrcpt%8) + 1
		tx := &smtp.Envelope{From: "s@l.test", Msg: fuzzMessage}
		for i := range n {
			tx.Rcpts = append(tx.Rcpts, smtp.Recipient{Addr: fmt.Sprintf("r%d@d.test", i)})
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		c := smtp.NewClient(smtp.Config{Hostname: "c.test", MaxRcpts: 3, StartTLS: true}, now)
		c.Add(tx)
		var written []byte
		var results []smtp.Result
		fed := 0
		saw354 := func() bool { return bytes.Contains(server[:fed], []byte("354")) }
		drain := func() {
			if c.Handshaking() {
				c.Secured(now) // the handshake, as if it succeeded
			}
			if c.Idle() {
				c.Quit()
			}
			for _, seg := range c.Output() {
				if bytes.Contains(seg, []byte("body line")) && !saw354() {
					fail("message data written before any 354: server %q", server[:fed])
				}
				written = append(written, seg...)
			}
			var sum int
			for _, seg := range c.Output() {
				sum += len(seg)
			}
			c.Wrote(sum, now)
			results = append(results, c.Results()...)
		}
		// The fuzzer may hand in splits sharing memory with server: clone
		// before appending, or the append overwrites the input.
		for _, s := range append(slices.Clone(splits), 255) {
			if fed >= len(server) {
				break
			}
			next := min(fed+int(s)+1, len(server))
			c.Feed(server[fed:next], now)
			fed = next
			drain()
		}
		c.Lost(nil)
		drain()

		checkLines(fail, written)
		counts := make([]int, n)
		for _, r := range results {
			counts[r.Rcpt]++
		}
		for i, k := range counts {
			if k != 1 {
				fail("recipient %d has %d results, want 1: %v", i, k, results)
			}
		}
		checkDelivered(fail, written, server, results)
	}
}

// checkLines: every line written ends in CRLF, has no bare CR or LF, and
// is within RFC 5321's limits.
func checkLines(fail func(string, ...any), written []byte) {
	if len(written) > 0 && !bytes.HasSuffix(written, []byte("\r\n")) {
		fail("output does not end in CRLF: %q", written)
	}
	for _, line := range bytes.SplitAfter(written, []byte("\r\n")) {
		body := bytes.TrimSuffix(line, []byte("\r\n"))
		if bytes.ContainsAny(body, "\r\n") {
			fail("bare CR or LF in %q", line)
		}
		if len(line) > 1000 {
			fail("line of %d octets", len(line))
		}
	}
}

// checkDelivered matches the client's commands to the server's replies in
// order, as a pipelining server would pair them, and checks each
// delivered recipient's RCPT and final dot got 2xx.
func checkDelivered(fail func(string, ...any), written, server []byte, results []smtp.Result) {
	var cmds []string
	for _, line := range strings.Split(strings.TrimSuffix(string(written), "\r\n"), "\r\n") {
		switch line {
		case "Subject: fuzz", "", "body line":
			continue // the message
		}
		cmds = append(cmds, line)
	}
	var rr smtp.ReplyReader
	rr.Feed(server)
	var replies []smtp.Reply
	for rep, ok := rr.Next(); ok; rep, ok = rr.Next() {
		replies = append(replies, rep)
	}
	replyTo := func(cmd int) (smtp.Reply, bool) {
		if cmd+1 < len(replies) {
			return replies[cmd+1], true // replies[0] is the greeting
		}
		return smtp.Reply{}, false
	}
	for _, r := range results {
		if r.Status != smtp.Delivered {
			continue
		}
		addr := r.Env.Rcpts[r.Rcpt].Addr
		rcpt := -1
		for i, cmd := range cmds {
			if strings.HasPrefix(cmd, "RCPT TO:<"+addr+">") {
				rcpt = i
			}
		}
		if rcpt < 0 {
			fail("%s delivered but never sent in RCPT", addr)
		}
		if rep, ok := replyTo(rcpt); !ok || rep.Class() != 2 {
			fail("%s delivered but its RCPT got %v (%v)", addr, rep, ok)
		}
		dot := -1
		for i := rcpt + 1; i < len(cmds) && dot < 0; i++ {
			if cmds[i] == "." {
				dot = i
			}
		}
		if dot < 0 {
			fail("%s delivered but no final dot followed its RCPT", addr)
		}
		if rep, ok := replyTo(dot); !ok || rep.Class() != 2 {
			fail("%s delivered but the final dot got %v (%v)", addr, rep, ok)
		}
	}
}
