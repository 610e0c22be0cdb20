package smtpfeed

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"golang.org/x/sys/unix"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/lmtp"
)

// lmtpPair serves LMTP on one end of a socketpair and returns the other
// end as a net.Conn for the caller.
func lmtpPair(t *testing.T, e *Engine, opt LMTPOptions) (net.Conn, *LMTPConn, *error, *bool) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "lmtp-caller")
	caller, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caller.Close(); unix.Close(fds[0]) })
	var endErr error
	var ended bool
	c, err := ServeLMTP(e.loop, e, fds[0], fds[0], opt, func(err error) { endErr, ended = err, true })
	if err != nil {
		t.Fatal(err)
	}
	return caller, c, &endErr, &ended
}

// lmtpExchange writes a whole LMTP session from the caller's side of an
// lmtpPair, runs e's loop until the session ends cleanly (within limit),
// and returns the final line of every reply (a multi-line reply counts
// once), the 220 greeting first and the 221 last.
func lmtpExchange(t *testing.T, e *Engine, caller net.Conn, endErr *error, ended *bool, session string, limit time.Duration) []string {
	t.Helper()
	replies := make(chan []string, 1)
	go func() {
		go caller.Write([]byte(session))
		var got []string
		sc := bufio.NewScanner(caller)
		for sc.Scan() {
			l := sc.Text()
			if len(l) < 4 || l[3] != '-' {
				got = append(got, l)
			}
			if strings.HasPrefix(l, "221 ") {
				break
			}
		}
		replies <- got
	}()
	stepUntil(t, e.loop, func() bool { return *ended }, limit)
	if *endErr != nil {
		t.Fatalf("session ended with %v", *endErr)
	}
	return <-replies
}

// TestLMTPGoSMTPCaller: go-smtp's LMTP client hands a simnet world's
// recipients to smtpfeed; every accepted recipient gets exactly one reply,
// and the statuses match the world's outcomes.
func TestLMTPGoSMTPCaller(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Domains, cfg.Hosts = 300, 40
	s := startWorld(t, cfg)
	r := newEngineRun(t, s, nil)
	caller, _, endErr, ended := lmtpPair(t, r.e, LMTPOptions{Session: lmtp.Config{Hostname: "feed.test"}})
	rcpts := s.World.Addresses()

	type outcome struct {
		resp map[string]*gosmtp.DataResponse
		err  error
	}
	got := make(chan outcome, 1)
	go func() {
		cl := gosmtp.NewClientLMTP(caller)
		o := outcome{}
		defer func() { got <- o }()
		if o.err = cl.Hello("mta.test"); o.err != nil {
			return
		}
		if o.err = cl.Mail(sim.ListSender, nil); o.err != nil {
			return
		}
		for _, a := range rcpts {
			if o.err = cl.Rcpt(a, nil); o.err != nil {
				return
			}
		}
		w, err := cl.Data()
		if o.err = err; err != nil {
			return
		}
		if _, o.err = w.Write([]byte(sim.TestMessage)); o.err != nil {
			return
		}
		o.resp, o.err = w.CloseWithLMTPResponse()
		cl.Quit()
	}()
	var res outcome
	stepUntil(t, r.e.loop, func() bool {
		select {
		case res = <-got:
			return true
		default:
			return false
		}
	}, 60*time.Second)
	stepUntil(t, r.e.loop, func() bool { return *ended }, 10*time.Second)
	if *endErr != nil {
		t.Errorf("session ended with %v, want a clean QUIT", *endErr)
	}
	failed := map[string]*gosmtp.SMTPError{}
	var lerr gosmtp.LMTPDataError
	if errors.As(res.err, &lerr) {
		failed = lerr
	} else if res.err != nil {
		t.Fatalf("LMTP client: %v", res.err)
	}
	want := map[sim.Outcome]int{sim.Delivered: 2, sim.Deferred: 4, sim.Bounced: 5}
	for _, a := range rcpts {
		exp := s.World.Recipient(a).Expect
		_, ok := res.resp[a]
		fe, bad := failed[a]
		switch {
		case ok == bad:
			t.Errorf("%s: success %v and failure %v, want exactly one reply", a, ok, fe)
		case ok && want[exp] != 2:
			t.Errorf("%s: delivered, want %s", a, exp)
		case bad && fe.Code/100 != want[exp]:
			t.Errorf("%s: %d %v, want %s", a, fe.Code, fe.Message, exp)
		}
	}
	if n := len(res.resp) + len(failed); n != len(rcpts) {
		t.Errorf("%d replies for %d recipients", n, len(rcpts))
	}
	if len(s.Report().Duplicates) != 0 {
		t.Errorf("duplicate deliveries: %v", s.Report().Duplicates)
	}
}

// TestLMTPRawSession: a pipelined session with bad input in it. Replies
// come in order, one per accepted RCPT after DATA, and the session goes on
// after errors.
func TestLMTPRawSession(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 2, Domains: 3, Hosts: 2, Users: 1})
	r := newEngineRun(t, s, nil)
	caller, c, endErr, ended := lmtpPair(t, r.e, LMTPOptions{Session: lmtp.Config{Hostname: "feed.test"}})
	a := s.World.Addresses()
	script := "LHLO mta.test\r\nFOO bar\r\nMAIL FROM:<" + sim.ListSender + ">\r\nRCPT TO:<no-at-sign>\r\n" +
		"RCPT TO:<" + a[0] + ">\r\nRCPT TO:<" + a[1] + ">\r\nRCPT TO:<user@no-such-domain.test>\r\nDATA\r\n" +
		"Subject: x\r\n\r\n..dotted\r\n.\r\nDATA\r\nQUIT\r\n"
	go caller.Write([]byte(script))
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(caller)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	stepUntil(t, r.e.loop, func() bool { return *ended }, 30*time.Second)
	// Every reply is written once the session has ended; read up to QUIT's.
	var got []string
	timeout := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
				break
			}
			if !strings.HasPrefix(l, "250-") {
				got = append(got, l[:min(len(l), 3)])
			}
			done = strings.HasPrefix(l, "221")
		case <-timeout:
			t.Fatalf("replies so far %v: no 221 within 10s", got)
		}
	}
	want := []string{"220", "250", "500", "250", "501", "250", "250", "250", "354", "250", "250", "550", "503", "221"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("reply codes %v, want %v (end %v)", got, want, *endErr)
	}
	if *endErr != nil || c.Messages() != 1 {
		t.Fatalf("end %v, %d messages; want a clean end after 1 message", *endErr, c.Messages())
	}
}
