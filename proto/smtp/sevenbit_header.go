package smtp

import (
	"bytes"
	"mime"
	"strings"
)

// Reading and rewriting the header of one MIME entity for the 7-bit
// conversion (sevenbit.go), keeping every byte it does not change.

// header is where an entity's header fields lie in its bytes.
type header struct {
	fields []field
	end    int // the header's end: the blank line, or the first line that is no field
	// bodyStart is past the blank line; it is end when there is none
	// (a body that starts at a line that is not a header field).
	bodyStart int
}

// field is one header field, continuation lines and CRLFs included.
type field struct {
	start, colon, end int
}

// parseHeader finds the header fields at the start of b. As readers take
// them (net/mail among them), any line with a colon begins a field, its
// name being what comes before the colon (a name that RFC 5322 would not
// allow still names no field the conversion looks for), and a line that
// begins with a space or tab continues it; a line is read with its
// continuations, so the colon may come on one of them. The header ends
// at a blank line or at the first line that is neither.
func parseHeader(b []byte) header {
	var h header
	for i := 0; i < len(b); {
		end := len(b)
		if k := bytes.Index(b[i:], crlf); k >= 0 {
			end = i + k + 2
		}
		line := bytes.TrimSuffix(b[i:end], crlf)
		switch {
		case len(line) == 0:
			h.end, h.bodyStart = i, end
			return h
		case (line[0] == ' ' || line[0] == '\t') && len(h.fields) > 0:
			h.fields[len(h.fields)-1].end = end
		default:
			// The colon may come on a continuation line: readers unfold
			// first ("0" then " x:" is the field "0 x").
			end = logicalEnd(b, end)
			colon := bytes.IndexByte(b[i:end], ':')
			if colon < 0 {
				h.end, h.bodyStart = i, i
				return h
			}
			h.fields = append(h.fields, field{start: i, colon: i + colon, end: end})
		}
		i = end
	}
	h.end, h.bodyStart = len(b), len(b)
	return h
}

func (f field) name(b []byte) []byte { return b[f.start:f.colon] }

// logicalEnd is the end of the logical line whose first physical line
// ends at end: past every following line that begins with a space or tab.
func logicalEnd(b []byte, end int) int {
	for end < len(b) && (b[end] == ' ' || b[end] == '\t') {
		if k := bytes.Index(b[end:], crlf); k >= 0 {
			end += k + 2
		} else {
			end = len(b)
		}
	}
	return end
}

func (f field) is(b []byte, name string) bool { return bytes.EqualFold(f.name(b), []byte(name)) }

// value unfolds the field's value as net/textproto does: each line
// trimmed of spaces and tabs (RFC 5322's WSP; a form feed is no
// whitespace to readers), continuation lines joined with one space.
func (f field) value(b []byte) string {
	lines := bytes.Split(bytes.TrimSuffix(b[f.colon+1:f.end], crlf), crlf)
	var v []byte
	for i, line := range lines {
		if i > 0 {
			v = append(v, ' ')
		}
		v = append(v, bytes.Trim(line, wsp)...)
	}
	return string(bytes.Trim(v, wsp))
}

// wsp is RFC 5322's white space, what readers trim from a field's value.
const wsp = " \t"

// get is the value of the first field of that name, as readers take it.
func (h header) get(b []byte, name string) (string, bool) {
	for _, f := range h.fields {
		if f.is(b, name) {
			return f.value(b), true
		}
	}
	return "", false
}

func (h header) eightBitField(b []byte) (string, bool) {
	for _, f := range h.fields {
		if hasEightBit(b[f.start:f.end]) {
			return string(f.name(b)), true
		}
	}
	return "", false
}

// contentType is the entity's media type, lower case, and parameters.
// A Content-Type that does not parse makes an opaque leaf, which the
// conversion encodes whatever it holds.
func (h header) contentType(b []byte, defaultType string) (string, map[string]string) {
	v, _ := h.get(b, "Content-Type")
	if v == "" {
		return defaultType, nil
	}
	mediaType, params, err := mime.ParseMediaType(v)
	if mediaType == "" {
		return "application/octet-stream", nil
	}
	if err != nil {
		return mediaType, nil
	}
	return mediaType, params
}

// transferEncoding is the Content-Transfer-Encoding mechanism, lower
// case, a comment after it dropped; "" when there is none.
func (h header) transferEncoding(b []byte) string {
	v, _ := h.get(b, "Content-Transfer-Encoding")
	if k := strings.IndexAny(v, " \t(;"); k >= 0 {
		v = v[:k]
	}
	return strings.ToLower(v)
}

// appendHeader appends the header of b with its Content-Transfer-Encoding
// set to cte ("" leaves the fields as they are), MIME-Version added to a
// message that has none (a transfer encoding means something only under
// it, RFC 2045 §4), then the blank line.
func appendHeader(dst, b []byte, h header, message bool, cte string) []byte {
	wrote := false
	for _, f := range h.fields {
		if cte != "" && f.is(b, "Content-Transfer-Encoding") {
			if !wrote {
				dst = append(dst, "Content-Transfer-Encoding: "+cte+"\r\n"...)
				wrote = true
			}
			continue
		}
		dst = append(dst, b[f.start:f.end]...)
		if !bytes.HasSuffix(b[f.start:f.end], crlf) {
			dst = append(dst, '\r', '\n')
		}
	}
	if _, ok := h.get(b, "MIME-Version"); message && !ok {
		dst = append(dst, "MIME-Version: 1.0\r\n"...)
	}
	if cte != "" && !wrote {
		dst = append(dst, "Content-Transfer-Encoding: "+cte+"\r\n"...)
	}
	if h.bodyStart > h.end {
		return append(dst, b[h.end:h.bodyStart]...)
	}
	// No blank line: the body began at a line that was no field. Readers
	// now find the header's end where the conversion did.
	return append(dst, '\r', '\n')
}
