package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// TestPickWorlds: -worlds selects in benchWorlds' order, refuses a name
// that is no world, and the default leaves the million out.
func TestPickWorlds(t *testing.T) {
	all := benchWorlds(1)
	for _, tc := range []struct {
		list    string
		want    []string
		wantErr string
	}{
		{"600,paper", []string{"paper", "600"}, ""},
		{" dns-silent , dead-mx,dead-mx", []string{"dead-mx", "dns-silent"}, ""},
		{"1m", []string{"1m"}, ""},
		{"paper,10K,nosuch", nil, "no world named 10K, nosuch"},
		{" , ", nil, "names no world"},
	} {
		t.Run(tc.list, func(t *testing.T) {
			got, err := pickWorlds(all, tc.list)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("pickWorlds(%q) = %v, want an error with %q", tc.list, err, tc.wantErr)
				}
				return
			}
			var names []string
			for _, bw := range got {
				names = append(names, bw.name)
			}
			if err != nil || !slices.Equal(names, tc.want) {
				t.Errorf("pickWorlds(%q) = %v, %v; want %v", tc.list, names, err, tc.want)
			}
		})
	}
	def, err := pickWorlds(all, defaultWorlds)
	if err != nil {
		t.Fatalf("the default -worlds: %v", err)
	}
	for _, bw := range def {
		if bw.name == "1m" {
			t.Errorf("the default -worlds runs 1m")
		}
	}
	if len(def) != len(all)-1 {
		t.Errorf("the default -worlds runs %d of %d worlds, want every one but 1m", len(def), len(all))
	}
}

// lastRuns makes runs whose last deliveries are lasts (ms), with txns
// transactions each.
func lastRuns(lasts []int, txns []int) []benchRun {
	var runs []benchRun
	for i, l := range lasts {
		runs = append(runs, benchRun{r: &run{cpu: time.Duration(l) * time.Millisecond, report: sim.Report{Delivered: 1000}},
			f: &figures{last: time.Duration(l) * time.Millisecond, txns: txns[i], idealTxns: 10}})
	}
	return runs
}

// TestMedianRun: the median by last delivery, the later middle one of
// an even count; the range line spans every run.
func TestMedianRun(t *testing.T) {
	for _, tc := range []struct {
		lasts []int
		want  int
	}{
		{[]int{7}, 0},
		{[]int{300, 100, 200}, 2},
		{[]int{400, 100, 300, 200}, 2},
		{[]int{100, 100, 100}, 1},
		{[]int{500, 100}, 0},
	} {
		runs := lastRuns(tc.lasts, make([]int, len(tc.lasts)))
		if got := medianRun(runs); got != tc.want {
			t.Errorf("medianRun(%v) = %d, want %d", tc.lasts, got, tc.want)
		}
	}
	runs := lastRuns([]int{300, 100, 200}, []int{12, 10, 11})
	var b bytes.Buffer
	writeRanges(&b, []benchRow{{name: "10k", runs: runs, median: 2, r: runs[2].r, f: runs[2].f},
		{name: "paper", runs: runs[:1], r: runs[0].r, f: runs[0].f}})
	out := b.String()
	for _, want := range []string{"- 10k, 3 runs (median: run 3): last delivery 100ms-300ms, transactions 10-12 (ideal 10)", "CPU µs per delivered 100.0-300.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("ranges lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "paper") {
		t.Errorf("ranges show a world run once:\n%s", out)
	}
}

// benchRowOf is a one-run row of f, with the child's CPU per delivered
// recipient cpu (µs) and its peak RSS (MiB).
func benchRowOf(name string, f *figures, cpu float64, rssMiB int64) benchRow {
	r := &run{cpu: time.Duration(cpu * 1000 * float64(time.Microsecond)), report: sim.Report{Delivered: 1000}, maxRSS: rssMiB << 10}
	return benchRow{name: name, r: r, f: f, runs: []benchRun{{r, f}}, syscalls: "skipped (-no-strace)"}
}

