package main

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// TestPeerWorlds: -postfix names bench worlds, "none" none; a name that
// is no world is refused, and the default names worlds that exist.
func TestPeerWorlds(t *testing.T) {
	all := benchWorlds(1)
	for _, tc := range []struct {
		list, wantErr string
		want          []string
	}{
		{defaultPostfixWorlds, "", []string{"10k", "1k", "600", "dead-mx", "dns-silent", "paper"}},
		{"none", "", nil},
		{"", "", nil},
		{" 600 ,paper,", "", []string{"600", "paper"}},
		{"paper,3k", "no world named 3k", nil},
	} {
		got, err := peerWorlds(tc.list, all)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("peerWorlds(%q) = %v, want an error with %q", tc.list, err, tc.wantErr)
			}
			continue
		}
		if names := slices.Sorted(maps.Keys(got)); err != nil || !slices.Equal(names, tc.want) {
			t.Errorf("peerWorlds(%q) = %v, %v; want %v", tc.list, names, err, tc.want)
		}
	}
}

// TestPostfixConfig: the connect timeout is smtpfeed's, in whole seconds
// and at least one, and the submission takes the whole list.
func TestPostfixConfig(t *testing.T) {
	for _, tc := range []struct {
		connect time.Duration
		want    string
	}{{5 * time.Second, "smtp_connect_timeout=5s"}, {1500 * time.Millisecond, "smtp_connect_timeout=2s"}, {100 * time.Millisecond, "smtp_connect_timeout=1s"}} {
		lines := postfixConfig("/tmp/fb/postfix-paper-1", tc.connect, 10002)
		for _, want := range []string{tc.want, "smtpd_recipient_limit=10003", "maillog_file=/tmp/fb/postfix-paper-1/maillog", "maillog_file_prefixes=/tmp/fb, /var, /tmp"} {
			if !slices.Contains(lines, want) {
				t.Errorf("connect %v: main.cf lacks %q:\n%s", tc.connect, want, strings.Join(lines, "\n"))
			}
		}
	}
}

// TestPeerResultFill: the figures come from the world's report; a
// recipient the world does not deliver counts as wrong, once however
// often it came.
func TestPeerResultFill(t *testing.T) {
	w := &sim.World{Recipients: []*sim.Recipient{
		{Addr: "a@x.test", Expect: sim.Delivered}, {Addr: "b@x.test", Expect: sim.Delivered}, {Addr: "c@x.test", Expect: sim.Bounced},
	}}
	rep := sim.Report{
		Deliveries: []sim.Delivery{{Rcpt: "B@x.test", At: 90 * time.Millisecond}, {Rcpt: "c@x.test", At: 40 * time.Millisecond}, {Rcpt: "c@x.test", At: 70 * time.Millisecond}},
		Duplicates: []sim.Duplicate{{Rcpt: "c@x.test", Count: 2}}, LastDelivery: 90 * time.Millisecond,
		Expected: map[sim.Outcome]int{sim.Delivered: 2}, Delivered: 1, Missing: 1, Connections: 2, Transactions: 3, DNSQueriesTotal: 4,
	}
	var res peerResult
	res.fill(w, rep)
	want := peerResult{First: 40 * time.Millisecond, Last: 90 * time.Millisecond, Expected: 2, Delivered: 1, Missing: 1, Wrong: 1,
		Duplicates: 1, Connections: 2, Transactions: 3, DNSQueries: 4, Timeline: rep.TimelineText()}
	if res != want {
		t.Errorf("fill:\n got %+v\nwant %+v", res, want)
	}
}

// TestPeerTable: the Postfix table sets each run beside smtpfeed's
// against the RFC bound, says when a run failed or missed recipients,
// and says why there is no table when Postfix cannot run.
func TestPeerTable(t *testing.T) {
	f := &figures{recipients: 600, domains: 3, hosts: 3, last: 120 * time.Millisecond, bound: 80 * time.Millisecond,
		deadBound: 80 * time.Millisecond, serialBound: 100 * time.Millisecond}
	ok := peerResult{Last: 840 * time.Millisecond, Submit: 230 * time.Millisecond, Expected: 600, Delivered: 600, Connections: 12, Transactions: 14, DNSQueries: 6}
	short := ok
	short.Missing, short.Delivered = 3, 597
	rows := []benchRow{
		{name: "600", f: f, peer: &peerRow{res: &ok, runs: []peerResult{ok, short}}},
		{name: "1k", f: f, peer: &peerRow{why: "postfix start: exit status 1"}},
		{name: "10k-verp", f: f},
		{name: "dead-mx", f: f, peer: &peerRow{res: &short, runs: []peerResult{short}}},
	}
	var b bytes.Buffer
	writePeerTable(&b, rows, peerInfo{version: "3.7.11"}, 5*time.Second)
	out := b.String()
	for _, want := range []string{
		"Postfix 3.7.11's own SMTP client", "smtp_connect_timeout = 5s",
		"| 600 | 600 / 3 / 3 | 100ms | 120ms (1.20) | 840ms (8.40) | 7.0 | 600 (600) | 12 | 14 | 6 | 230ms |",
		"| 1k | 600 / 3 / 3 | 100ms | 120ms (1.20) | failed: postfix start: exit status 1 |",
		"| dead-mx | 600 / 3 / 3 | 100ms | 120ms (1.20) | > 3m0s: 3 missing |",
		"- 600, Postfix over 2 runs: last delivery 840ms-840ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "10k-verp") {
		t.Errorf("a world without Postfix runs is in the table:\n%s", out)
	}
	b.Reset()
	writePeerTable(&b, rows[2:3], peerInfo{why: "needs root (namespaces, mounts, port 25)"}, 5*time.Second)
	if got := b.String(); !strings.Contains(got, "Postfix, same run: not run (needs root") {
		t.Errorf("without Postfix: %q, want the reason", got)
	}
}

// TestPostfixChildOutsideNamespace: run by hand outside the namespaces
// -bench makes, the child refuses before it touches anything (it would
// mount over this system's resolv.conf and Postfix spool).
func TestPostfixChildOutsideNamespace(t *testing.T) {
	dir := t.TempDir()
	res, err := postfixRun(postfixChildOpts{world: "paper", seed: 1, dir: dir, connect: time.Second, limit: time.Second})
	if err == nil || !strings.Contains(err.Error(), "only inside the namespaces") {
		t.Fatalf("postfixRun outside its namespaces: %+v, %v; want a refusal", res, err)
	}
}
