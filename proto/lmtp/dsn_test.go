package lmtp

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

// dsnWant is what a MAIL or RCPT line's DSN parameters parse to.
type dsnWant struct{ ret, envID, notify, orcpt string }

// dsnParamTests are DSN's parameters (RFC 3461 §4.1-4.4, RFC 6533 §3) on
// MAIL and RCPT: accepted as given (keywords upper-cased), or refused
// with the reply given.
var dsnParamTests = []struct {
	line string
	want dsnWant
	err  string
}{
	// RET (§4.3).
	{"MAIL FROM:<a@b.test> RET=FULL", dsnWant{ret: "FULL"}, ""},
	{"MAIL FROM:<a@b.test> ret=hdrs", dsnWant{ret: "HDRS"}, ""},
	{"MAIL FROM:<a@b.test> RET=NONE", dsnWant{}, "501 5.5.4 syntax: RET=FULL or RET=HDRS"},
	{"MAIL FROM:<a@b.test> RET", dsnWant{}, "501 5.5.4 syntax: RET=FULL or RET=HDRS"},
	{"MAIL FROM:<a@b.test> RET=", dsnWant{}, "501 5.5.4 empty parameter value"},
	{"MAIL FROM:<a@b.test> RET=FULL RET=HDRS", dsnWant{}, "501 5.5.4 duplicate parameter: RET"},
	{"MAIL FROM:<a@b.test> RET=FULL ret=FULL", dsnWant{}, "501 5.5.4 duplicate parameter: RET"},
	// ENVID (§4.4): xtext, kept encoded, at most 100 characters.
	{"MAIL FROM:<a@b.test> ENVID=QQ314159", dsnWant{envID: "QQ314159"}, ""},
	{"MAIL FROM:<a@b.test> envid=a+2Bb+3Dc RET=hdrs", dsnWant{ret: "HDRS", envID: "a+2Bb+3Dc"}, ""},
	{"MAIL FROM:<a@b.test> ENVID=<id@host>!~", dsnWant{envID: "<id@host>!~"}, ""},
	{"MAIL FROM:<a@b.test> ENVID=" + strings.Repeat("e", 100), dsnWant{envID: strings.Repeat("e", 100)}, ""},
	{"MAIL FROM:<a@b.test> ENVID=" + strings.Repeat("e", 101), dsnWant{}, "501 5.5.4 ENVID longer than 100 characters"},
	{"MAIL FROM:<a@b.test> ENVID", dsnWant{}, "501 5.5.4 syntax: ENVID=xtext"},
	{"MAIL FROM:<a@b.test> ENVID=a+2b", dsnWant{}, "501 5.5.4 bad ENVID: '+' not followed by two upper-case hex digits"},
	{"MAIL FROM:<a@b.test> ENVID=a+2", dsnWant{}, "501 5.5.4 bad ENVID: '+' not followed by two upper-case hex digits"},
	{"MAIL FROM:<a@b.test> ENVID=a+", dsnWant{}, "501 5.5.4 bad ENVID: '+' not followed by two upper-case hex digits"},
	{"MAIL FROM:<a@b.test> ENVID=a+G0", dsnWant{}, "501 5.5.4 bad ENVID: '+' not followed by two upper-case hex digits"},
	{"MAIL FROM:<a@b.test> ENVID=j\xc3\xb6rg", dsnWant{}, "501 5.5.4 bad ENVID: character 0xc3 not allowed in xtext"},
	{"MAIL FROM:<a@b.test> ENVID=a=b", dsnWant{}, "501 5.5.4 bad parameter value"},
	{"MAIL FROM:<a@b.test> ENVID=a ENVID=b", dsnWant{}, "501 5.5.4 duplicate parameter: ENVID"},
	// NOTIFY (§4.1): NEVER alone, or SUCCESS, FAILURE, DELAY once each.
	{"RCPT TO:<a@b.test> NOTIFY=NEVER", dsnWant{notify: "NEVER"}, ""},
	{"RCPT TO:<a@b.test> notify=never", dsnWant{notify: "NEVER"}, ""},
	{"RCPT TO:<a@b.test> NOTIFY=Success", dsnWant{notify: "SUCCESS"}, ""},
	{"RCPT TO:<a@b.test> NOTIFY=delay,failure,success", dsnWant{notify: "DELAY,FAILURE,SUCCESS"}, ""},
	{"RCPT TO:<a@b.test> NOTIFY=NEVER,SUCCESS", dsnWant{}, "501 5.5.4 NOTIFY=NEVER cannot be combined with other values"},
	{"RCPT TO:<a@b.test> NOTIFY=FAILURE,never", dsnWant{}, "501 5.5.4 NOTIFY=NEVER cannot be combined with other values"},
	{"RCPT TO:<a@b.test> NOTIFY=SUCCESS,success", dsnWant{}, "501 5.5.4 NOTIFY lists SUCCESS twice"},
	{"RCPT TO:<a@b.test> NOTIFY=SUCCESS,", dsnWant{}, "501 5.5.4 NOTIFY has an empty list element"},
	{"RCPT TO:<a@b.test> NOTIFY=,DELAY", dsnWant{}, "501 5.5.4 NOTIFY has an empty list element"},
	{"RCPT TO:<a@b.test> NOTIFY=SOMETIMES", dsnWant{}, "501 5.5.4 NOTIFY value not SUCCESS, FAILURE, DELAY or NEVER: SOMETIMES"},
	{"RCPT TO:<a@b.test> NOTIFY", dsnWant{}, "501 5.5.4 syntax: NOTIFY=NEVER or NOTIFY= a list of SUCCESS, FAILURE, DELAY"},
	{"RCPT TO:<a@b.test> NOTIFY=SUCCESS NOTIFY=FAILURE", dsnWant{}, "501 5.5.4 duplicate parameter: NOTIFY"},
	// ORCPT (§4.2): addr-type ";" xtext, kept as given, at most 500.
	{"RCPT TO:<a@b.test> ORCPT=rfc822;a+2Bb@c.test", dsnWant{orcpt: "rfc822;a+2Bb@c.test"}, ""},
	{"RCPT TO:<a@b.test> ORCPT=RFC822;A@B.test NOTIFY=failure", dsnWant{notify: "FAILURE", orcpt: "RFC822;A@B.test"}, ""},
	{"RCPT TO:<a@b.test> ORCPT=x-local;+22quoted+20name+22", dsnWant{orcpt: "x-local;+22quoted+20name+22"}, ""},
	{"RCPT TO:<a@b.test> ORCPT=rfc822;" + strings.Repeat("o", 493), dsnWant{orcpt: "rfc822;" + strings.Repeat("o", 493)}, ""},
	{"RCPT TO:<a@b.test> ORCPT=rfc822;" + strings.Repeat("o", 494), dsnWant{}, "501 5.5.4 ORCPT longer than 500 characters"},
	{"RCPT TO:<a@b.test> ORCPT=rfc822", dsnWant{}, "501 5.5.4 syntax: ORCPT=addr-type;xtext"},
	{"RCPT TO:<a@b.test> ORCPT=;a@b.test", dsnWant{}, "501 5.5.4 syntax: ORCPT=addr-type;xtext"},
	{"RCPT TO:<a@b.test> ORCPT=rfc(822);a@b.test", dsnWant{}, "501 5.5.4 syntax: ORCPT=addr-type;xtext"},
	{"RCPT TO:<a@b.test> ORCPT", dsnWant{}, "501 5.5.4 syntax: ORCPT=addr-type;xtext"},
	{"RCPT TO:<a@b.test> ORCPT=rfc822;", dsnWant{}, "501 5.5.4 ORCPT has an empty address"},
	{"RCPT TO:<a@b.test> ORCPT=rfc822;a+zz@b.test", dsnWant{}, "501 5.5.4 bad ORCPT: '+' not followed by two upper-case hex digits"},
	{"RCPT TO:<a@b.test> ORCPT=rfc822;a;b@c.test", dsnWant{orcpt: "rfc822;a;b@c.test"}, ""},
	{"RCPT TO:<a@b.test> ORCPT=rfc822;j\xc3\xb6rg@b.test", dsnWant{}, "501 5.5.4 bad ORCPT: character 0xc3 not allowed in xtext"},
	{"RCPT TO:<a@b.test> ORCPT=rfc822;a@b ORCPT=rfc822;c@d", dsnWant{}, "501 5.5.4 duplicate parameter: ORCPT"},
	// ORCPT of type utf-8 (RFC 6533 §3): QCHAR, UTF-8, \x{HEXPOINT}.
	{"RCPT TO:<a@b.test> ORCPT=utf-8;j\xc3\xb6rg@b.test", dsnWant{orcpt: "utf-8;j\xc3\xb6rg@b.test"}, ""},
	{"RCPT TO:<a@b.test> ORCPT=UTF-8;j\\x{F6}rg@b.test", dsnWant{orcpt: "UTF-8;j\\x{F6}rg@b.test"}, ""},
	{"RCPT TO:<a@b.test> ORCPT=utf-8;a\\x{1F600}", dsnWant{orcpt: "utf-8;a\\x{1F600}"}, ""},
	{"RCPT TO:<a@b.test> ORCPT=utf-8;j\\x{f6}rg", dsnWant{}, "501 5.5.4 bad ORCPT: '\\' not starting \\x{HEXPOINT}"},
	{"RCPT TO:<a@b.test> ORCPT=utf-8;a\\x{}", dsnWant{}, "501 5.5.4 bad ORCPT: '\\' not starting \\x{HEXPOINT}"},
	{"RCPT TO:<a@b.test> ORCPT=utf-8;a\\b", dsnWant{}, "501 5.5.4 bad ORCPT: '\\' not starting \\x{HEXPOINT}"},
	{"RCPT TO:<a@b.test> ORCPT=utf-8;a+2Bb", dsnWant{}, "501 5.5.4 bad ORCPT: character '+' not allowed in a utf-8 address"},
	{"RCPT TO:<a@b.test> ORCPT=utf-8;a\xffb", dsnWant{}, "501 5.5.4 bad ORCPT: invalid UTF-8"},
	// Neither verb takes the other's, nor unknown ones.
	{"MAIL FROM:<a@b.test> NOTIFY=NEVER", dsnWant{}, "555 5.5.4 parameter not supported: NOTIFY"},
	{"RCPT TO:<a@b.test> RET=FULL", dsnWant{}, "555 5.5.4 parameter not supported: RET"},
	{"RCPT TO:<a@b.test> NOTIFY=NEVER X-FOO=1", dsnWant{}, "555 5.5.4 parameter not supported: X-FOO"},
}

