package sim

import (
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSMTPExtensions(t *testing.T) {
	cfg := tinyConfig()
	cfg.Hosts, cfg.NoPipelining, cfg.No8BitMIME, cfg.NoSize, cfg.NoEnhanced = 20, 0.3, 0.3, 0.3, 0.3
	s := startSim(t, cfg)
	exts := []struct {
		name string
		has  func(*Host) bool
	}{
		{"PIPELINING", func(h *Host) bool { return h.Pipelining }},
		{"8BITMIME", func(h *Host) bool { return h.EightBitMIME }},
		{"SIZE", func(h *Host) bool { return h.Size }},
		{"ENHANCEDSTATUSCODES", func(h *Host) bool { return h.Enhanced }},
	}
	for _, e := range exts {
		for _, want := range []bool{true, false} {
			t.Run(e.name+"="+map[bool]string{true: "on", false: "off"}[want], func(t *testing.T) {
				h := liveHost(t, s.World, func(h *Host) bool { return !h.HeloOnly && e.has(h) == want })
				c := dial(t, s, h)
				c.expect("220 ")
				c.send("EHLO test.client")
				lines := c.expect("250 ")
				got := slices.ContainsFunc(lines[1:], func(l string) bool { return strings.HasPrefix(l[4:], e.name) })
				if got != want {
					t.Errorf("host %s advertises %s: got %v, want %v (%q)", h.Name, e.name, got, want, lines)
				}
				// The reply to MAIL carries an enhanced code only when advertised.
				c.send("MAIL FROM:<a@b.test>")
				l := c.expect("250 ")
				if e.name == "ENHANCEDSTATUSCODES" && strings.HasPrefix(l[0], "250 2.1.0") != want {
					t.Errorf("MAIL reply: got %q, want enhanced code %v", l[0], want)
				}
			})
		}
	}
	t.Run("SIZE parameter refused without SIZE", func(t *testing.T) {
		h := liveHost(t, s.World, func(h *Host) bool { return !h.HeloOnly && !h.Size })
		c := dial(t, s, h)
		c.expect("220 ")
		c.send("EHLO test.client", "MAIL FROM:<a@b.test> SIZE=100")
		c.expect("250 ")
		c.expect("555 ")
	})
	t.Run("SIZE over the limit", func(t *testing.T) {
		h := liveHost(t, s.World, func(h *Host) bool { return h.Size })
		c := dial(t, s, h)
		c.expect("220 ")
		c.send("EHLO test.client", "MAIL FROM:<a@b.test> SIZE=999999999999")
		c.expect("250 ")
		c.expect("552 ")
	})
}

func TestHeloOnly(t *testing.T) {
	cfg := tinyConfig()
	cfg.HeloOnly = 2
	s := startSim(t, cfg)
	h := liveHost(t, s.World, func(h *Host) bool { return h.HeloOnly })
	c := dial(t, s, h)
	c.expect("220 ")
	c.send("EHLO test.client")
	c.expect("502 ")
	c.send("HELO test.client")
	c.expect("250 ")
	c.send("MAIL FROM:<a@b.test> BODY=8BITMIME")
	c.expect("555 ")
	c.send("MAIL FROM:<a@b.test>")
	c.expect("250 ")
}

func TestPipelinedDelay(t *testing.T) {
	const rtt = 200 * time.Millisecond
	cfg := tinyConfig()
	cfg.RTT = rtt
	s := startSim(t, cfg)
	h := liveHost(t, s.World, func(h *Host) bool { return h.Pipelining })
	d := domainOn(t, s.World, h)
	limit := rtt * 18 / 10

	start := time.Now()
	c := dial(t, s, h)
	c.expect("220 ")
	if got := time.Since(start); got < rtt || got >= limit {
		t.Errorf("greeting after %v, want in [%v, %v)", got, rtt, limit)
	}
	start = time.Now()
	c.send("EHLO test.client")
	c.expect("250 ")
	if got := time.Since(start); got < rtt || got >= limit {
		t.Errorf("EHLO reply after %v, want in [%v, %v)", got, rtt, limit)
	}
	group := []string{"MAIL FROM:<a@b.test>"}
	for _, u := range d.Users {
		group = append(group, "RCPT TO:<"+u+"@"+d.Name+">")
	}
	group = append(group, "NOOP", "DATA")
	start = time.Now()
	c.send(group...)
	for range group[:len(group)-1] {
		c.reply()
	}
	c.expect("354 ")
	if got := time.Since(start); got < rtt || got >= limit {
		t.Errorf("%d pipelined replies after %v, want all in [%v, %v)", len(group), got, rtt, limit)
	}
	start = time.Now()
	c.send("hello", ".")
	c.expect("250 ")
	if got := time.Since(start); got < rtt || got >= limit {
		t.Errorf("final dot reply after %v, want in [%v, %v)", got, rtt, limit)
	}
}

func TestRecipientAnswers(t *testing.T) {
	cfg := tinyConfig()
	cfg.Users, cfg.RcptLimited, cfg.RcptLimit, cfg.DeferRcpts, cfg.BounceRcpts = 4, 12, 3, 3, 3
	s := startSim(t, cfg)
	w := s.World
	d := plainDomain(t, w, KindNormal)
	h := d.MXHosts()[0]
	other := w.DomainsOf(KindNormal)[0]
	if other == d {
		other = w.DomainsOf(KindNormal)[1]
	}
	if slices.Contains(h.Serves, other.Name) {
		t.Fatalf("test world: %s and %s share host %s", d.Name, other.Name, h.Name)
	}
	cn := plainDomain(t, w, KindCNAME)
	marked := func(prefix string) *Recipient {
		for _, r := range w.Recipients {
			if strings.HasPrefix(r.Addr, prefix) {
				return r
			}
		}
		t.Fatalf("no %s recipient in the world", prefix)
		return nil
	}
	def, bounce := marked("defer-"), marked("bounce-")
	tests := []struct {
		host       *Host
		rcpt, want string
	}{
		{def.Domain.MXHosts()[0], def.Addr, "450 4.2.0"},
		{bounce.Domain.MXHosts()[0], bounce.Addr, "550 5.1.1"},
		{h, "nobody@" + d.Name, "550 5.1.1"},
		{h, "user1@" + other.Name, "550 5.7.1"},
		{h, "user1@elsewhere.example", "550 5.7.1"},
		{h, "USER1@" + strings.ToUpper(d.Name), "250 2.1.5"},
	}
	for _, tc := range tests {
		t.Run(tc.rcpt, func(t *testing.T) {
			c := dial(t, s, tc.host)
			c.expect("220 ")
			c.send("EHLO t", "MAIL FROM:<a@b.test>", "RCPT TO:<"+tc.rcpt+">")
			c.expect("250 ")
			c.expect("250 ")
			if _, l := c.reply(); !strings.HasPrefix(l[0], tc.want) {
				t.Errorf("RCPT %s: got %q, want %q", tc.rcpt, l[0], tc.want)
			}
		})
	}
	if def.Expect != Deferred || bounce.Expect != Bounced {
		t.Errorf("expected outcomes: got %v and %v, want deferred and bounced", def.Expect, bounce.Expect)
	}
	t.Run("cname target address", func(t *testing.T) {
		c := dial(t, s, cn.MXHosts()[0])
		c.expect("220 ")
		c.send("EHLO t", "MAIL FROM:<a@b.test>", "RCPT TO:<"+cn.Users[0]+"@"+cn.CNAMETarget+">", "RCPT TO:<"+cn.Users[1]+"@"+cn.Name+">")
		c.expect("250 ")
		c.expect("250 ")
		c.expect("250 2.1.5")
		c.expect("250 2.1.5")
	})
	t.Run("recipient limit 452 4.5.3", func(t *testing.T) {
		if h.RcptLimit != 3 {
			t.Fatalf("host %s limit: got %v, want 3", h.Name, h.RcptLimit)
		}
		c := dial(t, s, h)
		c.expect("220 ")
		group := []string{"EHLO t", "MAIL FROM:<a@b.test>"}
		for _, u := range d.Users {
			group = append(group, "RCPT TO:<"+u+"@"+d.Name+">")
		}
		c.send(group...)
		c.expect("250 ")
		c.expect("250 ")
		for i := range d.Users {
			want := "250 2.1.5"
			if i >= 3 {
				want = "452 4.5.3"
			}
			if _, l := c.reply(); !strings.HasPrefix(l[0], want) {
				t.Errorf("RCPT %d: got %q, want %q", i+1, l[0], want)
			}
		}
	})
}

func TestRefusedAndDeadHosts(t *testing.T) {
	s := startSim(t, tinyConfig())
	w := s.World
	t.Run("refusing host", func(t *testing.T) {
		_, err := net.DialTimeout("tcp4", s.HostAddr(w.HostsOf(HostRefuse)[0]).String(), 5*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("connect: got %v, want ECONNREFUSED", err)
		}
	})
	t.Run("dead host hangs, live host connects", func(t *testing.T) {
		for _, d := range w.DomainsOf(KindDeadFirst) {
			dead, live := d.MX[0].Host, d.MX[1].Host
			start := time.Now()
			c, err := net.DialTimeout("tcp4", s.HostAddr(dead).String(), 300*time.Millisecond)
			var ne net.Error
			if err == nil {
				c.Close()
			}
			if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) < 300*time.Millisecond {
				t.Errorf("connect to dead %s: got %v after %v, want a timeout after 300ms", dead.Name, err, time.Since(start))
			}
			cl := dial(t, s, live)
			cl.expect("220 ")
			cl.send("EHLO t", "MAIL FROM:<a@b.test>", "RCPT TO:<"+d.Users[0]+"@"+d.Name+">")
			cl.expect("250")
			cl.expect("250")
			if _, l := cl.reply(); !strings.HasPrefix(l[0], "250") {
				t.Errorf("RCPT on second MX %s: got %q, want 250", live.Name, l[0])
			}
		}
	})
}

