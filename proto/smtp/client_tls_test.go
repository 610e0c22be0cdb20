package smtp

import (
	"errors"
	"strings"
	"testing"
)

// step feeds the server's reply and returns what the client then has to
// write, marking it written.
func step(t *testing.T, c *Client, reply string) string {
	t.Helper()
	if reply != "" {
		c.Feed([]byte(reply), t0)
	}
	var out strings.Builder
	for _, seg := range c.Output() {
		out.Write(seg)
	}
	c.Wrote(out.Len(), t0)
	return out.String()
}

func tlsTx() *Envelope {
	return &Envelope{From: "list@lists.test", Msg: NewMessage([]byte("Subject: x\r\n\r\nbody\r\n")),
		Rcpts: []Recipient{{Addr: "a@x.test"}, {Addr: "b@x.test"}, {Addr: "c@x.test"}}}
}

const ehloTLS = "250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"

// TestClientSTARTTLS: STARTTLS offered and wanted is sent alone after
// EHLO; its 220 hands the connection over for the handshake, with the
// handshake's timeout; Secured starts again with EHLO, and a second
// STARTTLS offer inside TLS is not taken.
func TestClientSTARTTLS(t *testing.T) {
	c := NewClient(Config{Hostname: "feed.test", StartTLS: true}, t0)
	c.Add(tlsTx())
	if out := step(t, c, "220 mx.test ESMTP\r\n"); out != "EHLO feed.test\r\n" {
		t.Fatalf("after greeting: %q", out)
	}
	if out := step(t, c, ehloTLS); out != "STARTTLS\r\n" {
		t.Fatalf("after EHLO: %q, want STARTTLS alone", out)
	}
	if out := step(t, c, "220 2.0.0 go ahead\r\n"); out != "" || !c.Handshaking() {
		t.Fatalf("after 220: wrote %q, handshaking %v", out, c.Handshaking())
	}
	if got, want := c.Deadline(), t0.Add(DefaultTimeouts[stateTLS]); !got.Equal(want) {
		t.Errorf("deadline in the handshake %v, want %v", got, want)
	}
	c.Secured(t0)
	if out := step(t, c, ""); out != "EHLO feed.test\r\n" || c.Handshaking() {
		t.Fatalf("after the handshake: %q", out)
	}
	out := step(t, c, ehloTLS)
	if !strings.HasPrefix(out, "MAIL FROM:<list@lists.test>") || strings.Contains(out, "STARTTLS") {
		t.Fatalf("inside TLS: %q, want the transaction and no second STARTTLS", out)
	}
	if c.TLSRefused() != nil {
		t.Errorf("TLSRefused %v after a 220", c.TLSRefused())
	}
}

// TestClientSTARTTLSRefusedOrUnwanted: a refused STARTTLS, one not
// offered and one not wanted all leave the session in plaintext.
func TestClientSTARTTLSRefusedOrUnwanted(t *testing.T) {
	for _, tc := range []struct {
		name, ehlo, reply string
		want              bool
	}{
		{"refused", ehloTLS, "454 4.7.0 TLS not available due to local problem\r\n", true},
		{"not offered", "250-mx.test\r\n250 PIPELINING\r\n", "", true},
		{"not wanted", ehloTLS, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(Config{Hostname: "feed.test", StartTLS: tc.want}, t0)
			c.Add(tlsTx())
			step(t, c, "220 mx.test ESMTP\r\n")
			out := step(t, c, tc.ehlo)
			if tc.reply != "" {
				if out != "STARTTLS\r\n" {
					t.Fatalf("after EHLO %q", out)
				}
				out = step(t, c, tc.reply)
				if r := c.TLSRefused(); r == nil || r.Code != 454 {
					t.Errorf("TLSRefused %v, want the 454", r)
				}
			}
			if !strings.HasPrefix(out, "MAIL FROM:") || c.Handshaking() {
				t.Fatalf("want the transaction in plaintext, got %q", out)
			}
		})
	}
}

// TestClientSTARTTLSInjection: bytes after STARTTLS's 220, before the
// handshake, end the session (RFC 3207 §4.2): they would be taken as if
// they came inside TLS.
func TestClientSTARTTLSInjection(t *testing.T) {
	for _, extra := range []string{"250 injected\r\n", "250 half"} {
		c := NewClient(Config{Hostname: "feed.test", StartTLS: true}, t0)
		c.Add(tlsTx())
		step(t, c, "220 mx.test ESMTP\r\n")
		step(t, c, ehloTLS)
		step(t, c, "220 go ahead\r\n"+extra)
		if c.Err() == nil || c.Handshaking() {
			t.Fatalf("%q after the 220: err %v, handshaking %v; want the session failed", extra, c.Err(), c.Handshaking())
		}
		rs := c.Results()
		if len(rs) != 3 || rs[0].Status != NextHost {
			t.Fatalf("%q: results %v, want 3 next-host", extra, rs)
		}
	}
}

// TestClientAdmit: a recipient the admit check refuses comes back as
// next-host with the check's error and never goes out; the others go in
// one transaction.
func TestClientAdmit(t *testing.T) {
	refused := errors.New("policy says no")
	c := NewClient(Config{Hostname: "feed.test"}, t0)
	c.SetAdmit(func(tx *Envelope, i int) error {
		if tx.Rcpts[i].Addr == "b@x.test" {
			return refused
		}
		return nil
	})
	c.Add(tlsTx())
	step(t, c, "220 mx.test ESMTP\r\n")
	out := step(t, c, "250-mx.test\r\n250 PIPELINING\r\n")
	if strings.Contains(out, "b@x.test") || !strings.Contains(out, "a@x.test") || !strings.Contains(out, "c@x.test") {
		t.Fatalf("pipelined group %q: want a and c only", out)
	}
	rs := c.Results()
	if len(rs) != 1 || rs[0].Rcpt != 1 || rs[0].Status != NextHost || !errors.Is(rs[0].Err, refused) {
		t.Fatalf("results %v, want b next-host with the check's error", rs)
	}
}
