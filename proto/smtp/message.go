package smtp

// Line limits of RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets
// with its CRLF, not counting a dot doubled for transparency.
const maxTextLine = 998

// Message is one message as it goes on the wire: line ends normalised to
// CRLF, long lines broken, dot-stuffed and ended by the final dot. It is
// encoded once per delivery and written to every connection from the
// same bytes.
type Message struct {
	wire []byte // the DATA stream, ".\r\n" included
	// Size is the message's size before dot-stuffing, for SIZE= (RFC 1870
	// asks for the size as sent, roughly; this is close and never less
	// than the content).
	Size int64
	// EightBit reports an octet over 127 in the content.
	EightBit bool
	// LinesBroken counts lines that were longer than 998 octets and were
	// broken by inserting CRLF SPACE, as Postfix does: SMTP servers may
	// refuse or cut such lines, and the break keeps MIME structure readable.
	LinesBroken int
	// Declared8Bit: the caller declared the content 8-bit (BODY=8BITMIME).
	// A server that offers 8BITMIME is told so even when no octet over
	// 127 appears.
	Declared8Bit bool

	// sevenBit and sevenBitErr keep what SevenBit made, once made.
	sevenBit    *Message
	sevenBitErr error
}

// NewMessage encodes raw message content (headers and body, any mix of
// CRLF, bare LF and bare CR line ends) for the wire. Every bare CR and
// bare LF becomes a CRLF, so no byte sequence in the content can end the
// DATA phase early on a server that accepts sloppy line ends (SMTP
// smuggling).
func NewMessage(raw []byte) *Message {
	m := &Message{wire: make([]byte, 0, len(raw)+len(raw)/64+5)}
	lineLen := 0
	startLine := true
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\r' || c == '\n' {
			if c == '\r' && i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
			m.wire = append(m.wire, '\r', '\n')
			m.Size += 2
			lineLen, startLine = 0, true
			continue
		}
		if lineLen == maxTextLine {
			m.wire = append(m.wire, '\r', '\n', ' ')
			m.Size += 3
			m.LinesBroken++
			lineLen = 1
			startLine = false
		}
		if startLine && c == '.' {
			// The stuffed dot is not counted: the server removes it
			// before the line limit applies (RFC 5321 §4.5.2), so a
			// 998-octet line that begins with a dot is not broken.
			m.wire = append(m.wire, '.')
		}
		startLine = false
		if c >= 0x80 {
			m.EightBit = true
		}
		m.wire = append(m.wire, c)
		m.Size++
		lineLen++
	}
	if lineLen > 0 {
		m.wire = append(m.wire, '\r', '\n')
		m.Size += 2
	}
	m.wire = append(m.wire, '.', '\r', '\n')
	return m
}

// Wire returns the DATA stream, final dot included. It is shared: callers
// must not modify it.
func (m *Message) Wire() []byte { return m.wire }
