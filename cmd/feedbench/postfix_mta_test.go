//go:build mta

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// TestMTAPostfixPeer runs the bench's Postfix peer on the paper's world,
// which has one domain of each kind (a dead and a refusing first MX, a
// CNAME, an implicit MX, a truncated answer, an unknown domain, a refused
// recipient): Postfix, in its namespaces, must deliver every recipient
// the world delivers, once, and nothing else, through the world's DNS.
// make test-mta MTA_RUN=Postfix runs it where .ci/run has installed
// Postfix.
func TestMTAPostfixPeer(t *testing.T) {
	if _, why := postfixProbe(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the Postfix peer cannot run and CI=true: %s", why)
		}
		t.Skipf("the Postfix peer cannot run: %s", why)
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "feedbench")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build feedbench: %v\n%s", err, out)
	}
	o := benchOpts{seed: 1, connect: 2 * time.Second, repeat: 1, exe: exe, dir: dir}
	res, err := runPostfix("paper", o, filepath.Join(dir, "postfix-paper"))
	if err != nil {
		t.Fatal(err)
	}
	bw, err := pickWorlds(benchWorlds(1), "paper")
	if err != nil {
		t.Fatal(err)
	}
	w, err := sim.Generate(bw[0].cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := w.Expected()[sim.Delivered]
	if want == 0 || res.Expected != want || res.Delivered != want || res.Missing != 0 {
		t.Errorf("Postfix delivered %d of %d (%d missing); the world delivers %d", res.Delivered, res.Expected, res.Missing, want)
	}
	if res.Wrong != 0 || res.Duplicates != 0 {
		t.Errorf("Postfix delivered %d recipients the world refuses and %d twice", res.Wrong, res.Duplicates)
	}
	if res.DNSQueries < len(w.Domains) || res.Submit <= 0 || res.First <= 0 || res.Last < res.First {
		t.Errorf("implausible run: %d DNS queries for %d domains, submission %v, deliveries %v-%v",
			res.DNSQueries, len(w.Domains), res.Submit, res.First, res.Last)
	}
	t.Logf("Postfix on paper: last delivery %v, submission %v, %d connections, %d transactions; %s",
		res.Last, res.Submit, res.Connections, res.Transactions, res.Timeline)
}
