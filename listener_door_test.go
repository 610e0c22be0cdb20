package smtpfeed

import (
	"bufio"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"smtpfeed/proto/lmtp"
	"smtpfeed/reactor"
)

// noticeLog keeps the engine's notices.
type noticeLog struct {
	nopLogger
	notices []string
}

func (l *noticeLog) Notice(s string) { l.notices = append(l.notices, s) }

// tcpListener is an LMTP listener on a loopback TCP port, serving an
// engine that delivers nothing and keeps its notices.
type tcpListener struct {
	loop *reactor.Loop
	log  *noticeLog
	l    *LMTPListener
	addr netip.AddrPort
}

func newTCPListener(t *testing.T, opt LMTPOptions, sessions int) *tcpListener {
	t.Helper()
	lt := &tcpListener{loop: newLoop(t, nil), log: &noticeLog{}}
	e, err := NewEngine(lt.loop, Config{DeliverNothing: true, Log: lt.log})
	if err != nil {
		t.Fatal(err)
	}
	fd, err := reactor.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	lt.addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*unix.SockaddrInet4).Port))
	if lt.l, err = ListenLMTP(lt.loop, e, fd, opt, sessions); err != nil {
		t.Fatal(err)
	}
	return lt
}

// TestListenerAllowPeers: a TCP listener serves only peers in the
// networks allowed; anyone else hears 421 4.7.1 and is closed, and is
// logged once however often it comes back. The whole 127.0.0.0/8 is on
// lo, so the test picks its peer's address by binding the client.
func TestListenerAllowPeers(t *testing.T) {
	lt := newTCPListener(t, LMTPOptions{Session: lmtp.Config{Hostname: "feed.test"}}, 4)
	loop, log, l, port := lt.loop, lt.log, lt.l, lt.addr.Port()
	l.AllowPeers([]netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	greeting := func(from string) string {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		line := make(chan string, 1)
		go func() {
			s, _ := bufio.NewReader(c).ReadString('\n')
			line <- s
		}()
		var got string
		stepUntil(t, loop, func() bool {
			select {
			case got = <-line:
				return true
			default:
				return false
			}
		}, 10*time.Second)
		return got
	}
	for _, tc := range []struct{ from, want string }{
		{"127.0.0.2", "220 "},
		{"127.0.0.1", "421 4.7.1 127.0.0.1 may not use this LMTP listener"},
		{"127.0.0.1", "421 4.7.1 "},
		{"127.0.0.3", "421 4.7.1 "},
	} {
		if got := greeting(tc.from); !strings.HasPrefix(got, tc.want) {
			t.Errorf("a peer at %s heard %q, want %q...", tc.from, got, tc.want)
		}
	}
	if n := countContaining(log.notices, "refused 127.0.0.1"); n != 1 {
		t.Errorf("refusals of 127.0.0.1 logged %d times, want once", n)
	}
	if l.Accepted() != 1 {
		t.Errorf("%d sessions accepted, want 1 (the allowed peer)", l.Accepted())
	}
}

// TestLMTPPhaseBounds: a caller that sends a byte now and then keeps the
// idle timer going, but not the bound on one command line or on one
// message's data: past it the session ends with 421 4.4.2, and nothing of
// an unfinished message is handed on.
func TestLMTPPhaseBounds(t *testing.T) {
	opt := LMTPOptions{Session: lmtp.Config{Hostname: "feed.test"}, Idle: 10 * time.Minute,
		CommandTime: 5 * time.Minute, DataTime: 10 * time.Minute}
	for _, tc := range []struct {
		name, start, trickle, want string
	}{
		{"one command line", "LHLO mta", "x", "over a command"},
		{"the message data", "LHLO mta\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nSubject: slow\r\n", "x\r\n", "over the message data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			loop := newLoop(t, clock)
			e, err := NewEngine(loop, Config{DeliverNothing: true})
			if err != nil {
				t.Fatal(err)
			}
			caller, c, endErr, ended := lmtpPair(t, e, opt)
			// Each byte keeps the caller clear of the 10-minute idle
			// timeout; together they last past the phase's bound.
			send := func(s string) {
				t.Helper()
				if _, err := caller.Write([]byte(s)); err != nil {
					t.Fatal(err)
				}
				for range 5 {
					loop.Step(time.Millisecond)
				}
			}
			send(tc.start)
			for i := 0; i < 4 && !*ended; i++ {
				clock.Advance(4 * time.Minute)
				send(tc.trickle)
			}
			if !*ended || *endErr == nil || !strings.Contains((*endErr).Error(), tc.want) {
				t.Fatalf("ended=%v err=%v, want the session ended %q", *ended, *endErr, tc.want)
			}
			if c.Messages() != 0 {
				t.Errorf("%d messages handed on, want none", c.Messages())
			}
			caller.SetReadDeadline(time.Now().Add(5 * time.Second))
			var last string
			sc := bufio.NewScanner(caller)
			for sc.Scan() {
				last = sc.Text()
				if strings.HasPrefix(last, "421 ") {
					break
				}
			}
			if !strings.HasPrefix(last, "421 4.4.2 caller took more than") {
				t.Errorf("the caller's last line is %q, want 421 4.4.2", last)
			}
		})
	}
}

func countContaining(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}
