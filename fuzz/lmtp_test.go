package fuzz

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"smtpfeed/proto/lmtp"
)

// lmtpCommandSeeds are lines and paths from proto/lmtp's CommandTests and
// PathTests.
var lmtpCommandSeeds = []string{
	"LHLO c.test", "lhlo c.test\r\n", "LHLO", "HELO c.test",
	"MAIL FROM:<a@b.test>", "mail from: <a@b.test>",
	"MAIL FROM:<> SIZE=100 BODY=8bitmime SMTPUTF8",
	"MAIL FROM:<a@b.test> SIZE=", "MAIL FROM:<a@b.test> SIZE=-1",
	"MAIL FROM:<a@b.test> RET=HDRS", "MAIL FROM:<a@b.test> SMTPUTF8 smtputf8",
	"MAIL FROM:a@b.test", "MAIL FROM:<a@b.test>x", "MAIL FROM:<a@b.test",
	"RCPT TO:<a@b.test>", `RCPT TO:<"a b>"@b.test>`, "RCPT TO:<@r.test:a@b.test>",
	"RCPT TO:<a@b.test> NOTIFY=SUCCESS,FAILURE", "RCPT TO:<>",
	// DSN's parameters, from proto/lmtp's dsnParamTests.
	"MAIL FROM:<a@b.test> RET=FULL ENVID=a+2Bb+3Dc", "MAIL FROM:<a@b.test> ENVID=a+2b", "MAIL FROM:<a@b.test> RET=FULL RET=HDRS",
	"RCPT TO:<a@b.test> NOTIFY=NEVER,SUCCESS", "RCPT TO:<a@b.test> NOTIFY=SUCCESS,success", "RCPT TO:<a@b.test> NOTIFY=,DELAY",
	"RCPT TO:<a@b.test> ORCPT=rfc822;a+2Bb@c.test NOTIFY=delay", "RCPT TO:<a@b.test> ORCPT=rfc822;",
	"RCPT TO:<a@b.test> ORCPT=utf-8;j\\x{F6}rg@b.test", "RCPT TO:<a@b.test> ORCPT=utf-8;jörg@b.test", "RCPT TO:<a@b.test> ORCPT=utf-8;a\\x{f6",
	"DATA", "DATA now", "NOOP anything", "XYZZY", "", "NO\x00OP", "NOOP\rQUIT", "\xff\xfe",
	"<a@b.test>", "<>", "<@a.test,@b.test:u@d.test>", `<"john doe"@a.test>`,
	`<"a\"b@c"@a.test>`, `<""@a.test>`, "<u@[192.0.2.1]>", "<u@[IPv6:2001:db8::1]>",
	"<u@[ipv6:::ffff:192.0.2.1]>", "<u@[x-tag:stuff]>", "<u@[IPv6:fe80::1%eth0]>",
	"<jörg@bücher.test>", "<a@b\xff>", "<a..b@b.test>", "<a@-b.test>",
	"<" + strings.Repeat("l", 64) + "@b.test>", "<" + strings.Repeat("l", 65) + "@b.test>",
	"RCPT TO:<" + strings.Repeat("l", 64) + "@" + strings.Repeat("d.", 94) + "test>",
}

// checkPath: a parsed path is within RFC 5321's limits and, written out
// again as we would send it on, parses to itself.
func checkPath(t *testing.T, p lmtp.Path, allowNull bool) {
	if p.Null() {
		if !allowNull || p != (lmtp.Path{}) {
			t.Fatalf("null path %#v (allowNull %v)", p, allowNull)
		}
		return
	}
	if len(p.Local) > lmtp.MaxLocalPart || len(p.Domain) > lmtp.MaxDomain || len(p.Addr)+2 > lmtp.MaxPath {
		t.Fatalf("path %#v over the limits", p)
	}
	if p.Addr != p.Local+"@"+p.Domain || !utf8.ValidString(p.Addr) {
		t.Fatalf("path %#v: Addr is not Local@Domain in UTF-8", p)
	}
	again, err := lmtp.ParsePath("<"+p.Addr+">", allowNull)
	if err != nil || again != p {
		t.Fatalf("ParsePath(<%s>) = %#v, %v, want %#v", p.Addr, again, err, p)
	}
}