func TestMessageHash(t *testing.T) {
	s := startSim(t, tinyConfig())
	d := s.World.DomainsOf(KindNormal)[0]
	h := d.MXHosts()[0]
	msg := "Subject: x\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nlast line without dot\r\n"
	want := HashMessage([]byte(msg))

	t.Run("net/smtp client", func(t *testing.T) {
		c, err := smtp.Dial(s.HostAddr(h).String())
		if err != nil {
			t.Fatalf("dial %s: %v", h.Name, err)
		}
		defer c.Close()
		if err := c.Mail("a@b.test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt(d.Users[0] + "@" + d.Name); err != nil {
			t.Fatal(err)
		}
		wc, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		wc.Write([]byte(msg)) // net/smtp dot-stuffs
		if err := wc.Close(); err != nil {
			t.Fatal(err)
		}
		c.Quit()
	})
	t.Run("raw pipelined, DotStuff", func(t *testing.T) {
		c := dial(t, s, h)
		c.expect("220 ")
		c.send("EHLO t", "MAIL FROM:<a@b.test>", "RCPT TO:<"+d.Users[1]+"@"+d.Name+">", "DATA")
		for range 3 {
			c.reply()
		}
		c.expect("354 ")
		c.c.Write(append(DotStuff([]byte(msg)), ".\r\n"...))
		c.expect("250 ")
	})
	r := s.Report()
	if len(r.Deliveries) != 2 {
		t.Fatalf("deliveries: got %v, want 2", len(r.Deliveries))
	}
	for _, dl := range r.Deliveries {
		if dl.Hash != want {
			t.Errorf("hash of %s: got %v, want %v", dl.Rcpt, dl.Hash, want)
		}
	}
	if HashMessage([]byte(msg+"x")) == want {
		t.Errorf("hash does not depend on content")
	}
}

