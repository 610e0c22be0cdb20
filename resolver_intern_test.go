package smtpfeed

import (
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func TestIntern(t *testing.T) {
	r := &Resolver{names: make(map[string]string)}
	a := r.intern(strings.Clone("mx.example."))
	b := r.intern(strings.Clone("mx.example."))
	if a != b || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Errorf("intern(mx.example.) twice = two copies, want one")
	}
	for i := range maxInterned + 1 {
		r.intern(strconv.Itoa(i))
	}
	if n := len(r.names); n > maxInterned {
		t.Errorf("interned %d names, want at most %d", n, maxInterned)
	}
}
