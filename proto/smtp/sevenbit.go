package smtp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strconv"
	"strings"
)

// The 7-bit form of an 8-bit message, for a server without 8BITMIME
// (RFC 6152 §3), as Postfix makes it: every leaf part whose body has an
// octet over 127 is re-encoded as quoted-printable; multiparts and
// message/rfc822 parts are walked into; everything already 7-bit is kept
// byte for byte. It is made from the wire form, not from the caller's
// bytes, so a Message keeps no second reference to the content and a
// 7-bit message (nearly all of them) pays nothing: converting undoes the
// dot-stuffing into a scratch copy, which only 8-bit messages for such a
// server cost. The wire form already has CRLF line ends and lines broken
// at 998 octets, so every server, with 8BITMIME or without, gets the
// same lines.

// maxMIMEDepth bounds how deep the conversion walks into multiparts and
// message/rfc822 parts inside each other: each level is a recursion and
// a scan of its body. Real mail nests a handful of levels (a forward of
// a forward inside a digest); 32 is far past that and still cheap.
const maxMIMEDepth = 32

// maxQPLine is the longest encoded quoted-printable line, soft line
// break included (RFC 2045 §6.7 rule 5).
const maxQPLine = 76

// ErrEightBitHeader is the cause of a conversion that failed on an octet
// over 127 in a header field: headers have no transfer encoding, and
// without SMTPUTF8 (RFC 6532) a server may only be sent 7-bit ones.
var ErrEightBitHeader = errors.New("8-bit header cannot be converted to 7 bit")

// SevenBit returns the message in a form without octets over 127, for a
// server that does not offer 8BITMIME. A 7-bit message is returned as
// itself, without an allocation. The conversion runs once per message:
// its result (or its error) is kept and shared by every connection that
// needs it, which is safe as the engine runs on one goroutine. An error
// says why the message cannot be converted; it wraps ErrEightBitHeader
// when a header field has an 8-bit octet.
func (m *Message) SevenBit() (*Message, error) {
	if !m.EightBit {
		return m, nil
	}
	if m.sevenBit == nil && m.sevenBitErr == nil {
		m.sevenBit, m.sevenBitErr = m.convertSevenBit()
	}
	return m.sevenBit, m.sevenBitErr
}

func (m *Message) convertSevenBit() (*Message, error) {
	content := unstuff(m.wire)
	out, err := appendEntity(make([]byte, 0, len(content)+len(content)/4), content, where{message: true, defaultType: "text/plain"})
	if err != nil {
		if errors.Is(err, ErrEightBitHeader) {
			return nil, err
		}
		return nil, fmt.Errorf("message cannot be converted to 7 bit: %w", err)
	}
	conv := NewMessage(out)
	if conv.EightBit {
		// Every path above encodes or replaces what is 8-bit; a message
		// that still is would go to the server as the error it is.
		return nil, errors.New("message cannot be converted to 7 bit: an 8-bit octet was left")
	}
	// The same long lines were broken, once, when the wire form was made.
	conv.LinesBroken = m.LinesBroken
	return conv, nil
}

// unstuff undoes the dot-stuffing of a wire form and drops its final
// dot: the content as the server stores it.
func unstuff(wire []byte) []byte {
	wire = bytes.TrimSuffix(wire, []byte(".\r\n"))
	out := make([]byte, 0, len(wire))
	for len(wire) > 0 {
		if wire[0] == '.' {
			wire = wire[1:]
		}
		i := bytes.Index(wire, crlf)
		if i < 0 {
			return append(out, wire...)
		}
		out = append(out, wire[:i+2]...)
		wire = wire[i+2:]
	}
	return out
}

var crlf = []byte("\r\n")

// where is the place of an entity in the MIME tree, for the walk and for
// error messages.
type where struct {
	path        []int  // part numbers from the top, as IMAP counts them; empty: the message itself
	message     bool   // a message (the top one or a message/rfc822 part's), not a body part
	depth       int    // multiparts and messages around it
	defaultType string // media type when it has no Content-Type
}

func (w where) String() string {
	if len(w.path) == 0 {
		if w.depth > 0 {
			return "the message inside the message"
		}
		return "the message"
	}
	parts := make([]string, len(w.path))
	for i, n := range w.path {
		parts[i] = strconv.Itoa(n)
	}
	s := "MIME part " + strings.Join(parts, ".")
	if w.message {
		return "the message in " + s
	}
	return s
}

