package smtpfeed

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"smtpfeed/proto/lmtp"
)

// stuffLMTP is what a caller's MTA sends for content: each line that
// begins with a dot gets another (lines end at LF, with or without CR),
// then the final dot with the caller's line end.
func stuffLMTP(content, eol string) string {
	var b strings.Builder
	bol := true
	for i := 0; i < len(content); i++ {
		if bol && content[i] == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(content[i])
		bol = content[i] == '\n'
	}
	if !bol {
		b.WriteString(eol)
	}
	b.WriteString("." + eol)
	return b.String()
}

// crlfLines is content as a server must store it: every line end CRLF.
func crlfLines(content string) string {
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}

// bigMessage is about size octets of lines of every length up to 998,
// some beginning with one or two dots, with CRLF line ends.
func bigMessage(size int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("Subject: big\r\n\r\n")
	for b.Len() < size {
		n := rng.IntN(999)
		line := make([]byte, n)
		for i := range line {
			line[i] = byte(' ' + rng.IntN(95))
		}
		switch rng.IntN(10) {
		case 0:
			if n > 0 {
				line[0] = '.'
			}
		case 1:
			if n > 1 {
				line[0], line[1] = '.', '.'
			}
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	return b.String()
}

// TestWireExact: a message handed over LMTP reaches a go-smtp server byte
// for byte as the caller meant it, whatever line ends the caller uses:
// every line end CRLF, dots unstuffed by us and stuffed again, a line of
// 998 octets whole even when it begins with a dot, only a longer line
// broken (CRLF SP).
func TestWireExact(t *testing.T) {
	dot998 := "." + strings.Repeat("d", 997)
	long999 := strings.Repeat("y", 999)
	big := bigMessage(5 << 20)
	tests := []struct {
		name    string
		eol     string // the caller's line end, commands included
		content string
		want    string
	}{
		{"LF only", "\n", "Subject: lf\n\n.leading dot\n..two dots\n.\nbody\n", ""},
		{"mixed CRLF and LF", "\r\n", "Subject: mixed\r\n\nline one\nline two\r\n.dot\n..\r\nend\n", ""},
		{"998-octet line beginning with a dot", "\r\n", "Subject: 998\r\n\r\n" + dot998 + "\r\n", ""},
		{"999-octet line", "\r\n", "Subject: 999\r\n\r\n" + long999 + "\r\n",
			"Subject: 999\r\n\r\n" + long999[:998] + "\r\n y\r\n"},
		{"5 MB", "\r\n", big, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// An engine each: a finished session's descriptor is closed
			// by the test's cleanup, not by the loop.
			z := newZoneRun(t, []string{"exact.test. MX 10 mx.exact.test.", "mx.exact.test. A 127.0.0.1"}, nil)
			want := tc.want
			if want == "" {
				want = crlfLines(tc.content)
			}
			caller, _, endErr, ended := lmtpPair(t, z.e, LMTPOptions{Session: lmtp.Config{Hostname: "feed.test"}})
			eol := tc.eol
			session := "LHLO mta.test" + eol + "MAIL FROM:<list@lists.test>" + eol + "RCPT TO:<a@exact.test>" + eol +
				"DATA" + eol + stuffLMTP(tc.content, eol) + "QUIT" + eol
			before := len(z.be.received()) // nothing arrives before the session is written
			got := lmtpExchange(t, z.e, caller, endErr, ended, session, 60*time.Second)
			// 220, LHLO, MAIL, RCPT, 354, the recipient's answer, 221.
			if len(got) != 7 || !strings.HasPrefix(got[5], "250 2.0.0") {
				t.Fatalf("replies %q, want the recipient delivered", got)
			}
			msgs := z.be.received()
			if len(msgs) != before+1 {
				t.Fatalf("the server got %d messages, want 1", len(msgs)-before)
			}
			if data := msgs[len(msgs)-1].data; !bytes.Equal(data, []byte(want)) {
				i := 0
				for i < min(len(data), len(want)) && data[i] == want[i] {
					i++
				}
				t.Fatalf("the server stored %d octets, want %d; first difference at %d: got %q, want %q",
					len(data), len(want), i, data[i:min(i+40, len(data))], want[i:min(i+40, len(want))])
			}
		})
	}
}
