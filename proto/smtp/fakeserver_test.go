package smtp

import (
	"bytes"
	"fmt"
	"strings"
)

// fakeServer is a scripted SMTP server for transcripts: it answers each
// command line the client wrote, all the replies of one write together,
// as a pipelining server does. Hooks return the reply text (with CRLF
// line ends added here); a hook returning "" means the server hangs up.
type fakeServer struct {
	greeting string
	ehlo     string
	helo     string
	mail     string
	rcpt     func(addr string, n int) string // n: RCPT number within the transaction
	data     string
	dot      string
	rset     string
	// noRcptData answers DATA when no RCPT was accepted, if set.
	noRcptData string
	// afterDot, when set, is called on the final dot instead of dot.
	afterDot func(txn int) string

	inData  bool
	nrcpt   int
	naccept int
	txn     int
	buf     []byte
	hungUp  bool
	message bytes.Buffer // the last message's wire bytes
}

func (s *fakeServer) reply(text string) []byte {
	if text == "" {
		s.hungUp = true
		return nil
	}
	var b bytes.Buffer
	for _, line := range strings.Split(text, "\n") {
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// take consumes client bytes and returns the server's answer to every
// complete line in them.
func (s *fakeServer) take(p []byte) []byte {
	s.buf = append(s.buf, p...)
	var out []byte
	for !s.hungUp {
		i := bytes.Index(s.buf, []byte("\r\n"))
		if i < 0 {
			break
		}
		line := string(s.buf[:i])
		s.buf = s.buf[i+2:]
		out = append(out, s.command(line)...)
	}
	return out
}

func (s *fakeServer) command(line string) []byte {
	if s.inData {
		if line != "." {
			s.message.WriteString(line + "\r\n")
			return nil
		}
		s.inData = false
		s.txn++
		if s.afterDot != nil {
			return s.reply(s.afterDot(s.txn))
		}
		return s.reply(s.dot)
	}
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "EHLO":
		return s.reply(s.ehlo)
	case "HELO":
		return s.reply(s.helo)
	case "MAIL":
		s.nrcpt, s.naccept = 0, 0
		return s.reply(s.mail)
	case "RCPT":
		s.nrcpt++
		addr := strings.TrimSuffix(strings.TrimPrefix(strings.Fields(arg)[0], "TO:<"), ">")
		text := s.rcpt(addr, s.nrcpt)
		if strings.HasPrefix(text, "2") {
			s.naccept++
		}
		return s.reply(text)
	case "DATA":
		text := s.data
		if s.naccept == 0 && s.noRcptData != "" {
			text = s.noRcptData
		}
		rep := s.reply(text)
		if strings.HasPrefix(text, "354") {
			s.inData = true
			s.message.Reset()
		}
		return rep
	case "RSET":
		return s.reply(s.rset)
	case "QUIT":
		return s.reply("221 2.0.0 bye")
	}
	return s.reply("500 5.5.2 unknown command")
}

// newFakeServer is a well-behaved ESMTP server with the given extension
// lines after the greeting line of EHLO.
func newFakeServer(ext ...string) *fakeServer {
	ehlo := "250 mx.test"
	if len(ext) > 0 {
		ehlo = "250-mx.test\n250-" + strings.Join(ext, "\n250-")
		i := strings.LastIndex(ehlo, "\n250-")
		ehlo = ehlo[:i] + "\n250 " + ehlo[i+len("\n250-"):]
	}
	return &fakeServer{
		greeting: "220 mx.test ESMTP",
		ehlo:     ehlo,
		helo:     "250 mx.test",
		mail:     "250 2.1.0 ok",
		rcpt:     func(string, int) string { return "250 2.1.5 ok" },
		data:     "354 go ahead",
		dot:      "250 2.0.0 queued",
		rset:     "250 2.0.0 ok",
	}
}

func rcptList(n int, format string) []Recipient {
	r := make([]Recipient, n)
	for i := range r {
		r[i].Addr = fmt.Sprintf(format, i+1)
	}
	return r
}
