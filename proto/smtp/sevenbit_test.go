package smtp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"

	"smtpfeed/proto/smtp/smtptest"
)

// checkSevenBitWire checks what any 7-bit form must be: no octet over
// 127 and lines within the SMTP limit.
func checkSevenBitWire(t *testing.T, m *Message) {
	t.Helper()
	checkWire(t, "converted", m.Wire())
	if hasEightBit(m.Wire()) {
		t.Fatalf("converted wire has an 8-bit octet: %q", m.Wire())
	}
}

const (
	plain8 = "From: a@b.test\r\nSubject: hi\r\n\r\ncaf\xc3\xa9 cr\xc3\xa8me\r\n"
	mixed  = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n" +
		"preamble\r\n--XX\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nkeep  me\t \r\n" +
		"--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"d\xe9j\xe0 vu \r\n--XX--\r\nepilogue\r\n"
)

func TestSevenBitConvert(t *testing.T) {
	long8 := strings.Repeat("\xc3\xa9", 400) + "\r\n" + strings.Repeat("a=b ", 200) + "\r\n"
	nested := "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"--outer\r\nContent-Type: multipart/alternative;\r\n boundary=\"inner b\"\r\n\r\n" +
		"--inner b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xbcber\r\n" +
		"--inner b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>\xc3\xbcber</p>\r\n--inner b--\r\n" +
		"--outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: fwd\r\n\r\nna\xc3\xafve\r\n" +
		"--outer\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--outer--\r\n"
	tests := []struct {
		name     string
		raw      string
		contains []string // in the converted content
		absent   []string
		err      error  // errors.Is; nil: converts
		errText  string // in the error
	}{
		{
			name: "plain 8-bit body without MIME headers",
			raw:  plain8,
			contains: []string{"From: a@b.test\r\nSubject: hi\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
				"caf=C3=A9 cr=C3=A8me\r\n"},
			absent: []string{"Content-Type"},
		},
		{
			// Readers unfold before they look for the colon: "X-A" and
			// " b: c" are one field, whose body follows the blank line.
			name:     "a field whose colon is on its continuation line",
			raw:      "X-A\r\n b: c\r\n\r\nd\xe9j\xe0\r\n",
			contains: []string{"X-A\r\n b: c\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nd=E9j=E0\r\n"},
		},
		{
			name:     "charset kept, 8bit replaced",
			raw:      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\nX: y\r\n\r\nd\xe9j\xe0\r\n",
			contains: []string{"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\nX: y\r\n\r\nd=E9j=E0\r\n"},
			absent:   []string{"8bit", "MIME-Version: 1.0\r\nMIME-Version"},
		},
		{
			name: "multipart: 7-bit part, preamble and epilogue kept byte for byte",
			raw:  mixed,
			contains: []string{"preamble\r\n--XX\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nkeep  me\t \r\n--XX\r\n",
				"charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nd=E9j=E0 vu=20\r\n--XX--\r\nepilogue\r\n"},
		},
		{name: "nested multipart and message/rfc822", raw: nested,
			contains: []string{"Content-Transfer-Encoding: 7bit\r\n", "=C3=BCber\r\n--inner b\r\n", "Subject: fwd\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=C3=AFve\r\n--outer\r\n",
				"base64\r\n\r\nAAAA\r\n--outer--\r\n"}},
		{name: "long 8-bit lines", raw: "Subject: x\r\n\r\n" + long8},
		{
			name:     "quoted-printable body with raw 8-bit octets",
			raw:      "Content-Type: text/plain\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\nx=3Dy \xe9=\r\nz\r\n",
			contains: []string{"Content-Transfer-Encoding: quoted-printable\r\nMIME-Version: 1.0\r\n\r\nx=3Dy =E9z\r\n"},
		},
		// Fuzz find: the body ends on a soft line break, which the wire
		// form's final CRLF completes; converted, it decodes without a
		// line break at the end, as the original does.
		{
			name:     "quoted-printable body ending on a soft line break",
			raw:      "Content-Transfer-Encoding:quoted-printABle\n\n\xe9=",
			contains: []string{"\r\n\r\n=E9=\r\n"},
		},
		{
			name:     "soft line break after a full encoded line",
			raw:      "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.Repeat("a", 75) + "\xe9=\r\n",
			contains: []string{"\r\n\r\n" + strings.Repeat("a", 75) + "=\r\n=E9=\r\n"},
		},
		{
			name:     "soft line break after a line of the full length",
			raw:      "Content-Transfer-Encoding: quoted-printable\r\n\r\n\xe9\r\n" + strings.Repeat("a", 73) + "\xe9=\r\n",
			contains: []string{"\r\n\r\n=E9\r\n" + strings.Repeat("a", 73) + "=\r\n=E9=\r\n"},
		},
		{
			name:     "soft line break after a line of the full length, literal last",
			raw:      "Content-Transfer-Encoding: quoted-printable\r\n\r\n\xe9\r\n" + strings.Repeat("a", 76) + "=\r\n",
			contains: []string{"\r\n\r\n=E9\r\n" + strings.Repeat("a", 75) + "=\r\na=\r\n"},
		},
		{
			name:     "8-bit preamble made '?'",
			raw:      "Content-Type: multipart/mixed; boundary=b\r\n\r\npr\xc3\xa9\r\n--b\r\n\r\nok\r\n--b--\r\n",
			contains: []string{"\r\n\r\npr??\r\n--b\r\n\r\nok\r\n--b--\r\n"},
		},
		{
			name:     "digest parts default to message/rfc822",
			raw:      "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\n\xc3\xa9\r\n--d--\r\n",
			contains: []string{"--d\r\n\r\nSubject: one\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n--d--"},
		},
		{name: "part without a header", raw: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n\xc3\xa9\r\n--b--\r\n",
			contains: []string{"--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n--b--"}},
		// Fuzz finds: a line with a colon is a header field to readers,
		// whatever its name.
		{name: "empty field name", raw: ":\n\n\xa80", contains: []string{":\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=A80\r\n"}},
		{name: "8-bit field name", raw: "\xff:", err: ErrEightBitHeader},
		{name: "8-bit top-level header", raw: "Subject: caf\xc3\xa9\r\n\r\nbody\r\n", err: ErrEightBitHeader, errText: "field Subject of the message"},
		{name: "8-bit part header", raw: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; filename=\"\xc3\xa9.txt\"\r\n\r\nx\r\n--b--\r\n",
			err: ErrEightBitHeader, errText: "field Content-Disposition of MIME part 1"},
		// A form feed is no white space to readers: the encoding is an
		// unknown one, whose 8-bit body is not to be re-encoded.
		{name: "a form feed before the transfer encoding", raw: "Content-Transfer-Encoding:\fquoted-printable\r\n\r\n=00\xe9\r\n",
			errText: "Content-Transfer-Encoding \fquoted-printable"},
		{name: "8-bit in base64 part", raw: "Content-Transfer-Encoding: base64\r\n\r\n\xff\r\n", errText: "Content-Transfer-Encoding base64"},
		{name: "multipart without boundary", raw: "Content-Type: multipart/mixed\r\n\r\n\xff\r\n", errText: "without a boundary"},
		{name: "multipart without delimiter", raw: "Content-Type: multipart/mixed; boundary=q\r\n\r\n\xff\r\n", errText: "no delimiter line"},
		{name: "encoded message/rfc822", raw: "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\xff\r\n", errText: "message/rfc822 with Content-Transfer-Encoding quoted-printable"},
		{name: "too deep", raw: strings.Repeat("Content-Type: message/rfc822\r\n\r\n", maxMIMEDepth+1) + "\xff\r\n", errText: "nests more than 32 levels deep"},
		{name: "deep but within the bound", raw: strings.Repeat("Content-Type: message/rfc822\r\n\r\n", maxMIMEDepth) + "\r\n\xff\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessage([]byte(tt.raw))
			if !m.EightBit {
				t.Fatal("test message is not 8-bit")
			}
			conv, err := m.SevenBit()
			if tt.err != nil || tt.errText != "" {
				if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("SevenBit() error = %v, want %v containing %q", err, tt.err, tt.errText)
				}
				if conv != nil {
					t.Fatal("SevenBit() returned a message with its error")
				}
				return
			}
			if err != nil {
				t.Fatalf("SevenBit() error = %v", err)
			}
			checkSevenBitWire(t, conv)
			got := unstuff(conv.Wire())
			for _, s := range tt.contains {
				if !bytes.Contains(got, []byte(s)) {
					t.Errorf("converted content lacks %q:\n%q", s, got)
				}
			}
			for _, s := range tt.absent {
				if bytes.Contains(got, []byte(s)) {
					t.Errorf("converted content has %q:\n%q", s, got)
				}
			}
			want, err := smtptest.LeafBodies(unstuff(m.Wire()))
			if err != nil {
				t.Fatalf("reading the original: %v", err)
			}
			have, err := smtptest.LeafBodies(got)
			if err != nil {
				t.Fatalf("reading the converted message: %v\n%q", err, got)
			}
			if len(have) != len(want) {
				t.Fatalf("converted message has %d leaf parts, want %d", len(have), len(want))
			}
			for i := range want {
				if !bytes.Equal(have[i], want[i]) {
					t.Errorf("leaf part %d decodes to %q, want %q", i+1, have[i], want[i])
				}
			}
		})
	}
}

