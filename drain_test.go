package smtpfeed

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
)

// heldDot is a go-smtp server that holds its reply to the final dot
// until the test lets it go: the window in which a signal or a deadline
// finds a transaction whose message may already be delivered.
type heldDot struct {
	arrived chan struct{} // a message's data is in; its reply waits
	release chan struct{} // closed: the replies go out
	// releaseOnce closes release; the cleanup closes it otherwise.
	releaseOnce func()
}

func (h *heldDot) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return heldSession{h}, nil }

type heldSession struct{ h *heldDot }

func (heldSession) Reset()                                 {}
func (heldSession) Logout() error                          { return nil }
func (heldSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (heldSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s heldSession) Data(r io.Reader) error {
	if _, err := io.ReadAll(r); err != nil {
		return err
	}
	s.h.arrived <- struct{}{}
	<-s.h.release
	return nil
}

// startHeldDot serves a heldDot on a loopback port until the test ends.
func startHeldDot(t *testing.T) (*heldDot, netip.AddrPort) {
	t.Helper()
	h := &heldDot{arrived: make(chan struct{}, 16), release: make(chan struct{})}
	addr := serveSMTP(t, h, "held.test", 0)
	released := false
	t.Cleanup(func() { // before the server's, which waits for its sessions
		if !released {
			close(h.release)
		}
	})
	h.releaseOnce = func() { released = true; close(h.release) }
	return h, addr
}

// arrivedNow reports, without waiting, that a message's data came in.
func (h *heldDot) arrivedNow() bool {
	select {
	case <-h.arrived:
		return true
	default:
		return false
	}
}

// heldRun is an engine delivering to a heldDot as held.test's MX.
type heldRun struct {
	e       *Engine
	rcpts   []string
	answers [][]Outcome
	done    bool
}

func newHeldRun(t *testing.T, smtpAddr netip.AddrPort, tweak func(*Config)) *heldRun {
	t.Helper()
	dnsAddr := newZone(t, "held.test. MX 10 mx.held.test.", "mx.held.test. A 127.0.0.1").serve(t)
	cfg := Config{
		Resolver: ResolverConfig{Servers: []netip.AddrPort{dnsAddr}, IPv4Only: true, Timeout: 2 * time.Second},
		SMTP:     smtp.Config{Hostname: "feed.test"},
		Port:     smtpAddr.Port(), ConnectTimeout: time.Second, IdleTime: time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := NewEngine(newLoop(t, nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &heldRun{e: e}
}

// deliver starts one message to rcpts; the answers collect in r.
func (r *heldRun) deliver(rcpts ...string) {
	r.rcpts, r.answers = rcpts, make([][]Outcome, len(rcpts))
	r.e.Deliver(&Message{From: "list@lists.test", Rcpts: rcpts, Data: []byte(sim.TestMessage)},
		func(i int, o Outcome) { r.answers[i] = append(r.answers[i], o) }, func() { r.done = true })
}

// check wants one answer per recipient, starting with want[i].
func (r *heldRun) check(t *testing.T, want ...string) {
	t.Helper()
	for i, a := range r.answers {
		if len(a) != 1 || !strings.HasPrefix(fmt.Sprintf("%d %s", a[0].Code, a[0].Enhanced), want[i]) {
			t.Errorf("%s: %v, want one %s", r.rcpts[i], a, want[i])
		}
	}
}

// TestEngineStopAfterDot: USR1 (Drain) or TERM (Terminate) while a
// transaction waits for its final dot's reply: the connection stays open
// and its recipients get the server's verdict, not a 4xx that makes the
// caller send the message again, and not silence until the deadline.
func TestEngineStopAfterDot(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(e *Engine)
	}{
		{"USR1", func(e *Engine) { e.Drain() }},
		{"TERM", func(e *Engine) { e.Terminate("test TERM") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, smtpAddr := startHeldDot(t)
			r := newHeldRun(t, smtpAddr, nil)
			r.deliver("a@held.test", "b@held.test")
			stepUntil(t, r.e.loop, h.arrivedNow, 10*time.Second)
			tc.stop(r.e)
			// A few passes with the reply still held: nobody is answered,
			// and the connection is still there to take the reply.
			for range 20 {
				if err := r.e.loop.Step(time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
			for i, a := range r.answers {
				if len(a) != 0 {
					t.Fatalf("%s answered %v before the server replied to the dot", r.rcpts[i], a)
				}
			}
			if r.e.Open() != 1 {
				t.Fatalf("%d connections open while the dot's reply is owed, want 1", r.e.Open())
			}
			h.releaseOnce()
			stepUntil(t, r.e.loop, func() bool { return r.done }, 10*time.Second)
			r.check(t, "250", "250") // the server's verdict
			stepUntil(t, r.e.loop, func() bool { return r.e.Open() == 0 }, 10*time.Second)
		})
	}
}

// TestEngineDeadlineAfterDot: the message deadline passes while an SMTP
// transaction waits for its final dot's reply. Its recipients get the
// server's verdict when it comes (answering 4.4.7 first would have the
// caller send a delivered message again); recipients no SMTP transaction
// has begun to carry get 4.4.7 and are never sent.
func TestEngineDeadlineAfterDot(t *testing.T) {
	h, smtpAddr := startHeldDot(t)
	r := newHeldRun(t, smtpAddr, func(c *Config) {
		// One recipient per SMTP transaction: the first waits for its
		// dot's reply, the second's MAIL group follows its dot
		// (pipelined, so begun), the third waits in the client's queue.
		c.SMTP.MaxRcpts = 1
		c.MessageTimeout = 300 * time.Millisecond
	})
	r.deliver("a@held.test", "b@held.test", "c@held.test")
	stepUntil(t, r.e.loop, h.arrivedNow, 10*time.Second)
	stepUntil(t, r.e.loop, func() bool { return len(r.answers[2]) > 0 }, 10*time.Second)
	if len(r.answers[0]) != 0 {
		t.Fatalf("%s answered %v while its dot's reply is owed", r.rcpts[0], r.answers[0])
	}
	h.releaseOnce()
	stepUntil(t, r.e.loop, func() bool { return r.done }, 10*time.Second)
	r.check(t, "250", "250", "451 4.4.7")
}

// TestEngineDeadlineCut: a transaction begun before the deadline gets
// DeadlineGrace more to reach its verdict; then its connection is cut,
// so the caller has every answer in bounded time: the recipient past its
// final dot hears 4.4.2 (possibly delivered), the others 4.4.7.
func TestEngineDeadlineCut(t *testing.T) {
	_, smtpAddr := startHeldDot(t) // never lets the dot's reply go
	r := newHeldRun(t, smtpAddr, func(c *Config) {
		c.SMTP.MaxRcpts = 1
		c.MessageTimeout, c.DeadlineGrace = 300*time.Millisecond, 300*time.Millisecond
	})
	r.deliver("a@held.test", "b@held.test", "c@held.test")
	stepUntil(t, r.e.loop, func() bool { return r.done }, 10*time.Second)
	// a's dot is out when the cut comes; b's MAIL group followed it
	// (pipelined) but its data never went; c was never begun.
	r.check(t, "451 4.4.2", "451 4.4.7", "451 4.4.7")
	if !r.answers[0][0].PossibleDuplicate {
		t.Errorf("%s: not marked a possible duplicate", r.rcpts[0])
	}
}
