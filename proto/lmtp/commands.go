package lmtp

import (
	"errors"
	"strconv"
	"strings"
)

// helpText is HELP's answer: what a person typing at us needs.
const helpText = "smtpfeed LMTP (RFC 2033): LHLO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY"

// command answers one command line.
func (s *Session) command(line []byte) {
	cmd, err := ParseCommand(line)
	if err != nil {
		var ce *CommandError
		if errors.As(err, &ce) {
			s.out.reply(ce.Reply)
		} else {
			s.reply(501, "5.5.4", "syntax error")
		}
		return
	}
	if why := s.sequence(cmd.Verb); why != "" {
		s.reply(503, "5.5.1", why)
		return
	}
	switch cmd.Verb {
	case VerbLHLO:
		s.to(stateIdle)
		s.out.line("250-" + s.cfg.Hostname)
		s.out.line("250-PIPELINING")
		s.out.line("250-ENHANCEDSTATUSCODES")
		s.out.line("250-8BITMIME")
		s.out.line("250-DSN")
		s.out.line("250-SIZE " + strconv.FormatInt(s.cfg.MaxSize, 10))
		s.out.line("250 SMTPUTF8")
	case VerbHELO, VerbEHLO:
		s.reply(500, "5.5.1", "this is LMTP, say LHLO")
	case VerbMAIL:
		s.mail(cmd)
	case VerbRCPT:
		s.rcpt(cmd)
	case VerbDATA:
		s.to(stateData)
		s.reply(354, "", "go ahead, end with <CRLF>.<CRLF>")
	case VerbRSET:
		if s.st != stateGreeted {
			s.to(stateIdle)
		}
		s.reply(250, "2.0.0", "reset")
	case VerbNOOP:
		s.reply(250, "2.0.0", "ok")
	case VerbQUIT:
		s.to(stateClosed)
		s.reply(221, "2.0.0", s.cfg.Hostname+" closing")
	case VerbHELP:
		s.reply(214, "2.0.0", helpText)
	case VerbVRFY:
		s.reply(252, "2.5.2", "cannot VRFY user")
	default:
		s.reply(502, "5.5.1", cmd.Verb.String()+" not implemented")
	}
}

// sequence says why a command is out of sequence now, "" when it is not
// (RFC 5321 §4.1.4).
func (s *Session) sequence(v Verb) string {
	switch v {
	case VerbMAIL:
		switch s.st {
		case stateGreeted:
			return "send LHLO first"
		case stateMail, stateRcpt:
			return "nested MAIL command"
		}
	case VerbRCPT:
		switch s.st {
		case stateGreeted:
			return "send LHLO first"
		case stateIdle:
			return "need MAIL before RCPT"
		}
	case VerbDATA:
		switch s.st {
		case stateGreeted:
			return "send LHLO first"
		case stateIdle:
			return "need MAIL before DATA"
		case stateMail:
			return "no valid recipients" // RFC 2033 §4.2
		}
	}
	return ""
}

func (s *Session) mail(cmd Command) {
	if cmd.Size > s.cfg.MaxSize {
		s.reply(552, "5.3.4", "message size exceeds fixed limit of "+strconv.FormatInt(s.cfg.MaxSize, 10)+" octets")
		return
	}
	if !cmd.SMTPUTF8 && !cmd.Path.ASCII() {
		s.reply(553, "5.6.7", "non-ASCII sender address needs SMTPUTF8")
		return
	}
	s.to(stateMail)
	s.tx.from = cmd.Path
	s.tx.eightBit = cmd.Body == "8BITMIME"
	s.tx.smtpUTF8 = cmd.SMTPUTF8
	s.tx.ret, s.tx.envID = cmd.Ret, strings.Clone(cmd.EnvID) // a copy: cmd's strings share the command line's memory
	s.reply(250, "2.1.0", "sender "+echo(cmd.Path.String())+" ok")
}

func (s *Session) rcpt(cmd Command) {
	if !s.tx.smtpUTF8 && !cmd.Path.ASCII() {
		s.reply(553, "5.6.7", "non-ASCII recipient address needs SMTPUTF8")
		return
	}
	if !s.tx.smtpUTF8 && !ascii(cmd.ORcpt) {
		s.reply(553, "5.6.7", "non-ASCII ORCPT needs SMTPUTF8") // RFC 6533 §3: utf-8-addr-unitext only then
		return
	}
	if s.tx.rcpts.n >= s.cfg.MaxRcpts {
		s.reply(452, "4.5.3", "too many recipients") // RFC 5321 §4.5.3.1.10
		return
	}
	s.to(stateRcpt)
	s.tx.dsn.add(s.tx.rcpts.n, cmd.Notify, cmd.ORcpt)
	s.tx.rcpts.add(cmd.Path.Addr) // a copy: cmd's strings share the command line's memory
	s.reply(250, "2.1.5", "recipient "+echo(cmd.Path.String())+" ok")
}
