package smtp

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewMessage(t *testing.T) {
	tests := []struct {
		name, raw, wire string
		eightBit        bool
		broken          int
	}{
		{name: "CRLF kept", raw: "Subject: x\r\n\r\nbody\r\n", wire: "Subject: x\r\n\r\nbody\r\n.\r\n"},
		{name: "bare LF", raw: "a\nb\n", wire: "a\r\nb\r\n.\r\n"},
		{name: "bare CR", raw: "a\rb\r", wire: "a\r\nb\r\n.\r\n"},
		{name: "no final line end", raw: "a\r\nb", wire: "a\r\nb\r\n.\r\n"},
		{name: "empty", raw: "", wire: ".\r\n"},
		{name: "dot-stuffing", raw: ".\r\n..x\r\na.b\r\n.", wire: "..\r\n...x\r\na.b\r\n..\r\n.\r\n"},
		{name: "smuggling attempt", raw: "a\n.\r\nMAIL FROM:<x>\r\n", wire: "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n"},
		{name: "LF dot CR", raw: "a\n.\rb", wire: "a\r\n..\r\nb\r\n.\r\n"},
		{name: "eight bit", raw: "caf\xc3\xa9\r\n", wire: "caf\xc3\xa9\r\n.\r\n", eightBit: true},
		{
			name:   "long line broken",
			raw:    strings.Repeat("x", 1000) + "\r\n",
			wire:   strings.Repeat("x", 998) + "\r\n xx\r\n.\r\n",
			broken: 1,
		},
		{name: "998 is fine", raw: strings.Repeat("y", 998), wire: strings.Repeat("y", 998) + "\r\n.\r\n"},
		{name: "998 beginning with a dot", raw: "." + strings.Repeat("d", 997) + "\r\n", wire: ".." + strings.Repeat("d", 997) + "\r\n.\r\n"},
		{
			name:   "999 beginning with a dot",
			raw:    "." + strings.Repeat("d", 998) + "\n",
			wire:   ".." + strings.Repeat("d", 997) + "\r\n d\r\n.\r\n",
			broken: 1,
		},
		{name: "999 broken once", raw: strings.Repeat("n", 999), wire: strings.Repeat("n", 998) + "\r\n n\r\n.\r\n", broken: 1},
		{name: "bare CR before CRLF", raw: "a\r\r\nb", wire: "a\r\n\r\nb\r\n.\r\n"},
		{name: "LF CR", raw: "a\n\rb", wire: "a\r\n\r\nb\r\n.\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessage([]byte(tt.raw))
			if got := string(m.Wire()); got != tt.wire {
				t.Fatalf("NewMessage(%q).Wire() = %q, want %q", tt.raw, got, tt.wire)
			}
			if m.EightBit != tt.eightBit || m.LinesBroken != tt.broken {
				t.Fatalf("EightBit, LinesBroken = %v, %d; want %v, %d", m.EightBit, m.LinesBroken, tt.eightBit, tt.broken)
			}
		})
	}
}

// TestMessageWireLines checks the wire properties for many shapes of
// input: CRLF only, lines within 1000 octets, and exactly one lone dot.
func TestMessageWireLines(t *testing.T) {
	inputs := []string{"a\r\r\n\n\r.", strings.Repeat(".\n\r", 50), strings.Repeat("z", 5000), "\r\n.\r\n.\r\n",
		"." + strings.Repeat("z", 2000), strings.Repeat("."+strings.Repeat("w", 997)+"\n", 3)}
	for _, raw := range inputs {
		wire := NewMessage([]byte(raw)).Wire()
		checkWire(t, raw, wire)
	}
}

func checkWire(t *testing.T, raw string, wire []byte) {
	t.Helper()
	if !bytes.HasSuffix(wire, []byte("\r\n.\r\n")) && string(wire) != ".\r\n" {
		t.Fatalf("wire of %q does not end with the final dot: %q", raw, wire)
	}
	lines := bytes.Split(wire[:len(wire)-2], []byte("\r\n"))
	for i, line := range lines {
		if bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("wire of %q has a bare CR or LF in line %q", raw, line)
		}
		// The limit counts the line as the server stores it: without
		// the dot doubled for transparency.
		if len(bytes.TrimPrefix(line, []byte("."))) > maxTextLine {
			t.Fatalf("wire of %q has a line of %d octets", raw, len(line))
		}
		if string(line) == "." && i != len(lines)-1 {
			t.Fatalf("wire of %q has a lone dot before the end: %q", raw, wire)
		}
	}
}
