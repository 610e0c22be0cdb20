package smtp

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

var (
	eightBitMsg = NewMessage([]byte("Subject: test\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n.dot\r\n"))
	badHeader   = NewMessage([]byte("Subject: caf\xc3\xa9\r\n\r\nbody\r\n"))
)

func txWith(m *Message, rcpts ...Recipient) *Envelope {
	t := tx(rcpts...)
	t.Msg = m
	return t
}

// The 8-bit scenarios join the transcript and one-result-each tests.
func init() { scenarios = append(scenarios, eightBitScenarios...) }

var eightBitScenarios = []scenario{
	{
		// No 8BITMIME: the quoted-printable form, its SIZE, no BODY=.
		name: "8bit-to-7bit-server",
		srv:  func() *fakeServer { return newFakeServer("PIPELINING", "SIZE 100000") },
		txs:  func() []*Envelope { return []*Envelope{txWith(eightBitMsg, rcptList(2, "u%d@a.test")...)} },
	},
	{
		name: "8bit-to-7bit-lockstep",
		srv:  func() *fakeServer { return newFakeServer("SIZE") },
		txs:  func() []*Envelope { return []*Envelope{txWith(eightBitMsg, rcptList(2, "u%d@a.test")...)} },
	},
	{
		name: "8bit-to-8bitmime",
		srv:  func() *fakeServer { return newFakeServer(pipelining...) },
		txs:  func() []*Envelope { return []*Envelope{txWith(eightBitMsg, rcptList(1, "u%d@a.test")...)} },
	},
	{
		// The caller's BODY=8BITMIME is passed on though every octet is 7-bit.
		name: "declared-8bit",
		srv:  func() *fakeServer { return newFakeServer(pipelining...) },
		txs: func() []*Envelope {
			m := NewMessage([]byte("Subject: test\r\n\r\nascii\r\n"))
			m.Declared8Bit = true
			return []*Envelope{txWith(m, rcptList(1, "u%d@a.test")...)}
		},
	},
	{
		// An 8-bit header cannot be converted: 554 5.6.3 without asking;
		// the next transaction on the connection goes on.
		name: "8bit-header-to-7bit-server",
		srv:  func() *fakeServer { return newFakeServer("PIPELINING", "SIZE 100000") },
		txs: func() []*Envelope {
			return []*Envelope{txWith(badHeader, rcptList(2, "u%d@a.test")...), txWith(eightBitMsg, rcptList(1, "v%d@b.test")...)}
		},
	},
	{
		name: "8bit-header-lockstep",
		srv:  func() *fakeServer { return newFakeServer() },
		txs:  func() []*Envelope { return []*Envelope{txWith(badHeader, rcptList(1, "u%d@a.test")...)} },
	},
	{
		// Fits the server's SIZE as it is, not once quoted-printable.
		name: "8bit-too-big-once-converted",
		srv: func() *fakeServer {
			return newFakeServer("PIPELINING", "SIZE "+strconv.FormatInt(eightBitMsg.Size, 10))
		},
		txs: func() []*Envelope { return []*Envelope{txWith(eightBitMsg, rcptList(1, "u%d@a.test")...)} },
	},
}

// TestClientEightBit checks what the server receives, byte for byte.
func TestClientEightBit(t *testing.T) {
	seven, err := eightBitMsg.SevenBit()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		ext    []string
		msg    *Message
		want   *Message // the wire the server must get; nil: none
		body   string   // BODY= in MAIL, "" for none
		status Status
	}{
		{"without 8BITMIME", []string{"PIPELINING"}, eightBitMsg, seven, "", Delivered},
		{"without 8BITMIME, lock-step", nil, eightBitMsg, seven, "", Delivered},
		{"with 8BITMIME", []string{"PIPELINING", "8BITMIME"}, eightBitMsg, eightBitMsg, " BODY=8BITMIME", Delivered},
		{"with 8BITMIME, lock-step", []string{"8BITMIME"}, eightBitMsg, eightBitMsg, " BODY=8BITMIME", Delivered},
		{"8-bit header, without 8BITMIME", []string{"PIPELINING"}, badHeader, nil, "", Bounced},
		{"8-bit header, with 8BITMIME", []string{"8BITMIME"}, badHeader, badHeader, " BODY=8BITMIME", Delivered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(tt.ext...)
			var mail []string
			tr, _ := session(srv, []*Envelope{txWith(tt.msg, rcptList(1, "u%d@a.test")...)}, 0, Config{})
			for _, line := range strings.Split(tr, "\n") {
				if strings.HasPrefix(line, "C: MAIL FROM:") {
					mail = append(mail, line)
				}
			}
			if tt.want == nil {
				if len(mail) != 0 {
					t.Fatalf("MAIL sent for an unconvertible message: %q", mail)
				}
			} else {
				if len(mail) != 1 || !strings.HasSuffix(mail[0], ">"+tt.body) {
					t.Fatalf("MAIL = %q, want one ending in %q", mail, ">"+tt.body)
				}
				wantBody := tt.want.Wire()
				if got := srv.message.Bytes(); !bytes.Equal(got, unstuffedLines(wantBody)) {
					t.Fatalf("server got %q, want %q", got, wantBody)
				}
			}
			if !strings.Contains(tr, "R: <u1@a.test> "+tt.status.String()) {
				t.Fatalf("want %v:\n%s", tt.status, tr)
			}
			if tt.status == Bounced && !strings.Contains(tr, "(554 5.6.3 8-bit header cannot be converted to 7 bit for a server without 8BITMIME)") {
				t.Fatalf("want 554 5.6.3 naming the 8-bit header:\n%s", tr)
			}
		})
	}
}

// unstuffedLines is the wire as fakeServer stores it: the lines before
// the final dot, each with its CRLF, dots not removed.
func unstuffedLines(wire []byte) []byte { return bytes.TrimSuffix(wire, []byte(".\r\n")) }

// TestClientSharesSevenBitForm: two connections without 8BITMIME write
// the one converted form, from the same bytes.
func TestClientSharesSevenBitForm(t *testing.T) {
	m := NewMessage([]byte("Subject: x\r\n\r\n\xc3\xa9\r\n"))
	var bodies [][]byte
	for range 2 {
		srv := newFakeServer("PIPELINING")
		c := NewClient(Config{Hostname: "client.test"}, t0)
		c.Add(txWith(m, rcptList(1, "u%d@a.test")...))
		c.Feed(srv.reply(srv.greeting), t0)
		for round := 0; round < 10 && !c.Done(); round++ {
			if c.Idle() {
				c.Quit()
			}
			var out []byte
			for _, seg := range c.Output() {
				if bytes.HasSuffix(seg, []byte("\r\n.\r\n")) {
					bodies = append(bodies, seg)
				}
				out = append(out, seg...)
			}
			c.Wrote(len(out), t0)
			c.Feed(srv.take(out), t0)
		}
	}
	seven, _ := m.SevenBit()
	if len(bodies) != 2 || &bodies[0][0] != &seven.Wire()[0] || &bodies[1][0] != &seven.Wire()[0] {
		t.Fatalf("the connections did not both write the shared 7-bit form (%d bodies)", len(bodies))
	}
}