// FuzzLMTPCommand checks the command and path parsers: no panic, paths
// within limits that re-parse to themselves, refusals that are one
// well-formed reply line.
func FuzzLMTPCommand(f *testing.F) {
	for _, s := range lmtpCommandSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, allowNull := range []bool{true, false} {
			if p, err := lmtp.ParsePath(string(line), allowNull); err == nil {
				checkPath(t, p, allowNull)
			}
		}
		cmd, err := lmtp.ParseCommand(line)
		if err != nil {
			ce, ok := err.(*lmtp.CommandError)
			if !ok {
				t.Fatalf("ParseCommand(%q): error %T %v, want *CommandError", line, err, err)
			}
			r := ce.Reply.String()
			if ce.Reply.Code < 500 || ce.Reply.Code > 555 || len(r) > 510 || strings.ContainsAny(r, "\r\n\x00") {
				t.Fatalf("ParseCommand(%q): refusal %q is not one 5xx line", line, r)
			}
			return
		}
		switch cmd.Verb {
		case lmtp.VerbMAIL, lmtp.VerbRCPT:
			checkPath(t, cmd.Path, cmd.Verb == lmtp.VerbMAIL)
			if p, err := lmtp.ParsePath(cmd.Arg, cmd.Verb == lmtp.VerbMAIL); err != nil || p != cmd.Path {
				t.Fatalf("ParseCommand(%q): Arg %q parses to %#v, %v, want %#v", line, cmd.Arg, p, err, cmd.Path)
			}
		}
		if cmd.Verb.String() == "invalid" {
			t.Fatalf("ParseCommand(%q) = verb %d", line, cmd.Verb)
		}
	})
}

// lmtpSessionSeeds are caller streams beyond the golden transcripts'.
var lmtpSessionSeeds = []string{
	"LHLO c\r\nMAIL FROM:<s@b>\r\nRCPT TO:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<e@f>\r\nDATA\r\n.\r\nQUIT\r\n",
	"LHLO c\nMAIL FROM:<s@b>\nRCPT TO:<a@b>\nDATA\nx\n.\n.\r\n",
	"LHLO c\r\nMAIL FROM:<s@b>\r\nRCPT TO:<a@b>\r\nDATA\r\n" + strings.Repeat("0123456789", 10) + "\r\n.\r\nRSET\r\n",
	"LHLO c\r\nMAIL FROM:<s@b>\r\nRCPT TO:<a@b>\r\nRCPT TO:<b@b>\r\nRCPT TO:<c@b>\r\nRCPT TO:<d@b>\r\nRCPT TO:<e@b>\r\nDATA\r\n..\r\n.\r\n",
	"LHLO c\r\n" + strings.Repeat("x", 600) + "\nNOOP\r\n",
	"LHLO c\r\nMAIL FROM:<s@b>\r\nRCPT TO:<a@b>\r\nDATA\r\npartial",
	// LF-only callers (a mailer definition without E=\r\n), and a mix.
	"LHLO c\nMAIL FROM:<s@b>\nRCPT TO:<a@b>\nRCPT TO:<b@b>\nDATA\nS: x\n\n..a\n...\n.\nMAIL FROM:<>\nRCPT TO:<e@f>\nDATA\n.\nQUIT\n",
	"LHLO c\nMAIL FROM:<s@b>\nRCPT TO:<a@b>\nDATA\na\r.\n..\r\n.\nQUIT\n",
	// DSN's parameters on some recipients, then a message without.
	"LHLO c\r\nMAIL FROM:<s@b> RET=HDRS ENVID=e+2B1\r\nRCPT TO:<a@b>\r\nRCPT TO:<c@d> NOTIFY=SUCCESS ORCPT=rfc822;c@d\r\nRCPT TO:<e@f> NOTIFY=NEVER,DELAY\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<e@f>\r\nDATA\r\n.\r\nQUIT\r\n",
}

