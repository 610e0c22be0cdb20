package lmtp

import (
	"errors"
	"testing"
)

// CommandTests is shared with the fuzz targets' seeds.
var CommandTests = []struct {
	line string
	want Command
	err  string // the reply refusing it, "" for none
}{
	{"LHLO c.test", Command{Verb: VerbLHLO, Arg: "c.test"}, ""},
	{"lhlo c.test\r\n", Command{Verb: VerbLHLO, Arg: "c.test"}, ""},
	{"LHLO", Command{}, "501 5.5.4 syntax: LHLO hostname"},
	{"HELO c.test", Command{Verb: VerbHELO, Arg: "c.test"}, ""},
	{"MAIL FROM:<a@b.test>", Command{Verb: VerbMAIL, Arg: "<a@b.test>", Path: Path{"a@b.test", "a", "b.test"}}, ""},
	{"mail from: <a@b.test>", Command{Verb: VerbMAIL, Arg: "<a@b.test>", Path: Path{"a@b.test", "a", "b.test"}}, ""},
	{"MAIL FROM:<> SIZE=100 BODY=8bitmime SMTPUTF8", Command{Verb: VerbMAIL, Arg: "<>", Size: 100, Body: "8BITMIME", SMTPUTF8: true}, ""},
	{"MAIL FROM:<>  size=7  BODY=7BIT ", Command{Verb: VerbMAIL, Arg: "<>", Size: 7, Body: "7BIT"}, ""},
	{"MAIL FROM:<a@b.test> SIZE=", Command{}, "501 5.5.4 empty parameter value"},
	{"MAIL FROM:<a@b.test> SIZE", Command{}, "501 5.5.4 syntax: SIZE=octets"},
	{"MAIL FROM:<a@b.test> SIZE=-1", Command{}, "501 5.5.4 syntax: SIZE=octets"},
	{"MAIL FROM:<a@b.test> BODY=BINARYMIME", Command{}, "501 5.5.4 syntax: BODY=7BIT or BODY=8BITMIME"},
	{"MAIL FROM:<a@b.test> RET=HDRS", Command{Verb: VerbMAIL, Arg: "<a@b.test>", Path: Path{"a@b.test", "a", "b.test"}, Ret: "HDRS"}, ""},
	{"MAIL FROM:<a@b.test> ENVID=QQ314159", Command{Verb: VerbMAIL, Arg: "<a@b.test>", Path: Path{"a@b.test", "a", "b.test"}, EnvID: "QQ314159"}, ""},
	{"MAIL FROM:<a@b.test> AUTH=<>", Command{}, "555 5.5.4 parameter not supported: AUTH"},
	{"MAIL FROM:<a@b.test> X=1 X=2", Command{}, "555 5.5.4 parameter not supported: X"},
	{"MAIL FROM:<a@b.test> SMTPUTF8 smtputf8", Command{}, "501 5.5.4 duplicate parameter: SMTPUTF8"},
	{"MAIL FROM:<a@b.test> SIZE=1\x7f", Command{}, "501 5.5.4 bad parameter value"},
	{"MAIL FROM:<a@b.test> S_Z=1", Command{}, "501 5.5.4 bad parameter syntax"},
	{"MAIL FROM:a@b.test", Command{}, "501 5.1.7 address must be in angle brackets"},
	{"MAIL FROM:<a@b.test>x", Command{}, "501 5.5.4 junk after the address"},
	{"MAIL FROM:<a@b.test", Command{}, "501 5.1.7 address without closing '>'"},
	{"MAIL FROM:<a>", Command{}, "501 5.1.7 bad sender address: address without @domain"},
	{"MAIL <a@b.test>", Command{}, "501 5.5.4 syntax: MAIL FROM:<address>"},
	{"MAIL", Command{}, "501 5.5.4 syntax: MAIL FROM:<address>"},
	{"RCPT TO:<a@b.test>", Command{Verb: VerbRCPT, Arg: "<a@b.test>", Path: Path{"a@b.test", "a", "b.test"}}, ""},
	{`RCPT TO:<"a b>"@b.test>`, Command{Verb: VerbRCPT, Arg: `<"a b>"@b.test>`, Path: Path{`"a b>"@b.test`, `"a b>"`, "b.test"}}, ""},
	{"RCPT TO:<@r.test:a@b.test>", Command{Verb: VerbRCPT, Arg: "<@r.test:a@b.test>", Path: Path{"a@b.test", "a", "b.test"}}, ""},
	{"RCPT TO:<a@b.test> NOTIFY=SUCCESS,FAILURE", Command{Verb: VerbRCPT, Arg: "<a@b.test>", Path: Path{"a@b.test", "a", "b.test"}, Notify: "SUCCESS,FAILURE"}, ""},
	{"RCPT TO:<a@b.test> ORCPT=rfc822;a@b.test", Command{Verb: VerbRCPT, Arg: "<a@b.test>", Path: Path{"a@b.test", "a", "b.test"}, ORcpt: "rfc822;a@b.test"}, ""},
	{"RCPT TO:<a@b.test> BODY=8BITMIME", Command{}, "555 5.5.4 parameter not supported: BODY"},
	{"RCPT TO:<>", Command{}, "501 5.1.3 bad recipient address: null address not allowed here"},
	{"RCPT TO:", Command{}, "501 5.1.3 address must be in angle brackets"},
	{"RCPT TO:  <a@b.test>", Command{}, "501 5.1.3 address must be in angle brackets"},
	{"DATA", Command{Verb: VerbDATA}, ""},
	{"DATA ", Command{Verb: VerbDATA}, ""},
	{"DATA now", Command{}, "501 5.5.4 DATA takes no parameters"},
	{"RSET", Command{Verb: VerbRSET}, ""},
	{"NOOP anything at all", Command{Verb: VerbNOOP, Arg: "anything at all"}, ""},
	{"QUIT", Command{Verb: VerbQUIT}, ""},
	{"HELP", Command{Verb: VerbHELP}, ""},
	{"VRFY root", Command{Verb: VerbVRFY, Arg: "root"}, ""},
	{"EXPN list", Command{Verb: VerbEXPN, Arg: "list"}, ""},
	{"XYZZY", Command{}, "500 5.5.1 command not recognized: XYZZY"},
	{"", Command{}, "500 5.5.1 empty command"},
	{" NOOP", Command{}, "500 5.5.1 empty command"},
	{"NO\x00OP", Command{}, "500 5.5.2 NUL in command"},
	{"NOOP\rQUIT", Command{}, "500 5.5.2 bare CR or LF in command"},
	{"\xff\xfe", Command{}, "500 5.5.1 command not recognized: ??"},
}

func TestParseCommand(t *testing.T) {
	for _, tt := range CommandTests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseCommand([]byte(tt.line))
			if tt.err != "" {
				var ce *CommandError
				if !errors.As(err, &ce) || ce.Reply.String() != tt.err {
					t.Fatalf("ParseCommand(%q) = %+v, %v, want error %q", tt.line, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseCommand(%q) = %+v, %v, want %+v", tt.line, got, err, tt.want)
			}
		})
	}
}

func TestVerbString(t *testing.T) {
	for v := VerbLHLO; v < numVerbs; v++ {
		if v.String() == "" || v.String() == "invalid" {
			t.Errorf("Verb(%d).String() = %q", v, v.String())
		}
	}
	if got := Verb(0).String(); got != "invalid" {
		t.Errorf("Verb(0).String() = %q, want invalid", got)
	}
}
