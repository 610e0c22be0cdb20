package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"smtpfeed/cmd/simnet/sim"
)

func TestDemo(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Domains, cfg.Hosts = 300, 40
	var out bytes.Buffer
	if err := runDemo(cfg, &out); err != nil {
		t.Fatalf("demo: %v", err)
	}
	text := out.String()
	for _, want := range []string{
		"simnet: ready dns=127.0.0.1:", "CNAME", "NXDOMAIN", " TC", "MX 0 .",
		"no answer (timeout)", "connection refused", "354 ", "Ok: queued as", "matches message: true",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output: got no %q, want it in:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "\n"); n > 60 {
		t.Errorf("demo output: got %v lines, want at most 60", n)
	}
}

func TestWriteFiles(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Domains, cfg.Hosts = 50, 10
	w, err := sim.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	world, rcpts, lmtp := filepath.Join(dir, "w.json"), filepath.Join(dir, "r.txt"), filepath.Join(dir, "s.lmtp")
	if err := writeFiles(w, world, rcpts, lmtp); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(rcpts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Count(string(b), "\n"), len(w.Recipients); got != want {
		t.Errorf("recipient lines: got %v, want %v", got, want)
	}
	b, err = os.ReadFile(lmtp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, w.LMTPSession()) {
		t.Errorf("LMTP file: got %d bytes, want the %d of LMTPSession", len(b), len(w.LMTPSession()))
	}
	if fi, err := os.Stat(world); err != nil || fi.Size() == 0 {
		t.Errorf("world file: got %v, %v; want a non-empty file", fi, err)
	}
}
