package lmtp

import (
	"strconv"
	"strings"

	"smtpfeed/proto"
)

// Reply is one single-line reply: a recipient's final answer, or the
// session's own.
type Reply struct {
	Code     int    // three digits
	Enhanced string // RFC 3463 code, "2.0.0"; "" for none
	Text     string
}

func (r Reply) String() string { return string(r.append(nil)) }

func (r Reply) append(b []byte) []byte {
	b = strconv.AppendInt(b, int64(r.Code), 10)
	for _, part := range [...]string{r.Enhanced, r.Text} {
		if part != "" {
			b = append(b, ' ')
			b = append(b, part...)
		}
	}
	return b
}

// sanitize makes a recipient's answer fit to write, whatever the driver
// passed: a final code (2xx, 4xx or 5xx; anything else becomes 451
// 4.3.0), an enhanced code of the same class (RFC 2034 requires one once
// ENHANCEDSTATUSCODES is advertised: a missing or mismatched one becomes
// class.0.0), and printable text short enough for one line.
func sanitize(r Reply) Reply {
	c := r.Code
	if c < 200 || c > 599 || c/100 == 3 || c/10%10 > 5 {
		return Reply{Code: 451, Enhanced: "4.3.0", Text: "local error: invalid reply " + strconv.Itoa(c) + " for this recipient"}
	}
	if !validEnhanced(r.Enhanced, c/100) {
		r.Enhanced = strconv.Itoa(c/100) + ".0.0"
	}
	r.Text = proto.Printable(r.Text, maxReplyText)
	return r
}

// validEnhanced reports class.subject.detail with the given class and one
// to three digits in subject and detail (RFC 3463 §2).
// It runs for every answer, so it allocates nothing.
func validEnhanced(s string, class int) bool {
	if len(s) < 2 || s[0] != byte('0'+class) || s[1] != '.' {
		return false
	}
	subject, detail, ok := strings.Cut(s[2:], ".")
	return ok && len(subject) <= 3 && digits(subject) && len(detail) <= 3 && digits(detail)
}

// output is the session's unwritten replies.
type output struct {
	buf []byte
	off int // bytes of buf already written
}

func (o *output) pending() int { return len(o.buf) - o.off }

func (o *output) bytes() []byte { return o.buf[o.off:] }

// line queues one reply line and its CRLF.
func (o *output) line(s string) {
	o.buf = append(o.buf, s...)
	o.buf = append(o.buf, '\r', '\n')
}

func (o *output) reply(r Reply) {
	o.buf = r.append(o.buf)
	o.buf = append(o.buf, '\r', '\n')
}

func (o *output) advance(n int) {
	o.off += min(max(n, 0), o.pending())
	switch {
	case o.off == len(o.buf) && cap(o.buf) > 1<<20:
		o.buf, o.off = nil, 0 // a long run of answers: let its array go
	case o.off == len(o.buf):
		o.buf, o.off = o.buf[:0], 0
	case o.off > 4096 && o.off > len(o.buf)/2:
		o.buf = append(o.buf[:0], o.buf[o.off:]...)
		o.off = 0
	}
}
