package fuzz

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"smtpfeed/proto/smtp"
	"smtpfeed/proto/smtp/smtptest"
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
		want, err := smtptest.LeafBodies(unstuff(m.Wire()))
		if err != nil {
			return // the readers refuse the original: nothing to compare
		}
		have, err := smtptest.LeafBodies(unstuff(wire))
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
