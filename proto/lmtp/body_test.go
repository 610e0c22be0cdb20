package lmtp

import "testing"

// BodyTests is shared with the fuzz targets' seeds: message data as the
// caller sends it after the 354, and what must come of it.
var BodyTests = []struct {
	name string
	in   string
	data string // the content; meaningful when end
	end  bool
	rest string // what follows the final dot
}{
	{"empty", ".\r\n", "", true, ""},
	{"one line", "hi\r\n.\r\n", "hi\r\n", true, ""},
	{"rest kept", "hi\r\n.\r\nQUIT\r\n", "hi\r\n", true, "QUIT\r\n"},
	{"stuffed", "..a\r\n..\r\n...\r\n.\r\n", ".a\r\n.\r\n..\r\n", true, ""},
	{"dot mid-line", "a.b\r\na\r\n.b\r\n.\r\n", "a.b\r\na\r\nb\r\n", true, ""},
	// A line ends at LF, with or without CR: the caller's MTA stuffs
	// and ends the data at the same line ends.
	{"bare LF dot bare LF", "a\n.\nb\r\n.\r\n", "a\n", true, "b\r\n.\r\n"},
	{"CRLF dot bare LF", "a\r\n.\nb\r\n.\r\n", "a\r\n", true, "b\r\n.\r\n"},
	{"bare LF dot CRLF", "a\n.\r\nb\r\n.\r\n", "a\n", true, "b\r\n.\r\n"},
	{"LF only", "Subject: x\n\nhi\n.\nQUIT\n", "Subject: x\n\nhi\n", true, "QUIT\n"},
	{"LF only, empty", ".\n", "", true, ""},
	{"stuffed after a bare LF", "a\n..x\n..\n.\n", "a\n.x\n.\n", true, ""},
	{"mixed CRLF and LF", "a\r\nb\n..c\r\nd\n\r\n.\r\n", "a\r\nb\n.c\r\nd\n\r\n", true, ""},
	{"bare CR then dot is no end", "a\r.\n.\n", "a\r.\n", true, ""},
	{"bare CR dot CR LF is no end", "a\r.\r\n.\n", "a\r.\r\n", true, ""},
	{"bare CR dot bare CR", "a\r.\rb\r\n.\r\n", "a\r.\rb\r\n", true, ""},
	{"dot CR X", ".\rx\r\n.\r\n", "\rx\r\n", true, ""},
	{"dot CR CR LF", ".\r\r\n.\r\n", "\r\r\n", true, ""},
	{"CR CR LF", "a\r\r\n.\r\n", "a\r\r\n", true, ""},
	{"no end", "a\r\n.x\n", "", false, ""},
	{"no end after a bare CR", "a\r.\r", "", false, ""},
	{"no end after dot", "a\r\n.", "", false, ""},
	{"no end after dot CR", "a\r\n.\r", "", false, ""},
	{"NUL and 8-bit", "\x00\xff\r\n.\r\n", "\x00\xff\r\n", true, ""},
	{"long line", string(make([]byte, 2000)) + "\r\n.\r\n", string(make([]byte, 2000)) + "\r\n", true, ""},
}

func TestBody(t *testing.T) {
	for _, tt := range BodyTests {
		t.Run(tt.name, func(t *testing.T) {
			for _, step := range []int{0, 1, 2, 3} {
				b := body{max: DefaultMaxSize}
				in := []byte(tt.in)
				if step == 0 {
					step = len(in) + 1
				}
				fed, end := 0, false
				for fed < len(in) && !end {
					chunk := in[fed:min(fed+step, len(in))]
					n, e := b.feed(chunk)
					fed += n
					end = e
					if !e && n != len(chunk) {
						t.Fatalf("feed(%q) took %d of %d without ending", chunk, n, len(chunk))
					}
				}
				if end != tt.end {
					t.Fatalf("step %d: body(%q) end = %v, want %v", step, tt.in, end, tt.end)
				}
				if !end {
					continue
				}
				if string(b.data) != tt.data || string(in[fed:]) != tt.rest {
					t.Fatalf("step %d: body(%q) = %q rest %q, want %q rest %q", step, tt.in, b.data, in[fed:], tt.data, tt.rest)
				}
				if b.size != int64(len(tt.data)) {
					t.Fatalf("step %d: size %d, want %d", step, b.size, len(tt.data))
				}
			}
		})
	}
}

func TestBodyOver(t *testing.T) {
	for _, tt := range []struct {
		max  int64
		in   string
		over bool
	}{
		{4, "abc\r\n.\r\n", true},
		{5, "abc\r\n.\r\n", false},
		{0, ".\r\n", false},
		{1, "..\r\n.\r\n", true}, // the content is ".\r\n": 3 octets
	} {
		b := body{max: tt.max}
		_, end := b.feed([]byte(tt.in))
		if !end || b.over() != tt.over {
			t.Errorf("body{max: %d}.feed(%q): end %v over %v, want true %v", tt.max, tt.in, end, b.over(), tt.over)
		}
		if b.over() && b.data != nil {
			t.Errorf("body{max: %d}.feed(%q) kept %d octets past the limit", tt.max, tt.in, len(b.data))
		}
	}
}