// TestReadsQueuedBehindADelay: while a session waits out its round trip
// before replying, its reader goes on reading; every read must keep its
// own bytes, since the reader reuses one buffer. Each command and each
// message line goes in a write of its own, so that reads queue up behind
// the EHLO reply's delay; the replies and the delivery must be those of
// the commands as sent.
func TestReadsQueuedBehindADelay(t *testing.T) {
	cfg := tinyConfig()
	cfg.RTT, cfg.Users = 30*time.Millisecond, 40
	s := startSim(t, cfg)
	d := plainDomain(t, s.World, KindNormal)
	h := d.MXHosts()[0]
	msgLines := []string{"Subject: queued reads", ""}
	for i := range 40 {
		msgLines = append(msgLines, fmt.Sprintf("line %02d of a message sent a line a write", i))
	}
	c := dial(t, s, h)
	c.expect("220 ")
	c.send("EHLO t")
	c.send("MAIL FROM:<a@b.test>")
	for _, u := range d.Users {
		c.send("RCPT TO:<" + u + "@" + d.Name + ">")
	}
	c.send("DATA")
	for _, l := range msgLines {
		c.send(l)
	}
	c.send(".")
	c.expect("250 ")
	c.expect("250 2.1.0")
	for _, u := range d.Users {
		if code, lines := c.reply(); code != 250 {
			t.Fatalf("RCPT TO:<%s@%s>: got %q, want 250", u, d.Name, lines)
		}
	}
	c.expect("354 ")
	c.expect("250 ")
	r := s.Report()
	want := HashMessage([]byte(strings.Join(msgLines, "\r\n") + "\r\n"))
	if len(r.Deliveries) != len(d.Users) {
		t.Fatalf("deliveries: got %d, want %d", len(r.Deliveries), len(d.Users))
	}
	for i, dl := range r.Deliveries {
		if wantRcpt := d.Users[i] + "@" + d.Name; dl.Rcpt != wantRcpt || dl.Hash != want {
			t.Errorf("delivery %d: got %s with hash %s, want %s with %s", i, dl.Rcpt, dl.Hash, wantRcpt, want)
		}
	}
}

// TestAccepted: Accepted has a value after each accepted transaction, one
// for several, and none before the first.
func TestAccepted(t *testing.T) {
	s := startSim(t, tinyConfig())
	select {
	case <-s.Accepted():
		t.Fatal("Accepted has a value before any transaction")
	default:
	}
	d := s.World.DomainsOf(KindNormal)[0]
	h := d.MXHosts()[0]
	for range 2 {
		dial(t, s, h).deliverOne(d.Users[0] + "@" + d.Name)
	}
	select {
	case <-s.Accepted():
	default:
		t.Fatal("Accepted has no value after two transactions")
	}
	select {
	case <-s.Accepted():
		t.Fatal("Accepted has a second value for two transactions before a receive")
	default:
	}
	if n := s.Report().Transactions; n != 2 {
		t.Errorf("report: %d transactions, want 2", n)
	}
}
