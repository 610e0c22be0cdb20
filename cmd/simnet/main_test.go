package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
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

// TestMain lets a test run this binary's main: with SIMNET_MAIN=1 the
// test binary is simnet.
func TestMain(m *testing.M) {
	if os.Getenv("SIMNET_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestFlags: simnet's flags all register (a name defined twice panics
// at start) and -h lists the TLS, provider and throttle knobs.
func TestFlags(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-h")
	cmd.Env = append(os.Environ(), "SIMNET_MAIN=1")
	out, _ := cmd.CombinedOutput()
	if bytes.Contains(out, []byte("panic:")) || bytes.Contains(out, []byte("flag redefined")) {
		t.Fatalf("simnet -h panicked:\n%s", out)
	}
	for _, want := range []string{"-starttls", "-tls-broken", "-tls12-only", "-dane-match", "-dane-mismatch", "-dnssec",
		"-providers", "-provider-share", "-provider-hosts", "-provider-addrs", "-throttle-conns", "-throttle-msgs",
		"-throttle-rate", "-throttle-hosts", "-skew", "-ipv6-prefix", "-dual-stack", "-ipv6-only", "-dead-ipv6",
		"-refuse-ipv6", "-glue-aaaa"} {
		// PrintDefaults lists a flag as "  -name type" or "  -name".
		if !bytes.Contains(out, []byte("\n  "+want+" ")) && !bytes.Contains(out, []byte("\n  "+want+"\n")) {
			t.Errorf("simnet -h does not list %s:\n%s", want, out)
		}
	}
}

// TestProviderFlags: the provider and throttle flags reach the world.
func TestProviderFlags(t *testing.T) {
	w := genWorld(t, "-domains", "50", "-hosts", "10", "-users", "4",
		"-providers", "2", "-provider-share", "0.5", "-provider-hosts", "2", "-provider-addrs", "3",
		"-throttle-conns", "4", "-throttle-msgs", "5", "-throttle-rate", "6", "-skew", "1")
	var prov []*sim.Host
	for _, h := range w.Hosts {
		if strings.HasSuffix(h.Name, ".p1.test") || strings.HasSuffix(h.Name, ".p2.test") {
			prov = append(prov, h)
			if len(h.More) != 2 || h.MaxConns != 4 || h.MsgsPerConn != 5 || h.RcptRate != 6 {
				t.Errorf("host %s: got %d more addresses, throttles %d/%d/%d; want 2, 4/5/6", h.Name, len(h.More), h.MaxConns, h.MsgsPerConn, h.RcptRate)
			}
		}
	}
	if len(prov) != 4 {
		t.Errorf("provider hosts: got %d, want 4", len(prov))
	}
	if c := w.Config; c.Providers != 2 || c.ProviderShare != 0.5 || c.Skew != 1 {
		t.Errorf("config: got providers %d share %v skew %v, want 2, 0.5, 1", c.Providers, c.ProviderShare, c.Skew)
	}
}

// genWorld runs simnet -gen-only with args and reads back the world it
// wrote.
func genWorld(t *testing.T, args ...string) sim.World {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.json")
	cmd := exec.Command(os.Args[0], append([]string{"-gen-only", "-world", path}, args...)...)
	cmd.Env = append(os.Environ(), "SIMNET_MAIN=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("simnet -gen-only: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w sim.World
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatalf("world JSON: %v", err)
	}
	return w
}

// TestIPv6Flags: the IPv6 flags reach the world, and a bad prefix is
// refused with the flag's name.
func TestIPv6Flags(t *testing.T) {
	w := genWorld(t, "-domains", "50", "-hosts", "10",
		"-dead-hosts", "0", "-refuse-hosts", "0", "-dead-first", "0", "-refuse-first", "0",
		"-ipv6-prefix", "fd5e:feed::/64", "-dual-stack", "4", "-ipv6-only", "2", "-dead-ipv6", "1", "-refuse-ipv6", "1", "-glue-aaaa")
	dual, only, kind6 := 0, 0, map[sim.HostKind]int{}
	for _, h := range w.Hosts {
		switch {
		case h.Addr.Is6():
			only++
		case h.Addr6.IsValid():
			dual++
			kind6[h.Kind6]++
		}
	}
	if c := w.Config; c.IPv6Prefix.String() != "fd5e:feed::/64" || !c.GlueAAAA || dual != 4 || only != 2 ||
		kind6[sim.HostDead] != 1 || kind6[sim.HostRefuse] != 1 {
		t.Errorf("got prefix %v glue %v, %d dual-stack (IPv6 kinds %v), %d IPv6-only; want fd5e:feed::/64, true, 4 (1 dead, 1 refusing), 2",
			c.IPv6Prefix, c.GlueAAAA, dual, kind6, only)
	}

	cmd := exec.Command(os.Args[0], "-gen-only", "-ipv6-prefix", "fd5e:feed::")
	cmd.Env = append(os.Environ(), "SIMNET_MAIN=1")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "-ipv6-prefix") {
		t.Errorf("simnet -ipv6-prefix fd5e:feed:: (no length): got %v, %q; want an error naming the flag", err, out)
	}
}