// child is where part n of the multipart at w is.
func (w where) child(n int, defaultType string) where {
	return where{path: append(w.path[:len(w.path):len(w.path)], n), depth: w.depth + 1, defaultType: defaultType}
}

// appendEntity appends the 7-bit form of one entity (a header, then a
// body) to dst.
func appendEntity(dst, b []byte, w where) ([]byte, error) {
	h := parseHeader(b)
	if name, ok := h.eightBitField(b); ok {
		return nil, fmt.Errorf("%w: field %s of %v", ErrEightBitHeader, name, w)
	}
	body := b[h.bodyStart:]
	if !hasEightBit(body) {
		return append(dst, b...), nil
	}
	mediaType, params := h.contentType(b, w.defaultType)
	cte := h.transferEncoding(b)
	composite := strings.HasPrefix(mediaType, "multipart/") || mediaType == "message/rfc822"
	if !composite {
		return appendLeaf(dst, b, h, w, cte)
	}
	if w.depth >= maxMIMEDepth {
		return nil, fmt.Errorf("MIME structure nests more than %d levels deep at %v", maxMIMEDepth, w)
	}
	// RFC 2045 §6.4: a composite is never encoded; once its parts are
	// 7-bit, so is it.
	newCTE := ""
	switch cte {
	case "", "7bit":
	case "8bit", "binary":
		newCTE = "7bit"
	default:
		return nil, fmt.Errorf("%v is %s with Content-Transfer-Encoding %s and has 8-bit octets", w, mediaType, cte)
	}
	if mediaType == "message/rfc822" {
		dst = appendHeader(dst, b, h, w.message, newCTE)
		return appendEntity(dst, body, where{path: w.path, message: true, depth: w.depth + 1, defaultType: "text/plain"})
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, fmt.Errorf("%v is %s without a boundary and has 8-bit octets", w, mediaType)
	}
	childType := "text/plain"
	if mediaType == "multipart/digest" {
		childType = "message/rfc822" // RFC 2046 §5.1.5
	}
	dst = appendHeader(dst, b, h, w.message, newCTE)
	return appendMultipart(dst, body, boundary, w, childType)
}

// appendLeaf re-encodes a leaf part whose body has 8-bit octets as
// quoted-printable.
func appendLeaf(dst, b []byte, h header, w where, cte string) ([]byte, error) {
	raw := b[h.bodyStart:]
	body := raw
	switch cte {
	case "", "7bit", "8bit", "binary":
	case "quoted-printable":
		// Raw 8-bit octets in a quoted-printable body: read it as readers
		// do (they take such octets as themselves) and encode it properly.
		dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return nil, fmt.Errorf("%v is quoted-printable with 8-bit octets and does not decode: %v", w, err)
		}
		body = dec
	default:
		return nil, fmt.Errorf("%v has 8-bit octets in a body of Content-Transfer-Encoding %s", w, cte)
	}
	dst = appendHeader(dst, b, h, w.message, "quoted-printable")
	start := len(dst)
	dst = appendQP(dst, body)
	if bytes.HasSuffix(raw, crlf) && !bytes.HasSuffix(body, crlf) {
		// The raw body's last line break was a soft one ("=" CRLF: the
		// text ends mid-line). It stays one: encoded without it, the body
		// would end on a line that the wire form's final CRLF completes,
		// a line break the original does not decode to.
		dst = appendSoftBreak(dst, start)
	}
	return dst, nil
}

// appendSoftBreak ends quoted-printable text that starts at dst[start:]
// with a soft line break, within maxQPLine: on a full line, its last
// octet or =XX moves to a line of its own.
func appendSoftBreak(dst []byte, start int) []byte {
	line := dst[start:]
	if k := bytes.LastIndex(line, crlf); k >= 0 {
		line = line[k+2:]
	}
	if n := len(line); n+1 > maxQPLine {
		unit := 1
		if line[n-3] == '=' { // '=' is never literal: =XX
			unit = 3
		}
		var last [3]byte
		copy(last[:], dst[len(dst)-unit:])
		dst = append(dst[:len(dst)-unit], '=', '\r', '\n')
		dst = append(dst, last[:unit]...)
	}
	return append(dst, '=', '\r', '\n')
}

