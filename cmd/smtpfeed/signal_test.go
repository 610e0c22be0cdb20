package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// deadWorld is a world whose domains all have a dead first MX, so that a
// message stays in hand (connects hang) until a signal comes.
func deadWorld(t *testing.T) *sim.Sim {
	t.Helper()
	s, err := sim.Start(sim.Config{Seed: 5, Domains: 4, Hosts: 3, Users: 2, DeadFirst: 4, DeadHosts: 1, DNSAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// quickTimeouts bound a run on a world without dead hosts: feedArgs's
// minute-long connect is for the worlds whose connects hang.
var quickTimeouts = []string{"-t", "connect=1s", "-t", "dns=2s", "-t", "idle=1s"}

// feedArgs runs smtpfeed against s's network, with extra after the
// defaults (a later -t overrides an earlier one).
func feedArgs(s *sim.Sim, extra ...string) []string {
	return append([]string{"-nameserver", s.DNSAddr().String(), "-port", fmt.Sprint(s.SMTPPort()),
		"-c", "feed.test", "-l", "stderr", "-N", "4", "-t", "connect=1m", "-allow-local", "127.0.0.0/8"}, extra...)
}

// handOver sends one message for every recipient of s and reads up to
// DATA's 354 and the final dot.
func handOver(c *child, s *sim.Sim) []string {
	rcpts := s.World.Addresses()
	c.expect("220", 10*time.Second)
	c.send("LHLO mta.test\r\nMAIL FROM:<" + sim.ListSender + ">\r\n")
	for _, a := range rcpts {
		c.send("RCPT TO:<" + a + ">\r\n")
	}
	c.send("DATA\r\n")
	c.expect("250", 10*time.Second) // LHLO
	c.expect("250", 10*time.Second) // MAIL
	for range rcpts {
		c.expect("250", 10*time.Second)
	}
	c.expect("354", 10*time.Second)
	c.send(sim.TestMessage + ".\r\n")
	return rcpts
}

// TestSignalTerm: TERM (or USR1) while connects hang answers every recipient 4xx
// and exits 0.
func TestSignalTerm(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGUSR1} {
		t.Run(sig.String(), func(t *testing.T) {
			s := deadWorld(t)
			c := startChild(t, feedArgs(s)...)
			rcpts := handOver(c, s)
			// The connects to the dead host hang for a minute; the signal
			// must not wait for them.
			waitForLog(t, c, "starting")
			c.signal(sig)
			for _, a := range rcpts {
				if l := c.next(20 * time.Second); !strings.HasPrefix(l, "451 4.") {
					t.Errorf("%s after %v: %q, want a 451", a, sig, l)
				}
			}
			if code := c.wait(20 * time.Second); code != 0 {
				t.Fatalf("exit %d after %v, want 0; log:\n%s", code, sig, c.log())
			}
		})
	}
}

// TestSignalQuit: QUIT exits 75 at once, its log line written out of
// the log's buffer first.
func TestSignalQuit(t *testing.T) {
	s := deadWorld(t)
	c := startChild(t, feedArgs(s)...)
	handOver(c, s)
	waitForLog(t, c, "starting")
	c.signal(syscall.SIGQUIT)
	if code := c.wait(20 * time.Second); code != exitTempFail {
		t.Fatalf("exit %d after SIGQUIT, want %d", code, exitTempFail)
	}
	waitForLog(t, c, "SIGQUIT: exiting at once")
}

// TestSignalInt: INT writes the state to the log and delivery goes on.
func TestSignalInt(t *testing.T) {
	s := deadWorld(t)
	c := startChild(t, feedArgs(s, "-t", "connect=2s")...)
	rcpts := handOver(c, s)
	waitForLog(t, c, "starting")
	c.signal(syscall.SIGINT)
	waitForLog(t, c, "smtpfeed state: 1 messages in hand")
	for _, a := range rcpts {
		// The dead first MX costs 2 s, then the second MX takes it.
		if l := c.next(30 * time.Second); !strings.HasPrefix(l, "250 ") {
			t.Errorf("%s: %q, want delivered after SIGINT", a, l)
		}
	}
	c.quit()
}

// waitForLog waits (bounded) for text in smtpfeed's log, woken by each
// write to it.
func waitForLog(t *testing.T, c *child, text string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(c.log(), text) {
		select {
		case <-c.logged:
		case <-deadline:
			t.Fatalf("log lacks %q:\n%s", text, c.log())
		}
	}
}

// TestCallerVanishes: the MTA goes away mid-delivery (both pipes closed):
// smtpfeed stops, closes its connections and exits 0 without waiting for
// the hanging connects.
func TestCallerVanishes(t *testing.T) {
	s := deadWorld(t)
	c := startChild(t, feedArgs(s)...)
	handOver(c, s)
	waitForLog(t, c, "starting")
	c.stdin.Close()
	c.stdout.Close()
	if code := c.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d after the caller vanished, want 0; log:\n%s", code, c.log())
	}
	if !strings.Contains(c.log(), "closing connections") && !strings.Contains(c.log(), "done") {
		t.Errorf("log does not say how it ended:\n%s", c.log())
	}
}
