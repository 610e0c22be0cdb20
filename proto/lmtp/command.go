package lmtp

import (
	"bytes"
	"strconv"
	"strings"

	"smtpfeed/proto"
)

// Verb is a command's name.
type Verb uint8

const (
	VerbLHLO Verb = iota + 1
	VerbHELO      // refused: this is LMTP (RFC 2033 §4.1)
	VerbEHLO      // refused likewise
	VerbMAIL
	VerbRCPT
	VerbDATA
	VerbRSET
	VerbNOOP
	VerbQUIT
	VerbHELP
	VerbVRFY
	VerbEXPN     // known, not implemented
	VerbBDAT     // known, not implemented: CHUNKING is not advertised
	VerbSTARTTLS // known, not implemented
	VerbAUTH     // known, not implemented
	numVerbs
)

var verbNames = [numVerbs]string{
	VerbLHLO: "LHLO", VerbHELO: "HELO", VerbEHLO: "EHLO", VerbMAIL: "MAIL",
	VerbRCPT: "RCPT", VerbDATA: "DATA", VerbRSET: "RSET", VerbNOOP: "NOOP",
	VerbQUIT: "QUIT", VerbHELP: "HELP", VerbVRFY: "VRFY", VerbEXPN: "EXPN",
	VerbBDAT: "BDAT", VerbSTARTTLS: "STARTTLS", VerbAUTH: "AUTH",
}

func (v Verb) String() string {
	if v > 0 && v < numVerbs {
		return verbNames[v]
	}
	return "invalid"
}

// Command is one parsed command line.
type Command struct {
	Verb     Verb
	Arg      string // LHLO's domain, the text of NOOP/HELP/VRFY, the path of MAIL/RCPT as given
	Path     Path   // MAIL's reverse path, RCPT's forward path
	Size     int64  // MAIL SIZE=; 0 when not given
	Body     string // MAIL BODY=, upper-cased: "7BIT", "8BITMIME"; "" when not given
	SMTPUTF8 bool   // MAIL SMTPUTF8
	Ret      string // MAIL RET=, upper-cased: "FULL", "HDRS"; "" when not given (RFC 3461 §4.3)
	EnvID    string // MAIL ENVID=, xtext as given; "" when not given (RFC 3461 §4.4)
	Notify   string // RCPT NOTIFY=, upper-cased; "" when not given (RFC 3461 §4.1)
	ORcpt    string // RCPT ORCPT=, as given; "" when not given (RFC 3461 §4.2)
}

// CommandError is a line the session refuses without acting on it; Reply
// is its answer.
type CommandError struct {
	Reply Reply
}

func (e *CommandError) Error() string { return e.Reply.String() }

func cmdError(code int, enhanced, text string) error {
	return &CommandError{Reply{Code: code, Enhanced: enhanced, Text: text}}
}

// ParseCommand parses one command line, its CRLF or LF removed or not.
// Verbs and the FROM:/TO: keywords are case-insensitive; one space after
// the colon is tolerated, as many clients send it.
func ParseCommand(line []byte) (Command, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if bytes.IndexByte(line, 0) >= 0 {
		return Command{}, cmdError(500, "5.5.2", "NUL in command")
	}
	if bytes.IndexByte(line, '\r') >= 0 || bytes.IndexByte(line, '\n') >= 0 {
		return Command{}, cmdError(500, "5.5.2", "bare CR or LF in command")
	}
	s := string(line)
	name, arg, _ := strings.Cut(s, " ")
	var cmd Command
	for v := VerbLHLO; v < numVerbs; v++ {
		if strings.EqualFold(name, verbNames[v]) {
			cmd.Verb = v
		}
	}
	switch cmd.Verb {
	case 0:
		if name == "" {
			return Command{}, cmdError(500, "5.5.1", "empty command")
		}
		return Command{}, cmdError(500, "5.5.1", "command not recognized: "+echo(name))
	case VerbLHLO:
		cmd.Arg = strings.TrimSpace(arg)
		if cmd.Arg == "" {
			return Command{}, cmdError(501, "5.5.4", "syntax: LHLO hostname")
		}
	case VerbMAIL:
		return parseMail(cmd, arg)
	case VerbRCPT:
		return parseRcpt(cmd, arg)
	case VerbDATA, VerbRSET, VerbQUIT:
		if strings.TrimRight(arg, " ") != "" {
			return Command{}, cmdError(501, "5.5.4", cmd.Verb.String()+" takes no parameters")
		}
	default:
		cmd.Arg = arg
	}
	return cmd, nil
}

