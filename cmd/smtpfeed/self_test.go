package main

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// TestLoopbackRefusedByDefault: the simulated world's mail hosts are on
// 127.0.0.0/8, which is this host. Without -allow-local smtpfeed connects
// to none of them and every recipient bounces 554 5.4.6 as a loop; with
// -allow-local 127.0.0.0/8 the same session is delivered.
func TestLoopbackRefusedByDefault(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  string // reply prefix for every recipient
		conns bool
	}{
		{"default flags", nil, "554 5.4.6 mail for ", false},
		{"allow-local loopback", []string{"-allow-local", "127.0.0.0/8"}, "250 ", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sim.Start(sim.Config{Seed: 3, Domains: 12, Hosts: 4, Users: 2, DNSAddr: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			session := worldSession(t, s)
			args := append([]string{"-nameserver", s.DNSAddr().String(), "-port", fmt.Sprint(s.SMTPPort()), "-c", "feed.test",
				"-l", "stderr", "-N", "4", "-t", "connect=1s", "-t", "dns=2s", "-t", "idle=" + time.Second.String()}, tc.extra...)
			out, errOut, err := smtpfeedChild(t, args, session)
			if err != nil {
				t.Fatalf("smtpfeed: %v; stderr:\n%s", err, errOut)
			}
			replies := repliesAfterData(out)
			rcpts := s.World.Addresses()
			if len(replies) != len(rcpts) {
				t.Fatalf("%d replies after DATA for %d recipients; stdout:\n%s", len(replies), len(rcpts), out)
			}
			for i, a := range rcpts {
				if !strings.HasPrefix(replies[i], tc.want) {
					t.Errorf("reply %d (%s) = %q, want %q...", i, a, replies[i], tc.want)
				}
			}
			if got := s.Report().Connections > 0; got != tc.conns {
				t.Errorf("%d connections to the world's hosts, want any: %v", s.Report().Connections, tc.conns)
			}
		})
	}
}

// repliesAfterData are the LMTP replies between DATA's 354 and QUIT's 221.
func repliesAfterData(out string) []string {
	var replies []string
	afterData := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "354"):
			afterData = true
		case afterData && !strings.HasPrefix(l, "221"):
			replies = append(replies, l)
		}
	}
	return replies
}
