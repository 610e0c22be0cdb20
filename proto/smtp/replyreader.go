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
	for r.err == nil && len(p) > 0 {
		// Buffer no more than the reply may still hold, and one octet
		// to tell full from over: a server that never ends its line or
		// its reply cannot make the buffer grow past the cap.
		take := min(len(p), max(MaxReplySize+1-r.size-len(r.buf), 1))
		r.buf = append(r.buf, p[:take]...)
		p = p[take:]
		r.takeLines()
	}
	if len(r.buf) == 0 {
		r.buf = nil // let a large read's array go
	}
	return r.err
}

// takeLines parses the complete lines in the buffer; a partial line that
// already makes the reply too long fails at once.
func (r *ReplyReader) takeLines() {
	for r.err == nil {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			if r.size+len(r.buf) > MaxReplySize {
				r.err = protocolError("reply longer than 16 KiB", r.buf)
			}
			return
		}
		// A bare LF is taken as a line end, as every widely used client
		// does.
		line := bytes.TrimSuffix(r.buf[:i], []byte{'\r'})
		r.err = r.line(line, i+1)
		r.buf = r.buf[i+1:]
	}
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
	if len(r.lines) >= MaxReplyLines {
		return protocolError("reply of more than 256 lines", line)
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

// Buffered reports bytes received beyond the replies taken with Next:
// after STARTTLS's 220 there must be none (RFC 3207 §4.2, the command
// injection attack).
func (r *ReplyReader) Buffered() bool { return r.Pending() || len(r.replies) > 0 }

// Err reports the protocol error that stopped the reader, if any.
func (r *ReplyReader) Err() error { return r.err }
