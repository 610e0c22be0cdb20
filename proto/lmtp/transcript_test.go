package lmtp

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/")

// script is one caller's side of a session. The driver answers every
// message at once, by the recipient's local part: bounce* gets 550,
// defer* 451, anyone else 250; in reverse RCPT order unless inOrder, so
// the ordering of replies is exercised in every transcript.
type script struct {
	name    string
	cfg     Config
	in      string
	noEOF   bool // the caller does not close after its input
	inOrder bool
}

func answerFor(addr string) Reply {
	switch {
	case strings.HasPrefix(addr, "bounce"):
		return Reply{550, "5.1.1", "no such user <" + addr + ">"}
	case strings.HasPrefix(addr, "defer"):
		return Reply{451, "4.2.0", "mailbox busy <" + addr + ">"}
	}
	return Reply{250, "2.0.0", "delivered to <" + addr + ">"}
}

// transcript runs sc, feeding the caller's bytes step at a time (0:
// whole), and returns what each side did.
func transcript(t *testing.T, sc script, step int) string {
	t.Helper()
	if sc.cfg.Hostname == "" {
		sc.cfg.Hostname = "feed.test"
	}
	var tr strings.Builder
	for _, line := range strings.SplitAfter(sc.in, "\r\n") {
		if line != "" {
			fmt.Fprintf(&tr, "C: %s\n", visible(strings.TrimSuffix(line, "\r\n"), !strings.HasSuffix(line, "\r\n")))
		}
	}
	s := NewSession(sc.cfg)
	pump := func() {
		for round := 0; ; round++ {
			if round > 1000 {
				t.Fatal("session keeps producing")
			}
			out := s.Output()
			for _, line := range strings.SplitAfter(string(out), "\r\n") {
				if line != "" {
					fmt.Fprintf(&tr, "S: %s\n", visible(strings.TrimSuffix(line, "\r\n"), !strings.HasSuffix(line, "\r\n")))
				}
			}
			s.Wrote(len(out))
			m, ok := s.Next()
			if !ok {
				if len(s.Output()) == 0 {
					return
				}
				continue
			}
			var rcpts []string
			for _, r := range m.Rcpts {
				rcpts = append(rcpts, "<"+r+">")
			}
			fmt.Fprintf(&tr, "M: #%d from=%s rcpts=%s 8bit=%v utf8=%v data=%q\n",
				m.Seq, m.From, strings.Join(rcpts, ","), m.EightBit, m.SMTPUTF8, m.Data)
			if m.Ret != "" || m.EnvID != "" || m.DSN != nil {
				fmt.Fprintf(&tr, "M: ret=%q envid=%q dsn=%q\n", m.Ret, m.EnvID, m.DSN)
			}
			for k := range m.Rcpts {
				i := len(m.Rcpts) - 1 - k
				if sc.inOrder {
					i = k
				}
				if err := s.Answer(m, i, answerFor(m.Rcpts[i])); err != nil {
					t.Fatalf("Answer(%d): %v", i, err)
				}
			}
		}
	}
	pump()
	in := []byte(sc.in)
	if step == 0 {
		step = len(in) + 1
	}
	for i := 0; i < len(in); i += step {
		s.Feed(in[i:min(i+step, len(in))])
		pump()
	}
	if !sc.noEOF {
		tr.WriteString("C: (closes)\n")
		s.EOF()
		pump()
	}
	fmt.Fprintf(&tr, "done=%v pending=%d\n", s.Done(), s.Pending())
	return tr.String()
}

// visible shows control characters a golden file must not hide.
func visible(s string, partial bool) string {
	s = strings.NewReplacer("\r", `\r`, "\n", `\n`, "\x00", `\0`).Replace(s)
	if partial {
		s += " (no CRLF)"
	}
	return s
}