// TestTargetLines: each target is judged on its world's row, against
// the bound with the race delay where the world has dead first MX
// hosts, over every run where the issue says every run; a world not run
// has no line.
func TestTargetLines(t *testing.T) {
	msd := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	lat := func(last, bound, deadBound, deadFirsts int) *figures {
		return &figures{last: msd(last), bound: msd(bound), deadBound: msd(max(bound, deadBound)), deadFirsts: deadFirsts}
	}
	traced := benchRowOf("100k", &figures{}, 9, 60)
	traced.traced, traced.syscallsPer = true, 2.5
	unsteady := benchRowOf("10k", &figures{last: msd(250), bound: msd(100), pipeTxns: 1000, idealPipeTxns: 1000}, 5, 20)
	unsteady.runs = append(unsteady.runs, benchRun{unsteady.r, &figures{pipeTxns: 1003, idealPipeTxns: 1000}})
	for _, tc := range []struct {
		name string
		row  benchRow
		key  string // a line with it must exist
		met  bool
	}{
		{"paper under", benchRowOf("paper", lat(110, 100, 0, 0), 1, 1), "at 30 recipients (paper): 110ms against the bound 100ms: 1.10x", true},
		{"paper over", benchRowOf("paper", lat(120, 100, 0, 0), 1, 1), "1.20x", false},
		{"paper dead first", benchRowOf("paper", lat(380, 100, 350, 1), 1, 1), "the bound plus the 250ms race delay, 350ms (column last/(bound+250ms dead); dead first MX hosts: 1): 1.09x", true},
		{"600", benchRowOf("600", lat(150, 120, 0, 0), 1, 1), "600 recipients on 3 hosts", false},
		{"1k", benchRowOf("1k", lat(380, 100, 350, 3), 1, 1), "≤ 1.30x the bound at 1,000", true},
		{"dead-mx", benchRowOf("dead-mx", lat(370, 120, 370, 5), 1, 1), "race delay, not a timeout", true},
		{"dead-mx slow", benchRowOf("dead-mx", lat(5100, 120, 370, 5), 1, 1), "race delay, not a timeout", false},
		{"dns-silent", benchRow{name: "dns-silent", extra: []string{"-t", "dns=3s"}, r: &run{}, f: &figures{lastAlive: msd(125), aliveBound: msd(100), silentDomains: 15, silentRcpts: 15, silentDeferred: 15}},
			"smtpfeed run with -t dns=3s): the answering domains' last delivery 125ms against their bound 100ms: 1.25x", true},
		{"dns-silent undeferred", benchRow{name: "dns-silent", r: &run{}, f: &figures{lastAlive: msd(125), aliveBound: msd(100), silentRcpts: 15, silentDeferred: 14}}, "recipients deferred (4xx): 14", false},
		{"10k", benchRowOf("10k", lat(290, 100, 0, 0), 1, 1), "at 10,000 recipients", true},
		{"10k over", benchRowOf("10k", lat(310, 100, 0, 0), 1, 1), "at 10,000 recipients", false},
		{"10k one run off ideal", unsteady, "equal in 1 of 2 runs", false},
		{"100k cpu", benchRowOf("100k", &figures{}, 9.5, 60), "CPU per delivered recipient at 100,000: 9.5 µs", true},
		{"100k cpu over", benchRowOf("100k", &figures{}, 11, 60), "CPU per delivered recipient at 100,000: 11.0 µs", false},
		{"100k syscalls", traced, "syscalls per delivered recipient at 100,000: 2.5, target ≤ 2", false},
		{"100k rss", benchRowOf("100k", &figures{}, 9, 65), "under 64 MiB peak RSS", false},
		{"100k no repeats", benchRowOf("100k", &figures{}, 9, 60), "0 repeated DNS queries at 100,000: none in 1 of 1 runs", true},
		{"100k repeats", benchRowOf("100k", &figures{dnsRepeats: 3}, 9, 60), "at most 3", false},
		{"1m", benchRowOf("1m", &figures{}, 8, 400), "1,000,000 recipients (1m)", true},
		{"1m rss", benchRowOf("1m", &figures{}, 8, 600), "peak RSS 600.0 MiB, target ≤ 512 MiB (NOT met)", false},
		{"1m unanswered", benchRowOf("1m", &figures{noAnswer: []int{4}}, 8, 400), "every recipient answered once (NOT met)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := targetLines([]benchRow{tc.row}, 250*time.Millisecond)
			var line string
			for _, l := range lines {
				if strings.Contains(l, tc.key) {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no target line with %q in:\n%s", tc.key, strings.Join(lines, "\n"))
			}
			if !strings.HasSuffix(line, ")") || !strings.Contains(line, "met") {
				t.Errorf("line %q ends in no verdict", line)
			}
			if met := !strings.Contains(line, "NOT met"); met != tc.met {
				t.Errorf("line %q: met %v, want %v", line, met, tc.met)
			}
		})
	}
	if lines := targetLines([]benchRow{benchRowOf("10k-barrier", &figures{}, 1, 1)}, time.Second); len(lines) != 0 {
		t.Errorf("10k-barrier alone, without 10k to compare with, gives %q", lines)
	}
	untraced := targetLines([]benchRow{benchRowOf("100k", &figures{}, 9, 60)}, time.Second)
	if !slices.ContainsFunc(untraced, func(l string) bool { return strings.HasSuffix(l, "not measured (skipped (-no-strace))") }) {
		t.Errorf("an untraced 100k judges syscalls:\n%s", strings.Join(untraced, "\n"))
	}
}

