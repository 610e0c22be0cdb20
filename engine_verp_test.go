package smtpfeed

import (
	"bytes"
	"regexp"
	"slices"
	"testing"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
)

// TestEngineVERP: each recipient goes in a transaction of its own with
// its VERP sender, and the recipients of two domains that share the MX
// host share its one connection.
func TestEngineVERP(t *testing.T) {
	z := newZoneRun(t, []string{"a.test. MX 10 mx.a.test.", "b.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1"},
		func(c *Config) { c.VERP = &smtp.DefaultVERP })
	rcpts := []string{"u1@a.test", "u2@b.test", "u3@a.test", "bounce1@b.test", "u4@b.test"}
	for i, o := range z.deliver(t, rcpts...) {
		if want := smtp.Bounced; (rcpts[i][0] == 'b') != (o.Status == want) {
			t.Errorf("%s: %v", rcpts[i], o)
		}
	}
	got := z.be.received()
	if len(got) != 4 {
		t.Fatalf("%d messages received, want 4 (one a recipient, the bounce aside)", len(got))
	}
	for _, m := range got {
		if len(m.rcpts) != 1 {
			t.Fatalf("a transaction carried %v, want one recipient", m.rcpts)
		}
		if want := smtp.DefaultVERP.Sender("list-bounces@lists.test", m.rcpts[0]); m.from != want {
			t.Errorf("%s came from <%s>, want <%s>", m.rcpts[0], m.from, want)
		}
	}
	if z.be.conns != 1 {
		t.Errorf("%d connections, want the one the transactions share", z.be.conns)
	}
}

// TestEngineTraceRcpt: -F puts a Received field naming the recipient
// before the message of every one-recipient transaction, and leaves the
// rest byte for byte; a transaction of two gets none.
func TestEngineTraceRcpt(t *testing.T) {
	z := newZoneRun(t, []string{"a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1"},
		func(c *Config) { c.TraceRcpt, c.SMTP.MaxRcpts = true, 2 })
	z.deliver(t, "u1@a.test", "u2@a.test", "u3@a.test")
	got := z.be.received()
	if len(got) != 2 {
		t.Fatalf("%d messages received, want 2 (R=2)", len(got))
	}
	field := regexp.MustCompile(`^Received: by feed\.test \(smtpfeed\) with LMTP id m\d{6}\r\n\tfor <([^>]+)>; [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n`)
	for _, m := range got {
		loc := field.FindSubmatchIndex(m.data)
		switch {
		case len(m.rcpts) == 2 && loc != nil:
			t.Errorf("two-recipient transaction got a trace field:\n%s", m.data)
		case len(m.rcpts) == 2:
			if !bytes.Equal(m.data, []byte(sim.TestMessage)) {
				t.Errorf("message changed:\n%q", m.data)
			}
		case loc == nil:
			t.Errorf("one-recipient transaction without the trace field:\n%s", m.data)
		default:
			if rcpt := string(m.data[loc[2]:loc[3]]); !slices.Equal(m.rcpts, []string{rcpt}) {
				t.Errorf("trace names <%s>, transaction was for %v", rcpt, m.rcpts)
			}
			if rest := m.data[loc[1]:]; !bytes.Equal(rest, []byte(sim.TestMessage)) {
				t.Errorf("message after the trace field changed:\n%q", rest)
			}
		}
	}
}
