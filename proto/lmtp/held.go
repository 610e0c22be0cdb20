package lmtp

import "strconv"

// held is a recipient's answer kept until it can be queued: every
// earlier one is, and Output has room.
// A message may have DefaultMaxRcpts recipients answered in any order, so
// this is 24 octets where a Reply is 40: the enhanced code is packed,
// its class being the reply code's (sanitize sees to that).
type held struct {
	text    string
	code    uint16 // 0: nothing held
	subject part
	detail  part
}

// part is one number of an enhanced code, 0 to 999, with the count of
// its digits in the bits above, so that "2.01.0" is written back as given.
type part uint16

const partDigitsShift = 10

// hold keeps recipient i's sanitized answer until it can be queued. A
// text equal to the last one held shares its string: the engine makes a
// text for each recipient, alike for a whole transaction, and 100,000
// held copies would cost more than everything else kept per recipient.
func (s *Session) hold(i int, r Reply) {
	if s.held == nil {
		s.held = make([]held, s.rcpts)
	}
	if r.Text == s.lastHeld {
		r.Text = s.lastHeld
	} else {
		s.lastHeld = r.Text
	}
	s.held[i] = pack(r)
}

// pack packs a sanitized reply.
func pack(r Reply) held {
	h := held{text: r.Text, code: uint16(r.Code)}
	rest := r.Enhanced[2:] // past "c."
	for i := 0; i < len(rest); i++ {
		if rest[i] == '.' {
			h.subject, h.detail = packPart(rest[:i]), packPart(rest[i+1:])
			break
		}
	}
	return h
}

func packPart(digits string) part {
	n, _ := strconv.Atoi(digits)
	return part(n) | part(len(digits))<<partDigitsShift
}

// appendLine appends the reply line h holds, as Reply.String writes it,
// and its CRLF.
func (h held) appendLine(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(h.code), 10)
	b = append(b, ' ', byte('0'+h.code/100), '.')
	b = h.subject.append(b)
	b = append(b, '.')
	b = h.detail.append(b)
	if h.text != "" {
		b = append(b, ' ')
		b = append(b, h.text...)
	}
	return append(b, '\r', '\n')
}

func (p part) append(b []byte) []byte {
	n := int(p & (1<<partDigitsShift - 1))
	digits := 1
	for m := n; m >= 10; m /= 10 {
		digits++
	}
	for w := int(p >> partDigitsShift); w > digits; w-- {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}