// TestSevenBitOnce: the conversion runs once and its result is shared;
// a 7-bit message is its own 7-bit form, at no cost.
func TestSevenBitOnce(t *testing.T) {
	m := NewMessage([]byte(mixed))
	a, err := m.SevenBit()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := m.SevenBit(); b != a {
		t.Fatal("second SevenBit() made another message")
	}
	if n := testing.AllocsPerRun(10, func() { _, _ = m.SevenBit() }); n != 0 {
		t.Fatalf("memoised SevenBit() allocates %v times", n)
	}
	bad := NewMessage([]byte("Subject: \xff\r\n\r\n"))
	_, err1 := bad.SevenBit()
	if n := testing.AllocsPerRun(10, func() { _, _ = bad.SevenBit() }); n != 0 || err1 == nil {
		t.Fatalf("failed conversion: error %v, %v allocations when asked again", err1, n)
	}

	seven := NewMessage([]byte("Subject: x\r\nContent-Type: text/plain\r\n\r\nplain ascii\r\n"))
	seven.Declared8Bit = true
	if got, err := seven.SevenBit(); got != seven || err != nil {
		t.Fatalf("7-bit message: SevenBit() = %p, %v; want itself", got, err)
	}
	if n := testing.AllocsPerRun(10, func() { _, _ = seven.SevenBit() }); n != 0 {
		t.Fatalf("SevenBit() of a 7-bit message allocates %v times", n)
	}
}

func TestQuotedPrintableLines(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("\xff", 300), strings.Repeat("x", 75) + "\xff", strings.Repeat("x", 76), strings.Repeat("x", 77),
		strings.Repeat("y", 74) + " \xff", strings.Repeat(" ", 100), "a\rb\nc\r\n\r\nend \t", "=", "",
	} {
		t.Run(fmt.Sprintf("%.12q", in), func(t *testing.T) {
			enc := appendQP(nil, []byte(in))
			for _, line := range bytes.Split(enc, crlf) {
				if len(line) > maxQPLine {
					t.Fatalf("encoded line of %d octets: %q", len(line), line)
				}
				if bytes.ContainsAny(line, "\r\n") || hasEightBit(line) {
					t.Fatalf("encoded line has a bare CR/LF or 8-bit octet: %q", line)
				}
			}
			dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(enc)))
			if err != nil || string(dec) != in {
				t.Fatalf("appendQP(%q) = %q, decodes to %q, %v", in, enc, dec, err)
			}
		})
	}
}