func TestParseDSNParams(t *testing.T) {
	for _, tt := range dsnParamTests {
		t.Run(tt.line, func(t *testing.T) {
			cmd, err := ParseCommand([]byte(tt.line))
			if tt.err != "" {
				var ce *CommandError
				if !errors.As(err, &ce) || ce.Reply.String() != tt.err {
					t.Fatalf("ParseCommand(%q) = %+v, %v, want error %q", tt.line, cmd, err, tt.err)
				}
				return
			}
			got := dsnWant{cmd.Ret, cmd.EnvID, cmd.Notify, cmd.ORcpt}
			if err != nil || got != tt.want || cmd.Path.Addr != "a@b.test" {
				t.Fatalf("ParseCommand(%q) = %+v, %v, want DSN %+v", tt.line, cmd, err, tt.want)
			}
		})
	}
}

// TestDSNLongestRCPT: a RCPT with the longest path and both DSN
// parameters at their longest fits in a command line.
func TestDSNLongestRCPT(t *testing.T) {
	addr := strings.Repeat("l", MaxLocalPart) + "@" + strings.Repeat("d.", 92) + "test"
	if len(addr)+2 != MaxPath-1 {
		t.Fatalf("test address of %d octets, want %d", len(addr), MaxPath-3)
	}
	line := "RCPT TO:<" + addr + "> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;" + strings.Repeat("o", MaxORcpt-len("rfc822;")) + "\r\n"
	if len(line) > MaxCommandLine {
		t.Fatalf("longest RCPT is %d octets, over MaxCommandLine %d", len(line), MaxCommandLine)
	}
	s := NewSession(Config{})
	s.Feed([]byte("LHLO c\r\nMAIL FROM:<>\r\n" + line + "DATA\r\n.\r\n"))
	out := drain(s)
	if !strings.Contains(out, "250 2.1.5 recipient") {
		t.Fatalf("RCPT of %d octets refused:\n%s", len(line), out)
	}
	m, ok := s.Next()
	if !ok || len(m.DSN) != 1 || m.DSN[0].Notify != "SUCCESS,FAILURE,DELAY" || len(m.DSN[0].ORcpt) != MaxORcpt {
		t.Fatalf("message %+v, want the recipient's DSN parameters whole", m)
	}
}

