package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// failingOnce fails its first write and takes every later one.
type failingOnce struct {
	failed bool
	got    bytes.Buffer
}

func (f *failingOnce) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		return 0, errors.New("resource temporarily unavailable")
	}
	return f.got.Write(p)
}

// TestLogBufferKeepsNoError: lines wait for the flush, and a failed write
// loses that flush's lines only.
func TestLogBufferKeepsNoError(t *testing.T) {
	w := &failingOnce{}
	l := bufferedLog(w, "")
	l.Print("lost with the failed write")
	if w.failed {
		t.Fatalf("a line was written before the flush")
	}
	l.flush()
	l.Print("first after the failure")
	l.Print("second")
	l.flush()
	if got, want := w.got.String(), "first after the failure\nsecond\n"; got != want {
		t.Errorf("after a failed write: got %q, want %q", got, want)
	}
	big := strings.Repeat("x", logBuffer)
	l.Print(big)
	if !strings.Contains(w.got.String(), big) {
		t.Errorf("a full buffer was not written before the flush")
	}
}
