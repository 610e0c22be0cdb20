package lmtp

import (
	"strings"
	"testing"
	"unsafe"
)

// TestHeldTextsShared: held answers with equal texts keep one string, so
// the driver's copies can go.
func TestHeldTextsShared(t *testing.T) {
	s, m := started(t, Config{}, threeRcpts)
	for _, i := range []int{2, 1} {
		text := strings.Repeat("x", 3) + " queued" // a string of its own each time
		if err := s.Answer(m, i, Reply{250, "2.0.0", text}); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := s.held[1].text, s.held[2].text; a != b || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Errorf("held texts %q and %q are not one string", a, b)
	}
	s.Answer(m, 0, Reply{250, "2.0.0", "first"})
	if got, want := drain(s), "250 2.0.0 first\r\n250 2.0.0 xxx queued\r\n250 2.0.0 xxx queued\r\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}
