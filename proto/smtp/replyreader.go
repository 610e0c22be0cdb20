package smtp

import "bytes"

// ReplyReader assembles replies from a server byte stream fed in pieces of
// any size. It gives the same replies whether the bytes arrive whole or
// one at a time. After a protocol error it stays failed.
type ReplyReader struct {
	buf     []byte // bytes not yet part of a complete line
	lines   []string
	code    int
	size    int // octets of the reply being assembled
	err     error
	replies []Reply
}

// Feed adds bytes from the server. It returns the first protocol error,
// now or earlier; replies completed before the error stay available.
func (r *ReplyReader) Feed(p []byte) error {
	if r.err != nil {
		return r.err
	}
	r.buf = append(r.buf, p...)
	for r.err == nil {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			if len(r.buf) >= MaxReplyLine {
				r.err = protocolError("reply line longer than 512 octets", r.buf)
			}
			break
		}
		line := r.buf[:i]
		// The CRLF counts toward the limit; a bare LF is taken as a line
		// end, as every widely used client does.
		if i+1 > MaxReplyLine {
			r.err = protocolError("reply line longer than 512 octets", line)
			break
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		r.err = r.line(line, i+1)
		r.buf = r.buf[i+1:]
	}
	if len(r.buf) == 0 {
		r.buf = nil // let a large read's array go
	}
	return r.err
}

func (r *ReplyReader) line(line []byte, octets int) error {
	code, more, text, err := ParseReplyLine(line)
	if err != nil {
		return err
	}
	if len(r.lines) > 0 && code != r.code {
		return protocolError("reply code changed within a multi-line reply", line)
	}
	r.size += octets
	if r.size > MaxReplySize {
		return protocolError("reply longer than 16 KiB", line)
	}
	r.code = code
	r.lines = append(r.lines, text)
	if more {
		return nil
	}
	r.replies = append(r.replies, Reply{Code: code, Enhanced: enhancedFor(code, r.lines[0]), Lines: r.lines})
	r.lines, r.size, r.code = nil, 0, 0
	return nil
}

// Next returns the next complete reply, in the order received.
func (r *ReplyReader) Next() (Reply, bool) {
	if len(r.replies) == 0 {
		return Reply{}, false
	}
	rep := r.replies[0]
	r.replies = r.replies[1:]
	if len(r.replies) == 0 {
		r.replies = nil
	}
	return rep, true
}

// Pending reports whether part of a reply has arrived but not all of it.
func (r *ReplyReader) Pending() bool { return len(r.buf) > 0 || len(r.lines) > 0 }

// Err reports the protocol error that stopped the reader, if any.
func (r *ReplyReader) Err() error { return r.err }
