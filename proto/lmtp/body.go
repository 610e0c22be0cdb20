package lmtp

import "bytes"

// dotState is where the body reader stands within a line of message data.
type dotState uint8

const (
	dotBOL   dotState = iota // at a line's start: the first byte, or after LF
	dotDot                   // a '.' began the line: stuffing, or the end
	dotDotCR                 // ".\r" began the line: the end if LF follows
	dotText                  // within a line
	dotCR                    // after a CR within a line: LF ends the line
)

// body reads message data up to "." alone on a line (RFC 5321 §4.1.1.4),
// un-dot-stuffing it (§4.5.2). A line ends at LF, with or without a CR
// before it: the caller is the local MTA, which ends lines and stuffs
// dots at the same place whether its mailer definition sends CRLF or LF,
// so "\n.\n" ends the data and "\n..x" is unstuffed. A bare CR is content,
// never a line end. Line ends are kept as they came: the SMTP side makes
// every one a CRLF. Past max octets it keeps reading to the end but stops
// keeping the data.
type body struct {
	st   dotState
	data []byte
	size int64 // content octets seen, kept or not
	max  int64
}

// over reports a message past the size limit.
func (b *body) over() bool { return b.size > b.max }

// feed reads p and returns how much of it was data, the final dot
// included, and whether the final dot was seen. It is the transition
// function of dotState: the same result whether p comes whole or a byte
// at a time.
func (b *body) feed(p []byte) (n int, end bool) {
	for n < len(p) {
		c := p[n]
		switch b.st {
		case dotText:
			n += b.text(p[n:])
			continue
		case dotBOL:
			switch c {
			case '.':
				b.st = dotDot // dropped: stuffing or the end
			case '\r':
				b.add(p[n : n+1])
				b.st = dotCR
			case '\n':
				b.add(p[n : n+1]) // an empty line
			default:
				b.st = dotText
				continue
			}
		case dotDot:
			switch c {
			case '\r':
				b.st = dotDotCR
			case '\n':
				return n + 1, true
			default:
				b.st = dotText // the dot was stuffing
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

// text takes content within a line up to and including its LF, or up to
// a bare CR, or all of p; it returns how much it took and sets the state
// for what follows.
func (b *body) text(p []byte) int {
	end := bytes.IndexByte(p, '\n')
	seg := p
	if end >= 0 {
		seg = p[:end]
	}
	if cr := bytes.IndexByte(seg, '\r'); cr >= 0 && cr != end-1 {
		// A CR not right before the LF: what follows it decides.
		b.add(p[:cr+1])
		b.st = dotCR
		return cr + 1
	}
	if end < 0 {
		b.add(p)
		b.st = dotText
		return len(p)
	}
	b.add(p[:end+1])
	b.st = dotBOL
	return end + 1
}

func (b *body) add(p []byte) {
	b.size += int64(len(p))
	if b.over() {
		b.data = nil
		return
	}
	b.data = append(b.data, p...)
}
