package fuzz

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"smtpfeed/proto/smtp"
)

// sevenBitSeeds are the shapes of proto/smtp's converter table.
var sevenBitSeeds = []string{
	"From: a@b.test\r\nSubject: hi\r\n\r\ncaf\xc3\xa9 cr\xc3\xa8me\r\n",
	"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nd\xe9j\xe0\r\n",
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nkeep  me\t \r\n" +
		"--XX\r\nContent-Transfer-Encoding: 8bit\r\n\r\nd\xe9j\xe0 vu \r\n--XX--\r\nepilogue\r\n",
	"Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: multipart/alternative;\r\n boundary=\"inner b\"\r\n\r\n" +
		"--inner b\r\n\r\n\xc3\xbcber\r\n--inner b--\r\n--outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: fwd\r\n\r\nna\xc3\xafve\r\n--outer--\r\n",
	"Content-Transfer-Encoding: quoted-printable\r\n\r\nx=3Dy \xe9=\r\nz\r\n",
	"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\n\xc3\xa9\r\n--d--\r\n",
	"Subject: caf\xc3\xa9\r\n\r\nbody\r\n",
	"Subject: x\r\n\r\n" + strings.Repeat("\xc3\xa9", 600) + "\n.\n" + strings.Repeat("a= ", 400),
	"Subject: plain\r\n\r\nascii only\r\n",
}

// FuzzSevenBit converts arbitrary content for a server without 8BITMIME
// and checks: no panic; a 7-bit message is its own form; a converted one
// has no octet over 127, CRLF lines within 998 octets, and its leaf
// parts, read by the standard library's MIME readers, decode to the
// original's.
func FuzzSevenBit(f *testing.F) {
	for _, s := range sevenBitSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := smtp.NewMessage(raw)
		conv, err := m.SevenBit()
		switch {
		case !m.EightBit:
			if conv != m || err != nil {
				t.Fatalf("7-bit message: SevenBit() = %p, %v; want itself", conv, err)
			}
			return
		case err != nil:
			if conv != nil {
				t.Fatalf("SevenBit() returned a message with its error %v", err)
			}
			return
		}
		wire := conv.Wire()
		if conv.EightBit || slices.ContainsFunc(wire, func(c byte) bool { return c >= 0x80 }) {
			t.Fatalf("converted wire has an 8-bit octet: %q", wire)
		}
		if !bytes.HasSuffix(wire, []byte(".\r\n")) {
			t.Fatalf("converted wire does not end with the final dot: %q", wire)
		}
		for _, line := range bytes.Split(wire[:len(wire)-2], []byte("\r\n")) {
			if bytes.ContainsAny(line, "\r\n") || len(bytes.TrimPrefix(line, []byte("."))) > 998 {
				t.Fatalf("converted wire has a bad line %q", line)
			}
		}
		want, err := leafBodies(unstuff(m.Wire()))
		if err != nil {
			return // the readers refuse the original: nothing to compare
		}
		have, err := leafBodies(unstuff(wire))
		if err != nil {
			t.Fatalf("the original reads, the converted message does not: %v\n%q", err, unstuff(wire))
		}
		if len(have) != len(want) {
			t.Fatalf("converted message has %d leaf parts, want %d:\n%q", len(have), len(want), unstuff(wire))
		}
		for i := range want {
			if !bytes.Equal(have[i], want[i]) {
				t.Fatalf("leaf part %d decodes to %q, want %q", i+1, have[i], want[i])
			}
		}
	})
}

// unstuff is the content a server stores from a wire form.
func unstuff(wire []byte) []byte {
	wire = bytes.TrimSuffix(wire, []byte(".\r\n"))
	var out []byte
	for _, line := range bytes.SplitAfter(wire, []byte("\r\n")) {
		out = append(out, bytes.TrimPrefix(line, []byte("."))...)
	}
	return out
}

// leafBodies reads content with the standard library's MIME readers and
// returns every leaf part's body, quoted-printable decoded, in order.
func leafBodies(content []byte) ([][]byte, error) {
	var out [][]byte
	err := walkMessage(content, 0, &out)
	return out, err
}

func walkMessage(content []byte, depth int, out *[][]byte) error {
	msg, err := mail.ReadMessage(bytes.NewReader(content))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return err
	}
	return walkEntity(textproto.MIMEHeader(msg.Header), body, "text/plain", depth, out)
}

func walkEntity(h textproto.MIMEHeader, body []byte, defaultType string, depth int, out *[][]byte) error {
	if depth > 40 {
		return errors.New("nested too deep")
	}
	mediaType, params := defaultType, map[string]string(nil)
	if v := h.Get("Content-Type"); v != "" {
		var err error
		if mediaType, params, err = mime.ParseMediaType(v); err != nil {
			return err
		}
	}
	cte := strings.ToLower(h.Get("Content-Transfer-Encoding"))
	if k := strings.IndexAny(cte, " \t(;"); k >= 0 {
		cte = cte[:k]
	}
	identity := cte == "" || cte == "7bit" || cte == "8bit" || cte == "binary"
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		child := "text/plain"
		if mediaType == "multipart/digest" {
			child = "message/rfc822"
		}
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			pb, err := io.ReadAll(p)
			if err != nil {
				return err
			}
			if err := walkEntity(p.Header, pb, child, depth+1, out); err != nil {
				return err
			}
		}
	case mediaType == "message/rfc822" && identity:
		return walkMessage(body, depth+1, out)
	case cte == "quoted-printable":
		dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return err
		}
		*out = append(*out, dec)
	default:
		*out = append(*out, body)
	}
	return nil
}