// TestMessageDSN: the parameters reach the Message by RCPT index, the
// refused recipients leaving no gap; a message without any has nil DSN.
func TestMessageDSN(t *testing.T) {
	tests := []struct {
		name       string
		mail       string
		rcpts      string
		ret, envID string
		dsn        []RcptDSN
		refused    string // a reply expected among the RCPT replies
	}{
		{
			name:  "none",
			mail:  "MAIL FROM:<s@b.test>",
			rcpts: "RCPT TO:<a@b.test>\r\nRCPT TO:<c@b.test>\r\n",
		},
		{
			name:  "RET and ENVID only",
			mail:  "MAIL FROM:<s@b.test> RET=hdrs ENVID=list+2B42",
			rcpts: "RCPT TO:<a@b.test>\r\n",
			ret:   "HDRS", envID: "list+2B42",
		},
		{
			name: "from the second recipient on, a refused one between",
			mail: "MAIL FROM:<s@b.test> RET=FULL",
			rcpts: "RCPT TO:<a@b.test>\r\n" +
				"RCPT TO:<b@b.test> NOTIFY=success,failure ORCPT=rfc822;b+2Bx@b.test\r\n" +
				"RCPT TO:<bad> NOTIFY=NEVER\r\n" +
				"RCPT TO:<c@b.test> NOTIFY=NEVER\r\n" +
				"RCPT TO:<d@b.test> ORCPT=rfc822;d@b.test\r\n" +
				"RCPT TO:<e@b.test> NOTIFY=SUCCESS,FAILURE\r\n",
			ret: "FULL",
			dsn: []RcptDSN{{}, {"SUCCESS,FAILURE", "rfc822;b+2Bx@b.test"}, {"NEVER", ""}, {"", "rfc822;d@b.test"}, {"SUCCESS,FAILURE", ""}},
		},
		{
			name: "a non-ASCII ORCPT needs SMTPUTF8",
			mail: "MAIL FROM:<s@b.test>",
			rcpts: "RCPT TO:<a@b.test> ORCPT=utf-8;j\xc3\xb6rg@b.test\r\n" +
				"RCPT TO:<c@b.test> ORCPT=utf-8;j\\x{F6}rg@b.test\r\n",
			dsn:     []RcptDSN{{"", "utf-8;j\\x{F6}rg@b.test"}},
			refused: "553 5.6.7 non-ASCII ORCPT needs SMTPUTF8",
		},
		{
			name:  "a non-ASCII ORCPT with SMTPUTF8",
			mail:  "MAIL FROM:<s@b.test> SMTPUTF8",
			rcpts: "RCPT TO:<a@b.test> ORCPT=utf-8;j\xc3\xb6rg@b.test\r\n",
			dsn:   []RcptDSN{{"", "utf-8;j\xc3\xb6rg@b.test"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSession(Config{})
			// RSET first: a transaction's parameters must not leak
			// into the next.
			s.Feed([]byte("LHLO c\r\nMAIL FROM:<x@b.test> RET=FULL ENVID=old\r\nRCPT TO:<x@b.test> NOTIFY=NEVER\r\nRSET\r\n" +
				tt.mail + "\r\n" + tt.rcpts + "DATA\r\nhi\r\n.\r\n"))
			out := drain(s)
			if tt.refused != "" && !strings.Contains(out, tt.refused+"\r\n") {
				t.Errorf("replies lack %q:\n%s", tt.refused, out)
			}
			m, ok := s.Next()
			if !ok {
				t.Fatalf("no message; replies:\n%s", out)
			}
			if m.Ret != tt.ret || m.EnvID != tt.envID {
				t.Errorf("RET %q ENVID %q, want %q %q", m.Ret, m.EnvID, tt.ret, tt.envID)
			}
			if tt.dsn == nil && m.DSN != nil {
				t.Errorf("DSN = %+v, want nil", m.DSN)
			}
			if len(m.DSN) != len(tt.dsn) || tt.dsn != nil && len(m.DSN) != len(m.Rcpts) {
				t.Fatalf("DSN = %+v for %d recipients, want %+v", m.DSN, len(m.Rcpts), tt.dsn)
			}
			for i := range tt.dsn {
				if m.DSN[i] != tt.dsn[i] {
					t.Errorf("DSN[%d] (%s) = %+v, want %+v", i, m.Rcpts[i], m.DSN[i], tt.dsn[i])
				}
			}
		})
	}
}

// TestDSNListShares: recipients with the same NOTIFY share one string,
// and every ORCPT comes back in order through the packed list.
func TestDSNListShares(t *testing.T) {
	var l dsnList
	for i := range 3000 {
		l.add(i, strings.Clone("SUCCESS,FAILURE"), "rfc822;user"+strings.Repeat("x", i%50)+"@b.test")
	}
	vals := l.take()
	if len(vals) != 3000 {
		t.Fatalf("%d values, want 3000", len(vals))
	}
	for i, v := range vals {
		if want := "rfc822;user" + strings.Repeat("x", i%50) + "@b.test"; v.ORcpt != want {
			t.Fatalf("vals[%d].ORcpt = %q, want %q", i, v.ORcpt, want)
		}
		if v.Notify != "SUCCESS,FAILURE" || unsafe.StringData(v.Notify) != unsafe.StringData(vals[0].Notify) {
			t.Fatalf("vals[%d].Notify = %q, not sharing the first one's string", i, v.Notify)
		}
	}
	if l.vals != nil || l.orcpts.n != 0 {
		t.Error("take left the list non-empty")
	}
}
