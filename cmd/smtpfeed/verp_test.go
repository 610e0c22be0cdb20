package main

import (
	"slices"
	"strings"
	"testing"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
)

// TestVERPThroughBinary: with -F -F (and its long name), every recipient
// reaches its server in a transaction of its own whose sender names it,
// the transactions of one host share one connection, and every
// recipient gets its one reply.
func TestVERPThroughBinary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		delim smtp.VERP
	}{
		{"-F -F", []string{"-F", "-F"}, smtp.DefaultVERP},
		{"-verp -verp-delims -=", []string{"-verp", "-verp-delims", "-="}, smtp.VERP{Plus: '-', Equals: '='}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sim.DefaultConfig()
			cfg.Seed, cfg.Domains, cfg.Hosts, cfg.Users = 3, 8, 3, 3
			cfg.DeadFirst, cfg.RefuseFirst, cfg.DeadHosts, cfg.RefuseHosts = 0, 0, 0, 0
			s, err := sim.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			args := feedArgs(s, slices.Concat(quickTimeouts, tc.args)...)
			out, errOut, err := smtpfeedChild(t, args, worldSession(t, s))
			if err != nil {
				t.Fatalf("smtpfeed: %v; stderr:\n%s", err, errOut)
			}
			if tl := tallyLMTP(out); len(tl.replies) != tl.accepted || tl.accepted == 0 {
				t.Fatalf("%d replies after the dot for %d recipients:\n%s", len(tl.replies), tl.accepted, out)
			}
			rep := s.Report()
			if len(rep.Deliveries) == 0 {
				t.Fatalf("nothing delivered; stderr:\n%s", errOut)
			}
			type txn struct {
				conn uint64
				n    int
			}
			perTxn := map[txn]int{}
			for _, d := range rep.Deliveries {
				if want := tc.delim.Sender(sim.ListSender, d.Rcpt); !strings.EqualFold(d.From, want) {
					t.Errorf("%s arrived from <%s>, want <%s>", d.Rcpt, d.From, want)
				}
				perTxn[txn{d.Conn, d.Txn}]++
			}
			for k, n := range perTxn {
				if n != 1 {
					t.Errorf("connection %d transaction %d carried %d recipients, want 1", k.conn, k.n, n)
				}
			}
			for h, n := range rep.ConnectionsPerHost {
				if n != 1 {
					t.Errorf("%s: %d connections, want the one its transactions share", h, n)
				}
			}
		})
	}
}

// TestReceivedForThroughBinary: with -1 -F every copy carries its own
// Received field, so no two recipients get the same bytes and none gets
// the message unchanged; with -1 alone all get the message as it came.
func TestReceivedForThroughBinary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		trace bool
	}{
		{"-1", []string{"-1"}, false},
		{"-1 -F", []string{"-1", "-F"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sim.DefaultConfig()
			cfg.Seed, cfg.Domains, cfg.Hosts, cfg.Users = 4, 6, 3, 2
			s, err := sim.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			args := feedArgs(s, slices.Concat(quickTimeouts, tc.args)...)
			if _, errOut, err := smtpfeedChild(t, args, worldSession(t, s)); err != nil {
				t.Fatalf("smtpfeed: %v; stderr:\n%s", err, errOut)
			}
			rep := s.Report()
			if len(rep.Deliveries) < 2 {
				t.Fatalf("%d deliveries, want several", len(rep.Deliveries))
			}
			seen := map[string]string{}
			for _, d := range rep.Deliveries {
				unchanged := d.Hash == sim.MessageSHA256()
				if unchanged == tc.trace {
					t.Errorf("%s: message unchanged %v, want %v", d.Rcpt, unchanged, !tc.trace)
				}
				if other, dup := seen[d.Hash]; dup && tc.trace {
					t.Errorf("%s and %s got the same bytes", d.Rcpt, other)
				}
				seen[d.Hash] = d.Rcpt
			}
		})
	}
}