var scripts = []script{
	{
		name: "two-messages",
		in: "LHLO list.test\r\n" +
			"MAIL FROM:<owner-list@list.test> SIZE=30\r\n" +
			"RCPT TO:<alice@a.test>\r\n" +
			"RCPT TO:<bounce-bob@b.test>\r\n" +
			"RCPT TO:<defer-carol@c.test>\r\n" +
			"DATA\r\n" +
			"Subject: one\r\n\r\nHello.\r\n.\r\n" +
			"MAIL FROM:<>\r\n" +
			"RCPT TO:<dave@d.test>\r\n" +
			"DATA\r\n" +
			"Subject: two\r\n\r\nBye.\r\n.\r\n" +
			"QUIT\r\n",
	},
	{
		name:    "pipelined-rset-noop",
		inOrder: true,
		in: "LHLO list.test\r\nMAIL FROM:<a@list.test>\r\nRCPT TO:<x@a.test>\r\nRSET\r\n" +
			"MAIL FROM:<a@list.test> BODY=8BITMIME\r\nRCPT TO:<y@a.test>\r\nRCPT TO:<z@b.test>\r\nDATA\r\nm\xc3\xa9\r\n.\r\n" +
			"NOOP\r\nMAIL FROM:<a@list.test>\r\nRCPT TO:<w@a.test>\r\nDATA\r\n.\r\nQUIT\r\n",
	},
	{
		name: "helo-ehlo",
		in:   "HELO c.test\r\nEHLO c.test\r\nMAIL FROM:<a@b.test>\r\nLHLO c.test\r\nLHLO\r\nQUIT\r\n",
	},
	{
		name: "sequence-errors",
		in: "RCPT TO:<a@b.test>\r\nDATA\r\nLHLO c.test\r\nRCPT TO:<a@b.test>\r\nDATA\r\n" +
			"MAIL FROM:<s@b.test>\r\nDATA\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<bounce@x.test>\r\nLHLO c.test\r\nDATA\r\nQUIT\r\n",
	},
	{
		name: "parameter-errors",
		cfg:  Config{MaxSize: 1000},
		in: "LHLO c.test\r\n" +
			"MAIL FROM:<s@b.test> SIZE=1001\r\n" +
			"MAIL FROM:<s@b.test> SIZE=99999999999999999999\r\n" +
			"MAIL FROM:<s@b.test> SIZE=12k\r\n" +
			"MAIL FROM:<s@b.test> BODY=BINARYMIME\r\n" +
			"MAIL FROM:<s@b.test> RET=NONE\r\n" +
			"MAIL FROM:<s@b.test> ENVID=a+zz\r\n" +
			"MAIL FROM:<s@b.test> RET=FULL RET=HDRS\r\n" +
			"MAIL FROM:<s@b.test> AUTH=<>\r\n" +
			"MAIL FROM:<s@b.test> SIZE=1 SIZE=2\r\n" +
			"MAIL FROM:<s@b.test> SMTPUTF8=yes\r\n" +
			"MAIL FROM:<s@b.test> =x\r\n" +
			"MAIL FROM:<s@b.test>junk\r\n" +
			"MAIL FROM:s@b.test\r\n" +
			"MAIL TO:<s@b.test>\r\n" +
			"MAIL FROM:<s@b.test> SIZE=1000\r\n" +
			"RCPT TO:<a@b.test> NOTIFY=NEVER,SUCCESS\r\n" +
			"RCPT TO:<a@b.test> NOTIFY=DELAY,DELAY\r\n" +
			"RCPT TO:<a@b.test> ORCPT=rfc822\r\n" +
			"RCPT TO:<a@b.test> ORCPT=rfc822;a@b.test ORCPT=rfc822;a@b.test\r\n" +
			"RCPT TO:<a@b.test> ORCPT=rfc822;j\xc3\xb6rg@b.test\r\n" +
			"RCPT TO:<a@b.test> ORCPT=utf-8;j\xc3\xb6rg@b.test\r\n" +
			"RCPT TO:<a@b.test> SIZE=10\r\n" +
			"RCPT TO:<>\r\n" +
			"RCPT TO:a@b.test\r\n" +
			"RCPT TO:<a@b.test\r\n" +
			"RCPT FROM:<a@b.test>\r\n" +
			"QUIT now\r\n" +
			"QUIT\r\n",
	},
	{
		// DSN's parameters pass through to the message as given; a
		// recipient without any has none, and the next transaction
		// starts clean.
		name: "dsn-parameters",
		in: "LHLO c.test\r\n" +
			"MAIL FROM:<s@b.test> RET=hdrs ENVID=QQ+2B314159\r\n" +
			"RCPT TO:<a@b.test> NOTIFY=success,failure ORCPT=rfc822;a+2Bx@b.test\r\n" +
			"RCPT TO:<b@b.test>\r\n" +
			"RCPT TO:<c@b.test> NOTIFY=NEVER\r\n" +
			"RCPT TO:<bounce@b.test> ORCPT=rfc822;bounce@b.test\r\n" +
			"DATA\r\nhi\r\n.\r\n" +
			"MAIL FROM:<s@b.test>\r\nRCPT TO:<d@b.test>\r\nDATA\r\nagain\r\n.\r\nQUIT\r\n",
	},
	{
		name: "bad-addresses",
		in: "LHLO c.test\r\nMAIL FROM:<s@b.test>\r\n" +
			"RCPT TO:<" + strings.Repeat("l", 65) + "@b.test>\r\n" +
			"RCPT TO:<a@" + strings.Repeat("d", 251) + ".test>\r\n" +
			"RCPT TO:<" + strings.Repeat("l", 64) + "@" + strings.Repeat("d.", 94) + "test>\r\n" +
			"RCPT TO:<a..b@b.test>\r\n" +
			"RCPT TO:<a@-b.test>\r\n" +
			"RCPT TO:<a@b..test>\r\n" +
			"RCPT TO:<a@[300.1.1.1]>\r\n" +
			"RCPT TO:<a@[IPv6:fe80::1%eth0]>\r\n" +
			"RCPT TO:<ab.test>\r\n" +
			"RCPT TO:<a b@b.test>\r\n" +
			"RCPT TO:<\"\"@b.test>\r\n" +
			"RCPT TO:<j\xc3\xb6rg@b.test>\r\n" +
			"RCPT TO:<a@b\xff.test>\r\n" +
			"RSET\r\nMAIL FROM:<s\xc3\xb6@b.test>\r\nQUIT\r\n",
	},
	{
		name: "paths",
		in: "LHLO c.test\r\nMAIL FROM: <@relay.test,@r2.test:Owner@List.Test> SMTPUTF8\r\n" +
			"RCPT TO:<\"john doe\"@a.test>\r\n" +
			"RCPT TO:<\"a\\\"b>c\"@a.test>\r\n" +
			"RCPT TO:<root@[192.0.2.1]>\r\n" +
			"RCPT TO:<root@[IPv6:2001:db8::1]>\r\n" +
			"RCPT TO: <MixedCase@Example.ORG>\r\n" +
			"rcpt to:<j\xc3\xb6rg@b\xc3\xbccher.test>\r\n" +
			"RCPT TO:<@x.test:user@d.test>\r\n" +
			"DATA\r\nhi\r\n.\r\nQUIT\r\n",
	},
	{
		name: "misc-commands",
		in: "NOOP\r\nHELP\r\nLHLO c.test\r\nVRFY root\r\nEXPN list\r\nSTARTTLS\r\nBDAT 10 LAST\r\n" +
			"XYZZY plugh\r\n\r\nRSET\r\nRSET x\r\nDATA x\r\nnoop lower case\r\nQUIT\r\n",
	},
	{
		name: "line-limits",
		in: "LHLO c.test\r\n" +
			strings.Repeat("X", MaxCommandLine+88) + "\r\n" +
			"NOOP " + strings.Repeat("y", MaxCommandLine-7) + "\r\n" + // MaxCommandLine with CRLF: fine
			"NOOP " + strings.Repeat("y", MaxCommandLine-6) + "\r\n" + // one more: too long
			"NOOP " + strings.Repeat("y", MaxCommandLine-6) + "\n" + // MaxCommandLine with a bare LF: fine
			"NO\x00OP\r\n" +
			"NOOP\rQUIT\r\n" +
			"NOOP\n" +
			"QUIT\r\n",
	},
	{
		name: "size-limit",
		cfg:  Config{MaxSize: 20},
		in: "LHLO c.test\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<a@b.test>\r\nRCPT TO:<bounce@b.test>\r\nDATA\r\n" +
			strings.Repeat("0123456789", 3) + "\r\n.\r\n" +
			"MAIL FROM:<s@b.test>\r\nRCPT TO:<a@b.test>\r\nDATA\r\n" +
			"20 octets, exactly\r\n.\r\nQUIT\r\n",
	},
	{
		// A mailer definition without E=\r\n: LF ends every line, the
		// stuffing and the data too; the replies still end in CRLF.
		name: "lf-only-session",
		in: "LHLO c.test\nMAIL FROM:<s@b.test>\nRCPT TO:<a@b.test>\nRCPT TO:<b@b.test>\nDATA\n" +
			"Subject: lf\n\n..stuffed\nbody\n.\nQUIT\n",
	},
	{
		// LF with or without CR ends a line; a bare CR never does.
		name: "mixed-line-ends",
		in: "LHLO c.test\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<a@b.test>\nDATA\r\n" +
			"one\n..two\r\nthree\r.\rfour\n.\r\n" +
			"MAIL FROM:<t@b.test>\nRCPT TO:<a@b.test>\r\nDATA\n" +
			"five\r\n.\nQUIT\r\n",
	},
	{
		name: "dot-unstuffing",
		in: "LHLO c.test\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<a@b.test>\r\nDATA\r\n" +
			"..leading dot\r\n..\r\n...\r\n.\rcr\r\nmid.dot\r\n.x\r\n.\r\nQUIT\r\n",
	},
	{
		name: "empty-message",
		in:   "LHLO c.test\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<a@b.test>\r\nDATA\r\n.\r\nQUIT\r\n",
	},
	{
		name: "eof-mid-data",
		in:   "LHLO c.test\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<a@b.test>\r\nDATA\r\nSubject: cut\r\n\r\npartial",
	},
	{
		name: "eof-mid-command",
		in:   "LHLO c.test\r\nNOOP\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<a@b.test>\r\nDATA\r\nx\r\n.\r\nNOO",
	},
	{
		name:  "no-eof",
		noEOF: true,
		in:    "LHLO c.test\r\nMAIL FROM:<s@b.test>\r\n",
	},
	{
		name: "max-rcpts",
		cfg:  Config{MaxRcpts: 2},
		in: "LHLO c.test\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<a@b.test>\r\nRCPT TO:<b@b.test>\r\nRCPT TO:<c@b.test>\r\n" +
			"DATA\r\nx\r\n.\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<c@b.test>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n",
	},
	{
		name: "input-after-quit",
		in:   "LHLO c.test\r\nQUIT\r\nNOOP\r\nMAIL FROM:<s@b.test>\r\n",
	},
	{
		name: "rcpt-errors-then-data",
		in: "LHLO c.test\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<a@b.test>\r\nRCPT TO:<bad>\r\nRCPT TO:<b@b.test>\r\n" +
			"DATA\r\nbody\r\n.\r\nQUIT\r\n",
	},
}

// TestTranscripts runs each script whole, one byte at a time and in odd
// pieces; all three must equal the golden transcript.
func TestTranscripts(t *testing.T) {
	for _, sc := range scripts {
		t.Run(sc.name, func(t *testing.T) {
			got := transcript(t, sc, 0)
			file := filepath.Join("testdata", sc.name+".txt")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got != string(want) {
				t.Errorf("whole: transcript differs from %s:\n%s", file, got)
			}
			for _, step := range []int{1, 2, 7, 511} {
				if got := transcript(t, sc, step); got != string(want) {
					t.Errorf("fed %d bytes at a time: transcript differs from %s:\n%s", step, file, got)
				}
			}
		})
	}
}