// appendMultipart converts a multipart body part by part. A delimiter
// line is "--" boundary, "--" more for the last, then only spaces and
// tabs (RFC 2046 §5.1.1); the CRLF before it belongs to it, not to the
// part. Preamble and epilogue are text every reader ignores: an 8-bit
// octet there, which cannot be encoded, becomes '?'.
func appendMultipart(dst, body []byte, boundary string, w where, childType string) ([]byte, error) {
	dash := "--" + boundary
	partStart := -1 // -1: still in the preamble
	n := 0
	var err error
	for i := 0; i < len(body); {
		end := len(body)
		if k := bytes.Index(body[i:], crlf); k >= 0 {
			end = i + k + 2
		}
		kind := delimiter(bytes.TrimSuffix(body[i:end], crlf), dash)
		if kind == notDelimiter {
			i = end
			continue
		}
		if partStart < 0 {
			dst = appendIgnored(dst, body[:i])
		} else if dst, err = appendPart(dst, body[partStart:i], w.child(n, childType)); err != nil {
			return nil, err
		}
		dst = append(dst, body[i:end]...)
		if kind == closeDelimiter {
			return appendIgnored(dst, body[end:]), nil
		}
		n++
		partStart, i = end, end
	}
	if partStart < 0 {
		return nil, fmt.Errorf("%v has no delimiter line of its boundary %q", w, boundary)
	}
	// No close delimiter: the last part runs to the end, as readers take it.
	return appendPart(dst, body[partStart:], w.child(n, childType))
}

// appendPart converts one body part, seg being everything between two
// delimiter lines; its last CRLF is the next delimiter's.
func appendPart(dst, seg []byte, w where) ([]byte, error) {
	content, sep := seg, []byte(nil)
	if bytes.HasSuffix(seg, crlf) {
		content, sep = seg[:len(seg)-2], crlf
	}
	dst, err := appendEntity(dst, content, w)
	if err != nil {
		return nil, err
	}
	return append(dst, sep...), nil
}

type delimiterKind uint8

const (
	notDelimiter delimiterKind = iota
	partDelimiter
	closeDelimiter
)

func delimiter(line []byte, dash string) delimiterKind {
	if !bytes.HasPrefix(line, []byte(dash)) {
		return notDelimiter
	}
	rest := line[len(dash):]
	kind := partDelimiter
	if bytes.HasPrefix(rest, []byte("--")) {
		rest, kind = rest[2:], closeDelimiter
	}
	if len(bytes.TrimLeft(rest, " \t")) > 0 {
		return notDelimiter
	}
	return kind
}

// appendIgnored appends a preamble or epilogue, 8-bit octets made '?'.
func appendIgnored(dst, b []byte) []byte {
	for _, c := range b {
		if c >= 0x80 {
			c = '?'
		}
		dst = append(dst, c)
	}
	return dst
}

func hasEightBit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// appendQP encodes body as quoted-printable (RFC 2045 §6.7): a CRLF is a
// line break; every other octet outside printable ASCII, '=', and a space
// or tab at a line's end are =XX; encoded lines have at most maxQPLine
// octets, soft line breaks ("=" CRLF) included.
func appendQP(dst, body []byte) []byte {
	for len(body) > 0 {
		line, hard := body, false
		if k := bytes.Index(body, crlf); k >= 0 {
			line, hard = body[:k], true
			body = body[k+2:]
		} else {
			body = nil
		}
		dst = appendQPLine(dst, line)
		if hard {
			dst = append(dst, '\r', '\n')
		}
	}
	return dst
}

const upperHex = "0123456789ABCDEF"

func appendQPLine(dst, line []byte) []byte {
	n := 0 // octets on the encoded line so far
	for i, c := range line {
		last := i == len(line)-1
		literal := c >= '!' && c <= '~' && c != '=' || (c == ' ' || c == '\t') && !last
		width := 3
		if literal {
			width = 1
		}
		// Room for the "=" of a soft break, unless nothing follows.
		limit := maxQPLine - 1
		if last {
			limit = maxQPLine
		}
		if n+width > limit {
			dst = append(dst, '=', '\r', '\n')
			n = 0
		}
		if literal {
			dst = append(dst, c)
		} else {
			dst = append(dst, '=', upperHex[c>>4], upperHex[c&0x0f])
		}
		n += width
	}
	return dst
}
