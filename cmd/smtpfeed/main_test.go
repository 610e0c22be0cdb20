package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"smtpfeed/cmd/simnet/sim"
)

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no mode", []string{"a@b.test"}, "need -d Q"},
		{"unknown class", []string{"-d", "X"}, "-d X"},
		{"bad family", []string{"-N", "5"}, "-N 5"},
		{"bad R", []string{"-R", "0"}, "-R 0"},
		{"bad source", []string{"-o", "here"}, "-o here"},
		{"bad port", []string{"-port", "0"}, "-port 0"},
		{"bad facility", []string{"-l", "nowhere", "-nameserver", "127.0.0.1"}, "-l nowhere"},
		{"bad address", []string{"-d", "Q", "nobody"}, "want local-part@domain"},
		{"unknown timeout", []string{"-d", "Q", "-t", "smtp=1s", "a@b.test"}, `unknown timeout "smtp"`},
		{"bad duration", []string{"-d", "Q", "-t", "dns=soon", "a@b.test"}, "want a duration"},
		{"bad cap", []string{"-d", "Q", "-max-queries", "0", "a@b.test"}, "-max-queries 0"},
		{"both lists", []string{"-d", "Q", "-r", "x", "a@b.test"}, "not both"},
		// A listener others can reach would relay their mail.
		{"open relay, any address", []string{"-L", "tcp:0.0.0.0:2003"}, "name the networks allowed with -lmtp-allow"},
		{"open relay, IPv6", []string{"-L", "tcp:[::]:2003"}, "-lmtp-allow"},
		{"open relay, an interface", []string{"-L", "tcp:192.0.2.1:2003"}, "-lmtp-allow"},
		{"bad listen address", []string{"-L", "tcp:nowhere"}, "want tcp:address:port"},
		{"no address per domain", []string{"-mx-addrs", "0"}, "-mx-addrs 0"},
		{"no address per host", []string{"-host-addrs", "-1"}, "-host-addrs -1"},
		{"bad socket mode", []string{"-L", "unix:/tmp/x", "-socket-mode", "rw"}, "-socket-mode rw"},
		{"bad allowed network", []string{"-lmtp-allow", "everyone"}, "everyone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			if code != exitUsage || !strings.Contains(errb.String(), c.want) {
				t.Errorf("run(%q) = %d, stderr %q, want %d and %q", c.args, code, errb.String(), exitUsage, c.want)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-d", "Q", "-nameserver", "not-an-ip", "a@b.test"}, &out, &errb); code != exitConfig || !strings.Contains(errb.String(), "not-an-ip") {
		t.Errorf("run(-nameserver not-an-ip) = %d, %q, want %d naming the server", code, errb.String(), exitConfig)
	}
}

// TestResolveOnly runs -d Q against the simulated DNS: every recipient
// gets a 4xx line, and the report groups the shared domains under their
// host with the host's address and its source.
func TestResolveOnly(t *testing.T) {
	s, file := rcptFileWorld(t, 200, 20)
	addrs := s.World.Addresses()
	var out, errb bytes.Buffer
	code := run([]string{"-d", "Q", "-4", "-nameserver", s.DNSAddr().String(), "-t", "dns=5s", "-c", "me.test", "-r", file}, &out, &errb)
	if code != exitOK {
		t.Fatalf("run = %d, stderr:\n%s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(addrs) {
		t.Fatalf("stdout has %d lines, want one per recipient (%d)", len(lines), len(addrs))
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, addrs[i]+": 4") {
			t.Errorf("stdout line %d = %q, want %s with a 4xx reply", i, l, addrs[i])
		}
	}
	report := errb.String()
	for _, d := range s.World.DomainsOf(sim.KindShare) {
		h := d.MXHosts()[0]
		head := "host " + h.Name + " [" + h.Addr.String() + " (additional)"
		i := strings.Index(report, head)
		if i < 0 {
			t.Fatalf("report lacks %q; report:\n%s", head, report)
		}
		next := strings.Index(report[i+1:], "\nhost ")
		block := report[i:]
		if next >= 0 {
			block = report[i : i+1+next]
		}
		if !strings.Contains(block, "  "+d.Name+": "+d.Users[0]+"@"+d.Name) {
			t.Errorf("report block of %s lacks shared domain %s:\n%s", h.Name, d.Name, block)
		}
	}
	for _, d := range s.World.DomainsOf(sim.KindNullMX) {
		if !strings.Contains(report, "failed "+d.Name+": 556 5.1.10") {
			t.Errorf("report lacks the null MX failure of %s", d.Name)
		}
	}
}

// rcptFileWorld starts a simulated world of domains on hosts (no silent
// domain) for the test, and writes its recipients to a file for -r.
func rcptFileWorld(t *testing.T, domains, hosts int) (*sim.Sim, string) {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Domains, cfg.Hosts, cfg.Silent = domains, hosts, 0
	s, err := sim.Start(cfg)
	if err != nil {
		t.Fatalf("sim.Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	file := filepath.Join(t.TempDir(), "rcpts")
	if err := os.WriteFile(file, []byte(strings.Join(s.World.Addresses(), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return s, file
}
