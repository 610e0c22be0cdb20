package sim

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestReportCounts(t *testing.T) {
	s := startSim(t, tinyConfig())
	w := s.World
	d := plainDomain(t, w, KindNormal)
	h := d.MXHosts()[0]
	rc := func(i int) string { return "RCPT TO:<" + d.Users[i] + "@" + d.Name + ">" }

	// Connection 1: two transactions, 2 then 1 recipients.
	c := dial(t, s, h)
	c.expect("220 ")
	c.send("EHLO t", "MAIL FROM:<a@b.test>", rc(0), rc(1), "DATA")
	for range 4 {
		c.reply()
	}
	c.expect("354 ")
	c.send("one", ".", "MAIL FROM:<a@b.test>", rc(2), "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("one", ".", "QUIT")
	c.expect("250 ")
	c.expect("221 ")
	// Connection 2: the same message to recipient 0 again: a duplicate;
	// and a different message to recipient 1: not a duplicate.
	c = dial(t, s, h)
	c.expect("220 ")
	c.send("HELO t", "MAIL FROM:<a@b.test>", rc(0), "DATA")
	for range 3 {
		c.reply()
	}
	c.send("one", ".", "MAIL FROM:<a@b.test>", rc(1), "DATA")
	c.expect("354 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("two", ".", "QUIT")
	c.expect("250 ")
	c.expect("221 ")

	for range 3 {
		mustQuery(t, s, d.Name, dns.TypeMX, "udp")
	}
	mustQuery(t, s, d.Name, dns.TypeMX, "tcp")
	mustQuery(t, s, h.Name, dns.TypeA, "udp")

	r := s.Report()
	checks := []struct {
		name      string
		got, want any
	}{
		{"connections", r.Connections, 2},
		{"connections on host", r.ConnectionsPerHost[h.Name], 2},
		{"transactions", r.Transactions, 4},
		{"deliveries", len(r.Deliveries), 5},
		{"distinct delivered", r.Delivered, 3},
		{"missing", r.Missing, w.Expected()[Delivered] - 3},
		{"MX queries", r.DNSCount(d.Name, "MX"), 4},
		{"MX queries over udp", r.DNSCount(d.Name, "MX", "udp"), 3},
		{"A queries", r.DNSCount(h.Name, "A"), 1},
		{"total queries", r.DNSQueriesTotal, 5},
		{"duplicates", len(r.Duplicates), 1},
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			if ck.got != ck.want {
				t.Errorf("got %v, want %v", ck.got, ck.want)
			}
		})
	}
	if want := map[int]int{2: 1, 1: 3}; !maps.Equal(r.RcptsPerTransaction, want) {
		t.Errorf("recipients per transaction: got %v, want %v", r.RcptsPerTransaction, want)
	}
	if len(r.Duplicates) == 1 && (r.Duplicates[0].Rcpt != d.Users[0]+"@"+d.Name || r.Duplicates[0].Count != 2) {
		t.Errorf("duplicate: got %+v, want %s twice", r.Duplicates[0], d.Users[0]+"@"+d.Name)
	}
	// Transaction ids count MAILs within a connection; connection ids differ.
	first, last := r.Deliveries[0], r.Deliveries[len(r.Deliveries)-1]
	if first.Txn != 1 || last.Txn != 2 || first.Conn == last.Conn {
		t.Errorf("ids: got first conn %d txn %d, last conn %d txn %d; want txn 1 and 2 on two connections", first.Conn, first.Txn, last.Conn, last.Txn)
	}

	path := filepath.Join(t.TempDir(), "report.json")
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	if back.Transactions != r.Transactions || len(back.Deliveries) != len(r.Deliveries) {
		t.Errorf("JSON round trip: got %d transactions %d deliveries, want %d %d", back.Transactions, len(back.Deliveries), r.Transactions, len(r.Deliveries))
	}
}

// TestTimeline: every phase of a delivery is seen, in order: queries
// before answers before connects before greetings before dots.
func TestTimeline(t *testing.T) {
	s := startSim(t, Config{Seed: 1, Domains: 3, Hosts: 2, Users: 1, DNSAddr: "127.0.0.1:0"})
	d := s.World.Domains[0]
	mustQuery(t, s, d.Name, dns.TypeMX, "udp")
	c := dial(t, s, d.MX[0].Host)
	c.expect("220 ")
	c.send("EHLO test.client")
	c.expect("250 ")
	c.send("MAIL FROM:<a@b.test>", "RCPT TO:<user1@"+d.Name+">", "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("Subject: t", "", "body", ".")
	c.expect("250 ")
	rep := s.Report()
	if len(rep.Timeline) != len(phaseOrder) {
		t.Fatalf("timeline %+v, want %d phases", rep.Timeline, len(phaseOrder))
	}
	var prev time.Duration
	for i, p := range rep.Timeline {
		if p.Name != phaseOrder[i] || p.Count == 0 || p.First > p.Last || p.First < prev {
			t.Errorf("phase %d: %+v (previous phase began at %v)", i, p, prev)
		}
		prev = p.First
	}
	if !strings.Contains(rep.TimelineText(), "greeting ") {
		t.Errorf("TimelineText %q", rep.TimelineText())
	}
}
