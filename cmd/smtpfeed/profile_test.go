package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPUProfile: -cpuprofile writes a profile pprof can read (gzip'd
// protocol buffers) once the run ends, and a file it cannot create is
// EX_CANTCREAT before anything is done.
func TestCPUProfile(t *testing.T) {
	s, rcpts := rcptFileWorld(t, 20, 5)
	dir := t.TempDir()
	args := func(profile string) []string {
		return []string{"-cpuprofile", profile, "-d", "Q", "-4", "-nameserver", s.DNSAddr().String(), "-t", "dns=5s", "-c", "me.test", "-r", rcpts}
	}
	profile := filepath.Join(dir, "cpu.prof")
	var out, errb bytes.Buffer
	if code := run(args(profile), &out, &errb); code != exitOK {
		t.Fatalf("run = %d, stderr:\n%s", code, errb.String())
	}
	b, err := os.ReadFile(profile)
	if err != nil {
		t.Fatalf("no profile after the run: %v", err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile starts %x, want gzip's 1f8b", b[:min(len(b), 4)])
	}

	out.Reset()
	errb.Reset()
	bad := filepath.Join(dir, "no-such-dir", "cpu.prof")
	if code := run(args(bad), &out, &errb); code != exitCantCreat || !strings.Contains(errb.String(), bad) {
		t.Errorf("run(-cpuprofile %s) = %d, stderr %q; want %d naming the file", bad, code, errb.String(), exitCantCreat)
	}
	if out.Len() > 0 {
		t.Errorf("a run that could not create its profile answered recipients:\n%s", out.String())
	}
}