func parseMail(cmd Command, arg string) (Command, error) {
	path, params, err := splitPath(arg, "FROM:", "5.1.7")
	if err != nil {
		return Command{}, err
	}
	cmd.Arg = path
	if cmd.Path, err = ParsePath(path, true); err != nil {
		return Command{}, cmdError(501, "5.1.7", "bad sender address: "+err.Error())
	}
	seen := map[string]bool{}
	for _, p := range params {
		key, val, hasVal := strings.Cut(p, "=")
		key = strings.ToUpper(key)
		if err := checkParam(key, val, hasVal, seen); err != nil {
			return Command{}, err
		}
		switch key {
		case "SIZE":
			if !hasVal || !digits(val) || len(val) > 20 {
				return Command{}, cmdError(501, "5.5.4", "syntax: SIZE=octets")
			}
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				n = 1<<63 - 1 // 20 digits past int64: surely over any limit
			}
			cmd.Size = n
		case "BODY":
			cmd.Body = strings.ToUpper(val)
			if cmd.Body != "7BIT" && cmd.Body != "8BITMIME" {
				return Command{}, cmdError(501, "5.5.4", "syntax: BODY=7BIT or BODY=8BITMIME")
			}
		case "SMTPUTF8":
			if hasVal {
				return Command{}, cmdError(501, "5.5.4", "SMTPUTF8 takes no value")
			}
			cmd.SMTPUTF8 = true
		case "RET":
			if cmd.Ret, err = parseRet(val, hasVal); err != nil {
				return Command{}, err
			}
		case "ENVID":
			if cmd.EnvID, err = parseEnvID(val, hasVal); err != nil {
				return Command{}, err
			}
		default:
			return Command{}, unknownParam(key)
		}
	}
	return cmd, nil
}

func parseRcpt(cmd Command, arg string) (Command, error) {
	path, params, err := splitPath(arg, "TO:", "5.1.3")
	if err != nil {
		return Command{}, err
	}
	cmd.Arg = path
	if cmd.Path, err = ParsePath(path, false); err != nil {
		return Command{}, cmdError(501, "5.1.3", "bad recipient address: "+err.Error())
	}
	seen := map[string]bool{}
	for _, p := range params {
		key, val, hasVal := strings.Cut(p, "=")
		key = strings.ToUpper(key)
		if err := checkParam(key, val, hasVal, seen); err != nil {
			return Command{}, err
		}
		switch key {
		case "NOTIFY":
			if cmd.Notify, err = parseNotify(val, hasVal); err != nil {
				return Command{}, err
			}
		case "ORCPT":
			if cmd.ORcpt, err = parseORcpt(val, hasVal); err != nil {
				return Command{}, err
			}
		default:
			return Command{}, unknownParam(key)
		}
	}
	return cmd, nil
}

// unknownParam refuses a parameter for an extension we do not offer (RFC
// 5321 §4.1.1.11).
func unknownParam(key string) error {
	return cmdError(555, "5.5.4", "parameter not supported: "+echo(key))
}

// checkParam checks an esmtp-param's syntax (RFC 5321 §4.1.2) and that it
// is not given twice.
func checkParam(key, val string, hasVal bool, seen map[string]bool) error {
	if key == "" || key[0] == '-' {
		return cmdError(501, "5.5.4", "bad parameter syntax")
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return cmdError(501, "5.5.4", "bad parameter syntax")
		}
	}
	if hasVal {
		if val == "" {
			return cmdError(501, "5.5.4", "empty parameter value")
		}
		for i := 0; i < len(val); i++ {
			if c := val[i]; c < 33 || c == '=' || c == 127 {
				return cmdError(501, "5.5.4", "bad parameter value")
			}
		}
	}
	if seen[key] {
		return cmdError(501, "5.5.4", "duplicate parameter: "+key)
	}
	seen[key] = true
	return nil
}

// splitPath takes "FROM:<path> params" apart: the path in its brackets,
// as given, and the parameters after it.
func splitPath(arg, keyword, enhanced string) (path string, params []string, err error) {
	verb := "MAIL FROM:"
	if keyword == "TO:" {
		verb = "RCPT TO:"
	}
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return "", nil, cmdError(501, "5.5.4", "syntax: "+verb+"<address>")
	}
	rest := arg[len(keyword):]
	rest = strings.TrimPrefix(rest, " ")
	if rest == "" || rest[0] != '<' {
		return "", nil, cmdError(501, enhanced, "address must be in angle brackets")
	}
	end := pathEnd(rest)
	if end < 0 {
		return "", nil, cmdError(501, enhanced, "address without closing '>'")
	}
	path, rest = rest[:end], rest[end:]
	if rest != "" && rest[0] != ' ' {
		return "", nil, cmdError(501, "5.5.4", "junk after the address")
	}
	for p := range strings.SplitSeq(rest, " ") {
		if p != "" {
			params = append(params, p)
		}
	}
	return path, params, nil
}

// pathEnd is the length of the bracketed path at the start of s, up to
// and including the '>' outside quotes; -1 when there is none.
func pathEnd(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case '>':
			if !quoted {
				return i + 1
			}
		}
	}
	return -1
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// echo makes a piece of the caller's command fit to quote in a reply.
func echo(s string) string { return proto.Printable(s, maxEcho) }