// goldenSessions reads the caller's side of proto/lmtp's golden
// transcripts, so the seeds follow the unit tests.
func goldenSessions(f *testing.F) []string {
	files, err := filepath.Glob("../proto/lmtp/testdata/*.txt")
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden transcripts: %v", err)
	}
	unescape := strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\0`, "\x00")
	var seeds []string
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var in strings.Builder
		for _, line := range strings.Split(string(b), "\n") {
			line, ok := strings.CutPrefix(line, "C: ")
			if !ok || line == "(closes)" {
				continue
			}
			if partial, cut := strings.CutSuffix(line, " (no CRLF)"); cut {
				in.WriteString(unescape.Replace(partial))
				continue
			}
			in.WriteString(unescape.Replace(line) + "\r\n")
		}
		seeds = append(seeds, in.String())
	}
	return seeds
}

// FuzzLMTPSession feeds a session arbitrary caller bytes, split anywhere,
// with a driver that answers each message's recipients in a shuffled
// order and at shuffled times. Whatever the caller sends: no panic; the
// output is whole CRLF lines, each a reply; after each DATA's 354 come
// exactly one reply per accepted RCPT, in RCPT order, before anything
// else; the session ends; and the output is the same as when the bytes
// arrive whole.
func FuzzLMTPSession(f *testing.F) {
	for _, s := range append(goldenSessions(f), lmtpSessionSeeds...) {
		f.Add([]byte(s), []byte{5, 17, 40, 0, 200}, uint64(1))
	}
	f.Fuzz(func(t *testing.T, in, splits []byte, seed uint64) {
		tm := time.AfterFunc(10*time.Second, func() { panic("LMTP session did not end within 10s") })
		defer tm.Stop()
		whole, wholeMsgs := lmtpSession(t.Fatalf, in, nil, seed)
		split, splitMsgs := lmtpSession(t.Fatalf, in, splits, seed)
		if !bytes.Equal(whole, split) {
			t.Fatalf("output differs by split:\nwhole %q\nsplit %q", whole, split)
		}
		if !reflect.DeepEqual(wholeMsgs, splitMsgs) {
			t.Fatalf("messages differ by split:\nwhole %+v\nsplit %+v", wholeMsgs, splitMsgs)
		}
	})
}

// lmtpAnswer is the driver's answer for recipient i of message seq: the
// same whatever the order and timing, so runs can be compared.
func lmtpAnswer(seed uint64, seq, i int) lmtp.Reply {
	text := fmt.Sprintf("m%d r%d", seq, i)
	switch (seed + uint64(seq*31+i*7)) % 3 {
	case 0:
		return lmtp.Reply{Code: 250, Enhanced: "2.0.0", Text: text}
	case 1:
		return lmtp.Reply{Code: 451, Enhanced: "4.2.0", Text: text}
	}
	return lmtp.Reply{Code: 550, Enhanced: "5.1.1", Text: text}
}

type lmtpHanded struct {
	seq   int
	from  string
	rcpts []string
	data  string
	dsn   string // RET, ENVID and the recipients' NOTIFY and ORCPT
}

// checkDSN: a message's DSN parameters are one per recipient or none,
// and each parses back to itself as a RCPT or MAIL parameter would.
func checkDSN(fail func(string, ...any), m *lmtp.Message) {
	if m.DSN != nil && len(m.DSN) != len(m.Rcpts) {
		fail("message #%d: %d DSN entries for %d recipients", m.Seq, len(m.DSN), len(m.Rcpts))
	}
	if m.Ret != "" || m.EnvID != "" {
		line := "MAIL FROM:<>"
		if m.Ret != "" {
			line += " RET=" + m.Ret
		}
		if m.EnvID != "" {
			line += " ENVID=" + m.EnvID
		}
		if cmd, err := lmtp.ParseCommand([]byte(line)); err != nil || cmd.Ret != m.Ret || cmd.EnvID != m.EnvID {
			fail("message #%d: %q parses to %+v, %v", m.Seq, line, cmd, err)
		}
	}
	for i, d := range m.DSN {
		line := "RCPT TO:<a@b>"
		if d.Notify != "" {
			line += " NOTIFY=" + d.Notify
		}
		if d.ORcpt != "" {
			line += " ORCPT=" + d.ORcpt
		}
		if cmd, err := lmtp.ParseCommand([]byte(line)); err != nil || cmd.Notify != d.Notify || cmd.ORcpt != d.ORcpt {
			fail("message #%d recipient %d: %q parses to %+v, %v", m.Seq, i, line, cmd, err)
		}
	}
}

// lmtpSession runs one session and checks it; it returns the output and
// the messages handed out.
func lmtpSession(fail func(string, ...any), in, splits []byte, seed uint64) ([]byte, []lmtpHanded) {
	const maxSize = 64
	s := lmtp.NewSession(lmtp.Config{Hostname: "feed.test", MaxSize: maxSize, MaxRcpts: 4})
	rng := rand.New(rand.NewPCG(seed, uint64(len(splits))))
	var out []byte
	var handed []lmtpHanded
	var msgs []*lmtp.Message
	type owed struct {
		m *lmtp.Message
		i int
	}
	var queue []owed
	answer := func(n int) {
		rng.Shuffle(len(queue), func(a, b int) { queue[a], queue[b] = queue[b], queue[a] })
		for ; n > 0 && len(queue) > 0; n-- {
			a := queue[0]
			queue = queue[1:]
			if err := s.Answer(a.m, a.i, lmtpAnswer(seed, a.m.Seq, a.i)); err != nil {
				fail("Answer(#%d, %d): %v", a.m.Seq, a.i, err)
			}
		}
	}
	pump := func() {
		for {
			if o := s.Output(); len(o) > 0 {
				// Write in two pieces to exercise partial writes.
				k := rng.IntN(len(o)) + 1
				out = append(out, o[:k]...)
				s.Wrote(k)
				continue
			}
			m, ok := s.Next()
			if !ok {
				return
			}
			if m.Seq != len(msgs)+1 || len(m.Data) > maxSize || len(m.Rcpts) == 0 || len(m.Rcpts) > 4 {
				fail("message %d handed out as #%d with %d recipients and %d octets", len(msgs)+1, m.Seq, len(m.Rcpts), len(m.Data))
			}
			if len(msgs) > 0 {
				if err := s.Answer(msgs[len(msgs)-1], 0, lmtpAnswer(seed, 0, 0)); err == nil {
					fail("Answer for an earlier message accepted")
				}
			}
			msgs = append(msgs, m)
			checkDSN(fail, m)
			h := lmtpHanded{seq: m.Seq, from: m.From.Addr, data: string(m.Data), dsn: fmt.Sprintf("%q %q %q", m.Ret, m.EnvID, m.DSN)}
			for i, r := range m.Rcpts {
				h.rcpts = append(h.rcpts, r)
				queue = append(queue, owed{m, i})
			}
			handed = append(handed, h)
			answer(rng.IntN(len(m.Rcpts) + 1)) // some now, the rest later
			for i := range m.Rcpts {
				if !slices.ContainsFunc(queue, func(o owed) bool { return o.m == m && o.i == i }) {
					// Answered already: a second answer is refused and writes nothing.
					before := len(s.Output())
					if err := s.Answer(m, i, lmtpAnswer(seed, 0, 0)); err == nil || len(s.Output()) != before {
						fail("second Answer(#%d, %d) = %v, output %d -> %d", m.Seq, i, err, before, len(s.Output()))
					}
					break
				}
			}
		}
	}
	pump()
	fed := 0
	for _, sp := range append(slices.Clone(splits), 255) { // the fuzzer may hand in splits sharing in's array
		if fed >= len(in) {
			break
		}
		next := len(in)
		if splits != nil {
			next = min(fed+int(sp)+1, len(in))
		}
		s.Feed(in[fed:next])
		fed = next
		pump()
		answer(rng.IntN(3))
		pump()
	}
	if fed < len(in) {
		s.Feed(in[fed:])
		pump()
	}
	s.EOF()
	for round := 0; !s.Done(); round++ {
		if round > 1000 {
			fail("session not done after EOF and every answer: pending %d", s.Pending())
		}
		pump()
		answer(len(queue))
		pump()
	}
	checkLMTPOutput(fail, out, msgs, seed)
	return out, handed
}

// maxReplyLine is the longest reply line, CRLF included (RFC 5321
// §4.5.3.1.5).
const maxReplyLine = 512

// checkLMTPOutput checks the output is whole reply lines, and that each
// 354 is followed by one reply per recipient accepted since the last
// MAIL, in RCPT order, or by nothing at all (the caller left mid-data).
func checkLMTPOutput(fail func(string, ...any), out []byte, msgs []*lmtp.Message, seed uint64) {
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		fail("output does not end in CRLF: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n")
	for _, l := range lines {
		if len(l) < 3 || len(l)+2 > maxReplyLine || strings.ContainsAny(l, "\r\n") ||
			l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9' ||
			(len(l) > 3 && l[3] != ' ' && l[3] != '-') {
			fail("output line %q is not a reply", l)
		}
	}
	accepted, next := 0, 0
	for k := 0; k < len(lines); k++ {
		l := lines[k]
		switch {
		case strings.HasPrefix(l, "250 2.1.0 "):
			accepted = 0
		case strings.HasPrefix(l, "250 2.1.5 "):
			accepted++
		case strings.HasPrefix(l, "354 "):
			rest := lines[k+1:]
			if len(rest) == 0 {
				return // the caller left mid-data
			}
			if len(rest) < accepted {
				fail("354 followed by %d lines, want %d replies: %q", len(rest), accepted, rest)
			}
			if strings.HasPrefix(rest[0], "552 5.3.4 ") {
				for _, r := range rest[:accepted] {
					if !strings.HasPrefix(r, "552 5.3.4 ") {
						fail("mixed replies after an oversized message: %q", rest[:accepted])
					}
				}
			} else {
				if next >= len(msgs) || len(msgs[next].Rcpts) != accepted {
					fail("354 with %d recipients accepted, but message %d of %d handed out does not match", accepted, next+1, len(msgs))
				}
				m := msgs[next]
				next++
				for i := range accepted {
					if want := lmtpAnswer(seed, m.Seq, i).String(); rest[i] != want {
						fail("reply %d after #%d's dot is %q, want %q", i, m.Seq, rest[i], want)
					}
				}
			}
			k += accepted
			accepted = 0
		}
	}
	if next != len(msgs) {
		fail("%d messages handed out, %d answered in the output", len(msgs), next)
	}
}
