package smtpfeed

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// scriptedServer answers one SMTP session on a loopback port: every
// command at once, except that after MAIL it goes silent when mute, and
// its reply to the final dot waits for dotReply. seenDot is poked when the
// dot is in.
type scriptedServer struct {
	mute     bool
	sawMail  chan struct{} // poked when MAIL is in, if set
	seenDot  chan struct{}
	dotReply chan struct{}
}

func (s *scriptedServer) serve(t *testing.T) net.Addr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		c.Write([]byte("220 slow.test ESMTP\r\n"))
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			var reply string
			switch {
			case inData && line == ".":
				inData = false
				s.seenDot <- struct{}{}
				<-s.dotReply
				reply = "250 2.0.0 queued"
			case inData:
				continue
			case strings.HasPrefix(line, "EHLO"):
				reply = "250 slow.test"
			case strings.HasPrefix(line, "MAIL") && s.mute:
				s.sawMail <- struct{}{}
				continue // and every later command: silent
			case strings.HasPrefix(line, "MAIL"), strings.HasPrefix(line, "RCPT"):
				reply = "250 2.1.0 ok"
			case line == "DATA":
				inData, reply = true, "354 go ahead"
			case line == "QUIT":
				c.Write([]byte("221 bye\r\n"))
				return
			default:
				if s.mute {
					continue
				}
				reply = "250 ok"
			}
			c.Write([]byte(reply + "\r\n"))
		}
	}()
	return l.Addr()
}

// TestConnLifetime: a connection lives at most ConnConfig.Lifetime,
// however its server paces its replies. At the end of its life a
// transaction before its final dot is cut (its recipients go back, never
// possible duplicates); one whose dot is out gets its reply first.
func TestConnLifetime(t *testing.T) {
	const life = time.Minute // under every SMTP state timeout
	t.Run("cut before the dot", func(t *testing.T) {
		srv := &scriptedServer{mute: true, sawMail: make(chan struct{}, 1), seenDot: make(chan struct{}, 1), dotReply: make(chan struct{})}
		addr := srv.serve(t).(*net.TCPAddr).AddrPort()
		clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		loop := newLoop(t, clock)
		var run connRun
		c, err := DialSMTP(loop, "slow.test", addr, ConnConfig{SMTP: smtp.Config{Hostname: "feed.test"}, Lifetime: life}, run.handlers(true))
		if err != nil {
			t.Fatal(err)
		}
		c.Add(listTx([]byte("x\r\n"), "a@b.test", "b@b.test"))
		// The session is open and MAIL is out, unanswered.
		stepUntil(t, loop, func() bool {
			select {
			case <-srv.sawMail:
				return true
			default:
				return false
			}
		}, 10*time.Second)
		clock.Advance(life)
		stepUntil(t, loop, func() bool { return run.closed }, 10*time.Second)
		if !errors.Is(run.err, errLifetime) {
			t.Fatalf("closed with %v, want the lifetime error", run.err)
		}
		if len(run.results) != 2 {
			t.Fatalf("%d results for 2 recipients: %v", len(run.results), run.results)
		}
		for _, r := range run.results {
			if r.Status != smtp.NextHost || r.PossibleDuplicate {
				t.Errorf("%v: want next-host, not a possible duplicate", r)
			}
		}
	})
	t.Run("dot out: its reply first", func(t *testing.T) {
		srv := &scriptedServer{seenDot: make(chan struct{}, 1), dotReply: make(chan struct{})}
		addr := srv.serve(t).(*net.TCPAddr).AddrPort()
		clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		loop := newLoop(t, clock)
		var run connRun
		c, err := DialSMTP(loop, "slow.test", addr, ConnConfig{SMTP: smtp.Config{Hostname: "feed.test"}, Lifetime: life}, run.handlers(false))
		if err != nil {
			t.Fatal(err)
		}
		c.Add(listTx([]byte("x\r\n"), "a@b.test"))
		stepUntil(t, loop, func() bool {
			select {
			case <-srv.seenDot:
				return true
			default:
				return false
			}
		}, 10*time.Second)
		clock.Advance(life)
		loop.Step(0)
		if run.closed {
			t.Fatalf("closed (%v) with the final dot's reply owed", run.err)
		}
		close(srv.dotReply)
		stepUntil(t, loop, func() bool { return run.closed }, 10*time.Second)
		if len(run.results) != 1 || run.results[0].Status != smtp.Delivered {
			t.Fatalf("results %v, want the recipient delivered", run.results)
		}
		if run.err != nil {
			t.Errorf("closed with %v, want a QUIT after the reply", run.err)
		}
	})
}