// TestMeasureAnsweringDomains: the alive set leaves out dead-first and
// silent domains, the silent ones' retries are not repeats, and the
// pipelining hosts' transactions are counted apart.
func TestMeasureAnsweringDomains(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Domains, cfg.Hosts, cfg.Users, cfg.RTT = 60, 20, 2, 20*time.Millisecond
	cfg.Silent, cfg.DeadFirst, cfg.NoPipelining = 0.1, 0.1, 0.3
	w, err := sim.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &run{answers: make([]*reply, len(w.Recipients))}
	var wantLast, wantBound time.Duration
	for i, rc := range w.Recipients {
		switch rc.Expect {
		case sim.Delivered:
			r.answers[i] = &reply{code: 250}
			at := rc.Bound + 10*time.Millisecond
			if rc.Domain.Kind == sim.KindDeadFirst {
				at = rc.Bound + time.Second // later than any other: must not count
			} else {
				wantLast, wantBound = max(wantLast, at), max(wantBound, rc.Bound)
			}
			r.report.Deliveries = append(r.report.Deliveries, sim.Delivery{Rcpt: rc.Addr, Host: rc.Host, At: at})
		case sim.Deferred:
			r.answers[i] = &reply{code: 450}
		default:
			r.answers[i] = &reply{code: 550}
		}
	}
	silent := w.DomainsOf(sim.KindSilent)
	if len(silent) == 0 || len(w.DomainsOf(sim.KindDeadFirst)) == 0 {
		t.Fatalf("world has %d silent and %d dead-first domains, want some of each", len(silent), len(w.DomainsOf(sim.KindDeadFirst)))
	}
	answering := w.Domains[slices.IndexFunc(w.Domains, func(d *sim.Domain) bool { return d.Kind != sim.KindSilent })]
	r.report.DNSQueries = []sim.DNSCount{{Name: silent[0].Name, Type: "MX", Transport: "udp", Count: 4}, {Name: answering.Name, Type: "MX", Transport: "udp", Count: 2}}
	r.report.TransactionsPerHost = map[string]int{}
	pipelining := 0
	for _, h := range w.HostsOf(sim.HostLive) {
		r.report.TransactionsPerHost[h.Name] = 1
		if h.Pipelining {
			pipelining++
		}
	}
	f := measure(w, r, 250*time.Millisecond, false)
	if f.lastAlive != wantLast || f.aliveBound != wantBound {
		t.Errorf("lastAlive, aliveBound = %v, %v; want %v, %v", f.lastAlive, f.aliveBound, wantLast, wantBound)
	}
	if f.silentDomains != len(silent) || f.silentRcpts != len(silent)*cfg.Users || f.silentDeferred != f.silentRcpts {
		t.Errorf("silent: %d domains, %d recipients, %d deferred; want %d, %d, all", f.silentDomains, f.silentRcpts, f.silentDeferred, len(silent), len(silent)*cfg.Users)
	}
	if f.silentRetries != 3 || f.dnsRepeats != 1 {
		t.Errorf("silentRetries, dnsRepeats = %d, %d; want 3, 1", f.silentRetries, f.dnsRepeats)
	}
	if f.pipeTxns != pipelining || pipelining == len(w.HostsOf(sim.HostLive)) {
		t.Errorf("pipeTxns = %d, want %d of %d live hosts", f.pipeTxns, pipelining, len(w.HostsOf(sim.HostLive)))
	}
	if f.idealPipeTxns == 0 || f.idealPipeTxns >= f.idealTxns {
		t.Errorf("idealPipeTxns = %d of %d ideal, want some but not all", f.idealPipeTxns, f.idealTxns)
	}
	if !f.ok() {
		t.Errorf("answers as the world expects do not check: %d unanswered, %d wrong, %d claimed", len(f.noAnswer), len(f.wrong), len(f.claimed))
	}
}
