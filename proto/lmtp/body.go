package lmtp

import "bytes"

// dotState is where the body reader stands within a line of message data.
type dotState uint8

const (
	dotBOL   dotState = iota // at a line's start: the first byte, or after CRLF
	dotDot                   // a '.' began the line: stuffing, or the end
	dotDotCR                 // ".\r" began the line: the end if LF follows
	dotText                  // within a line
	dotCR                    // after a CR within a line: LF ends the line
)

// body reads message data up to CRLF "." CRLF (RFC 5321 §4.1.1.4),
// un-dot-stuffing it (§4.5.2). Only CRLF ends a line: a bare LF or CR is
// content, so "\n.\n" neither ends the message nor is unstuffed. Past max
// octets it keeps reading to the end but stops keeping the data.
type body struct {
	st   dotState
	data []byte
	size int64 // content octets seen, kept or not
	max  int64
}

// over reports a message past the size limit.
func (b *body) over() bool { return b.size > b.max }

// feed reads p and returns how much of it was data, the final dot
// included, and whether the final dot was seen.
func (b *body) feed(p []byte) (n int, end bool) {
	for n < len(p) {
		c := p[n]
		switch b.st {
		case dotText:
			i := bytes.IndexByte(p[n:], '\r')
			if i < 0 {
				b.add(p[n:])
				return len(p), false
			}
			b.add(p[n : n+i+1])
			n += i + 1
			b.st = dotCR
			continue
		case dotBOL:
			switch c {
			case '.':
				b.st = dotDot // dropped: stuffing or the end
			case '\r':
				b.add(p[n : n+1])
				b.st = dotCR
			default:
				b.st = dotText
				continue
			}
		case dotDot:
			if c == '\r' {
				b.st = dotDotCR
			} else {
				b.st = dotText
				continue
			}
		case dotDotCR:
			if c == '\n' {
				return n + 1, true
			}
			b.add([]byte{'\r'}) // ".\rX": the dot was stuffing, the CR content
			b.st = dotCR
			continue
		case dotCR:
			switch c {
			case '\n':
				b.st = dotBOL
			case '\r':
			default:
				b.st = dotText
				continue
			}
			b.add(p[n : n+1])
		}
		n++
	}
	return n, false
}

func (b *body) add(p []byte) {
	b.size += int64(len(p))
	if b.over() {
		b.data = nil
		return
	}
	b.data = append(b.data, p...)
}
