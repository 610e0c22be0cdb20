package smtp

import (
	"fmt"
	"strings"

	"smtpfeed/proto"
)

// Limits on what a server may send as one reply.
const (
	// MaxReplySize caps a whole reply, its lines' CRLFs included, and so
	// any one of its lines. RFC 5321 §4.5.3.1.5 gives 512 octets for a
	// reply line but §4.5.3.1 asks clients not to enforce such limits,
	// and real servers exceed it with long EHLO keywords and long 5xx
	// texts; 16 KiB still bounds a server that never stops.
	MaxReplySize = 16 << 10
	// MaxReplyLines caps the lines of one reply: an EHLO reply, the
	// longest a server has reason to send, has a few dozen; a reply of
	// empty lines would otherwise cost a string header per 6 octets.
	MaxReplyLines = 256
	// maxTextShown is how much of the remote text a Reply keeps for logs
	// and LMTP replies; the rest is cut and marked.
	maxTextShown = 400
)

// Reply is one complete server reply.
type Reply struct {
	Code     int          // three digits, first in 2..5
	Enhanced EnhancedCode // zero unless present and of the same class as Code
	Lines    []string     // the text of each line, after the code and separator
}

// Class is the first digit of the code: 2 success, 3 intermediate, 4
// temporary failure, 5 permanent failure.
func (r Reply) Class() int { return r.Code / 100 }

// Positive reports a 2xx or 3xx reply.
func (r Reply) Positive() bool { return r.Code >= 200 && r.Code < 400 }

// Temporary reports a 4xx reply.
func (r Reply) Temporary() bool { return r.Class() == 4 }

// Permanent reports a 5xx reply.
func (r Reply) Permanent() bool { return r.Class() == 5 }

// Text is the reply's text, lines joined by a space, the enhanced code of
// the first line left out, made printable and capped, fit to pass on in a
// log line or an LMTP reply.
func (r Reply) Text() string {
	var b strings.Builder
	for i, line := range r.Lines {
		if i == 0 && r.Enhanced.Valid() {
			line = strings.TrimPrefix(line, r.Enhanced.String())
			line = strings.TrimLeft(line, " ")
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(line)
	}
	return Printable(b.String(), maxTextShown)
}

func (r Reply) String() string {
	if r.Enhanced.Valid() {
		return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text())
	}
	return fmt.Sprintf("%d %s", r.Code, r.Text())
}

// Printable is proto.Printable: remote text made fit for logs and
// replies.
func Printable(s string, limit int) string { return proto.Printable(s, limit) }

// ProtocolError is a server byte stream that is not a valid SMTP reply.
type ProtocolError struct {
	Reason string
	Line   string // the offending line, printable and capped
}

func (e *ProtocolError) Error() string {
	if e.Line == "" {
		return "protocol error: " + e.Reason
	}
	return fmt.Sprintf("protocol error: %s: %q", e.Reason, e.Line)
}

func protocolError(reason string, line []byte) *ProtocolError {
	return &ProtocolError{Reason: reason, Line: Printable(string(line), 80)}
}

// ParseReplyLine parses one reply line without its line end: the code,
// whether more lines follow (a '-' separator), and the text.
func ParseReplyLine(line []byte) (code int, more bool, text string, err error) {
	if len(line) < 3 {
		return 0, false, "", protocolError("reply line shorter than a code", line)
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, false, "", protocolError("reply code is not three digits", line)
		}
	}
	if line[0] < '2' || line[0] > '5' || line[1] > '5' {
		return 0, false, "", protocolError("reply code out of range", line)
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, false, "", nil
	}
	switch line[3] {
	case ' ':
	case '-':
		more = true
	default:
		return 0, false, "", protocolError("reply code not followed by space or hyphen", line)
	}
	return code, more, string(line[4:]), nil
}
