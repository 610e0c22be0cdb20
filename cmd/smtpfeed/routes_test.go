package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// TestRouteMapStartup: a route map that does not parse stops smtpfeed
// at start with EX_CONFIG (as a bad -tls-policy file does), naming the
// file, the line and what is wrong.
func TestRouteMapStartup(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file, want string
	}{
		{"bad address", "a.example MX\n\n\n\n\n\nexample.com [300.1.1.1]\n", `routes.map:7: "[300.1.1.1]": not an IP address`},
		{"duplicate", "example.com MX\nexample.org A\nExample.COM. relay.example\n", `routes.map:3: "Example.COM." is routed on line 1 already`},
		{"no route", "# comment\nexample.com\n", `routes.map:2: "example.com" has no route`},
		{"unknown route", "example.com relay!\n", `routes.map:1: host "relay!"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "routes.map")
			if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run([]string{"-nameserver", "127.0.0.1:9", "-l", "stderr", "-M", path}, &stdout, &stderr)
			if code != exitConfig || !strings.Contains(stderr.String(), "-M: "+filepath.Join(dir, tc.want)) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), exitConfig, tc.want)
			}
		})
	}
	var stderr bytes.Buffer
	if code := run([]string{"-nameserver", "127.0.0.1:9", "-M", filepath.Join(dir, "none")}, &bytes.Buffer{}, &stderr); code != exitConfig || !strings.Contains(stderr.String(), "no such file") {
		t.Fatalf("a missing map: exit %d, %q; want %d naming the missing file", code, stderr.String(), exitConfig)
	}
}

// routeWorld is one domain with two MX hosts (both take its mail) and a
// third host that relays nothing for it.
func routeWorld(t *testing.T) (s *sim.Sim, rcpt string, mx10, mx20, other *sim.Host) {
	t.Helper()
	s, err := sim.Start(sim.Config{Seed: 3, Domains: 1, Hosts: 3, Users: 1, SecondMX: 1, DNSAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := s.World.Recipients[0]
	d := r.Domain
	if r.Expect != sim.Delivered || len(d.MX) != 2 || len(s.World.Hosts) != 3 {
		t.Fatalf("world: %s expects %v, %d MX hosts of %d; want one delivered recipient, two MX of three", r.Addr, r.Expect, len(d.MX), len(s.World.Hosts))
	}
	mx10, mx20 = d.MX[0].Host, d.MX[1].Host
	if d.MX[0].Pref > d.MX[1].Pref {
		mx10, mx20 = mx20, mx10
	}
	for _, h := range s.World.Hosts {
		if h != mx10 && h != mx20 {
			other = h
		}
	}
	return s, r.Addr, mx10, mx20, other
}

// sendOne hands over one message for rcpt on an open LMTP session and
// returns the recipient's reply.
func sendOne(c *child, rcpt string) string {
	c.t.Helper()
	c.send("MAIL FROM:<" + sim.ListSender + ">\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\n")
	c.expect("250", 10*time.Second)
	c.expect("250", 10*time.Second)
	c.expect("354", 10*time.Second)
	c.send(sim.TestMessage + ".\r\n")
	return c.next(30 * time.Second)
}

// TestSignalHUPReloadsRoutes: the -M map applies from the start; HUP
// reads it again and the next message goes where the new map says; a
// map that does not parse on HUP is logged with its line and the old
// one stays. No route map, the MX hosts, would deliver at the best MX.
func TestSignalHUPReloadsRoutes(t *testing.T) {
	s, rcpt, _, mx20, other := routeWorld(t)
	domain := rcpt[strings.IndexByte(rcpt, '@')+1:]
	path := filepath.Join(t.TempDir(), "routes.map")
	write := func(file string) {
		t.Helper()
		// Written aside and renamed, as an operator's tool would: a
		// reload never reads half a file.
		if err := os.WriteFile(path+".new", []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	// The second MX, by name: not where the MX records send it first.
	write("# first\n" + domain + " " + mx20.Name + "\n")
	c := startChild(t, feedArgs(s, "-M", path)...)
	c.expect("220", 10*time.Second)
	c.send("LHLO mta.test\r\n")
	c.expect("250", 10*time.Second)
	if got := sendOne(c, rcpt); !strings.HasPrefix(got, "250 ") || !strings.Contains(got, mx20.Name+"["+mx20.Addr.String()+"]") {
		t.Fatalf("under the first map: %q, want delivered by %s", got, mx20.Name)
	}

	// A host that relays nothing for the domain: its refusal shows the
	// map was read again (the MX hosts would deliver).
	write("# second\n" + domain + " [" + other.Addr.String() + "]\n")
	c.signal(syscall.SIGHUP)
	waitForLog(t, c, "SIGHUP: route map "+path+" reloaded, 1 routes")
	if got := sendOne(c, rcpt); !strings.HasPrefix(got, "550 5.7.1 ") || !strings.Contains(got, "["+other.Addr.String()+"] said:") {
		t.Fatalf("after the reload: %q, want the refusal of [%s], where the new map sends it", got, other.Addr)
	}

	write("# third\n" + domain + " [300.1.1.1]\n")
	c.signal(syscall.SIGHUP)
	waitForLog(t, c, "SIGHUP: route map "+path+" not reloaded, the old one stays: "+path+`:2: "[300.1.1.1]": not an IP address`)
	if got := sendOne(c, rcpt); !strings.HasPrefix(got, "550 5.7.1 ") || !strings.Contains(got, "["+other.Addr.String()+"] said:") {
		t.Fatalf("after a bad map: %q, want the second map's route to [%s] still", got, other.Addr)
	}
	c.quit()
}

// TestSignalHUPWithoutMap: without -M, HUP says there is nothing to
// reload, and delivery goes on.
func TestSignalHUPWithoutMap(t *testing.T) {
	s, rcpt, mx10, _, _ := routeWorld(t)
	c := startChild(t, feedArgs(s)...)
	c.expect("220", 10*time.Second)
	c.send("LHLO mta.test\r\n")
	c.expect("250", 10*time.Second)
	c.signal(syscall.SIGHUP)
	waitForLog(t, c, "SIGHUP: no route map (-M) to reload; going on")
	if got := sendOne(c, rcpt); !strings.HasPrefix(got, "250 ") || !strings.Contains(got, mx10.Name) {
		t.Fatalf("after HUP without a map: %q, want delivered by the best MX %s", got, mx10.Name)
	}
	c.quit()
}

// TestResolveOnlyRoutes: -d Q reports the grouping the route map makes,
// not the MX records': the domain is listed under the host it is routed
// to.
func TestResolveOnlyRoutes(t *testing.T) {
	s, rcpt, mx10, _, other := routeWorld(t)
	_, domain, _ := strings.Cut(rcpt, "@")
	args := []string{"-d", "Q", "-4", "-nameserver", s.DNSAddr().String(), "-t", "dns=5s", "-c", "me.test", rcpt}
	for _, tc := range []struct {
		name, routes string
		want, not    *sim.Host
	}{
		{"no map", "", mx10, other},
		{"routed", domain + " " + other.Name + "\n", other, mx10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := args
			if tc.routes != "" {
				file := filepath.Join(t.TempDir(), "routes.map")
				if err := os.WriteFile(file, []byte(tc.routes), 0o644); err != nil {
					t.Fatal(err)
				}
				a = append([]string{"-M", file}, args...)
			}
			var out, errb bytes.Buffer
			if code := run(a, &out, &errb); code != exitOK {
				t.Fatalf("run = %d, stderr:\n%s", code, errb.String())
			}
			report := errb.String()
			if !strings.Contains(report, tc.want.Name) || strings.Contains(report, tc.not.Name) {
				t.Errorf("report should name %s and not %s:\n%s", tc.want.Name, tc.not.Name, report)
			}
		})
	}
}
