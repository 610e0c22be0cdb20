package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// benchWorld is one world of the benchmark.
type benchWorld struct {
	name  string
	cfg   sim.Config
	extra []string // smtpfeed flags of this world's run
}

// benchWorlds are the benchmark's worlds, 20 ms round trips and the kinds
// a real list meets: shared MX hosts, dead and refusing first MX hosts,
// unknown domains, a few refused and deferred recipients. No silent
// domains: they only measure smtpfeed's DNS timeout.
func benchWorlds(seed uint64) []benchWorld {
	big := func(domains, hosts, users int) sim.Config {
		c := sim.DefaultConfig()
		c.Seed, c.Domains, c.Hosts, c.Users = seed, domains, hosts, users
		c.RTT, c.Silent = 20*time.Millisecond, 0
		c.DeferRcpts, c.BounceRcpts = 0.005, 0.01
		return c
	}
	// The paper's experiment: 30 recipients on 30 domains; counts, not
	// fractions, so each kind appears once.
	paper := big(30, 30, 1)
	paper.Share, paper.DeadFirst, paper.RefuseFirst, paper.Crossed = 5, 1, 1, 0
	paper.Implicit, paper.CNAME, paper.NullMX, paper.NXDomain, paper.Truncate = 1, 1, 0, 1, 1
	paper.DeadHosts, paper.RefuseHosts = 1, 1
	paper.DeferRcpts, paper.BounceRcpts = 0, 1
	// 600 recipients on 3 domains and 3 hosts: two transactions per host,
	// one after another on one connection.
	six := big(3, 3, 200)
	six.Share, six.DeadFirst, six.RefuseFirst, six.Crossed, six.Implicit, six.CNAME = 0, 0, 0, 0, 0, 0
	six.NullMX, six.NXDomain, six.Truncate, six.SecondMX, six.DeadHosts, six.RefuseHosts = 0, 0, 0, 0, 0, 0
	six.NoPipelining, six.HeloOnly, six.RcptLimited, six.DeferRcpts, six.BounceRcpts = 0, 0, 0, 0, 0
	// A dead first MX on 5% of the domains, 5% without MX, 5% behind a
	// CNAME, 2% unknown: what the race delay is for.
	dead := big(300, 100, 1)
	dead.DeadFirst, dead.DeadHosts, dead.Implicit, dead.CNAME, dead.NXDomain = 0.05, 0.05, 0.05, 0.05, 0.02
	// 200 recipients on one host, with and without PIPELINING: what
	// spreading a lock-step host over connections buys.
	one := func(lockstep bool) sim.Config {
		c := six
		c.Domains, c.Hosts, c.Users = 1, 1, 200
		if lockstep {
			c.NoPipelining = 1
		}
		return c
	}
	return []benchWorld{
		{"paper", paper, nil},
		{"200-pipelined", one(false), nil},
		{"200-lockstep", one(true), nil},
		{"600", six, nil},
		{"1k", big(1000, 300, 1), nil},
		{"dead-mx", dead, nil},
		{"10k", big(3334, 1000, 3), nil}, // 10,002 recipients
		// The same world with the original's global barrier: no host
		// starts before every lookup has ended (-t grace=24h).
		{"10k-barrier", big(3334, 1000, 3), []string{"-t", "grace=24h"}},
		// The same world with VERP: a transaction per recipient, each
		// with its own sender, pipelined on the host's connection.
		{"10k-verp", big(3334, 1000, 3), []string{"-verp"}},
		{"100k", big(20000, 2000, 5), nil}, // 100,000 recipients
		tlsWorld(big(3334, 1000, 3)),
		realList(big(20000, 2000, 5)),
	}
}

// realList is a list of 100,000 as lists are: 40% at three providers,
// each behind three MX hosts of two addresses that throttle (10 sessions
// at once, 20 messages a connection, 1,000 recipients a second), the
// rest on domains of Zipf-like sizes.
func realList(c sim.Config) benchWorld {
	c.Providers, c.ProviderShare, c.ProviderHosts, c.ProviderAddrs = 3, 0.4, 3, 2
	c.ProviderMaxConns, c.ProviderMsgsPerConn, c.ProviderRcptRate = 10, 20, 1000
	c.Skew = 1
	// Zipf sizes round the list to a few more than 100,000: over
	// smtpfeed's default LMTP cap.
	return benchWorld{"real-list", c, []string{"-max-rcpts", "200000"}}
}

// tlsWorld is the 10k world with STARTTLS on every live host: smtpfeed's
// default level (may) encrypts every session, and the bound adds TLS's
// round trips.
func tlsWorld(c sim.Config) benchWorld {
	c.StartTLS = float64(c.Hosts) // a count: every live host
	return benchWorld{"10k-tls", c, nil}
}

type benchOpts struct {
	smtpfeed string
	seed     uint64
	connect  time.Duration
	race     time.Duration
	dir, out string
	worlds   string
	strace   bool
	extra    []string
	limit    time.Duration
}

// benchRow is one world's measurements.
type benchRow struct {
	name     string
	cfg      sim.Config
	r        *run
	f        *figures
	syscalls string // per delivered recipient, or why there is none
}

func runBench(o benchOpts, stdout io.Writer) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, n := range strings.Split(o.worlds, ",") {
		want[strings.TrimSpace(n)] = true
	}
	_, straceErr := exec.LookPath("strace")
	fmt.Fprintf(stdout, "feedbench: smtpfeed %s, logs under %s, -t connect=%v -t race=%v: a dead first MX costs %v\n", o.smtpfeed, o.dir, o.connect, o.race, deadCost(o.connect, o.race))
	var rows []benchRow
	var failed []string
	for _, bw := range benchWorlds(o.seed) {
		if !want[bw.name] {
			continue
		}
		row, err := benchOne(bw, o, straceErr == nil && o.strace)
		if err != nil {
			return fmt.Errorf("world %s: %w", bw.name, err)
		}
		switch {
		case straceErr != nil:
			row.syscalls = "strace not installed"
		case !o.strace:
			row.syscalls = "skipped (-no-strace)"
		}
		fmt.Fprintf(stdout, "world %s: %d recipients, exit %s, %v wall; log %s\n",
			bw.name, row.f.recipients, exitText(row.r), ms(row.r.wall), row.r.logPath)
		if !row.f.ok() || row.r.exitErr != nil || len(row.r.oddities) > 0 {
			failed = append(failed, bw.name)
			var b bytes.Buffer
			printFigures(&b, mustWorld(bw.cfg), row.r, row.f)
			stdout.Write(b.Bytes())
		}
		rows = append(rows, row)
	}
	var md bytes.Buffer
	writeTable(&md, rows, deadCost(o.connect, o.race))
	stdout.Write(md.Bytes())
	if err := os.WriteFile(filepath.Join(o.out, "bench.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and the charts %s\n", filepath.Join(o.out, "bench.md"), filepath.Join(o.out, "bench-<world>.svg"))
	if len(failed) > 0 {
		return fmt.Errorf("smtpfeed's answers do not match the world in: %s", strings.Join(failed, ", "))
	}
	return nil
}

// mustWorld regenerates a world for printing (the run's was closed).
func mustWorld(cfg sim.Config) *sim.World {
	w, err := sim.Generate(cfg)
	if err != nil {
		panic(err)
	}
	return w
}

// benchOne runs one world: the timed run, its chart, then a traced run on
// a fresh copy of the world, since strace slows the child down.
func benchOne(bw benchWorld, o benchOpts, trace bool) (benchRow, error) {
	row := benchRow{name: bw.name, cfg: bw.cfg}
	ro := runOpts{smtpfeed: o.smtpfeed, connect: o.connect, race: o.race, dir: o.dir, name: bw.name, limit: o.limit,
		extra: append(append([]string(nil), o.extra...), bw.extra...)}
	s, err := sim.Start(bw.cfg)
	if err != nil {
		return row, err
	}
	row.r, err = runFeed(s, ro)
	s.Close()
	if err != nil {
		return row, err
	}
	cost := deadCost(o.connect, o.race)
	row.f = measure(s.World, row.r, cost, slices.Contains(bw.extra, "-verp"))
	if err := writeChart(filepath.Join(o.out, "bench-"+bw.name+".svg"), bw.name, row.f, cost); err != nil {
		return row, err
	}
	if !trace {
		return row, nil
	}
	s, err = sim.Start(bw.cfg)
	if err != nil {
		return row, err
	}
	ro.strace, ro.limit = true, 15*time.Minute
	tr, err := runFeed(s, ro)
	s.Close()
	switch {
	case err != nil:
		return row, err
	case tr.exitErr != nil:
		row.syscalls = "strace run failed: " + tr.exitErr.Error()
	case tr.report.Delivered == 0:
		row.syscalls = "nothing delivered under strace"
	default:
		row.syscalls = fmt.Sprintf("%.1f", float64(tr.syscalls)/float64(tr.report.Delivered))
	}
	return row, nil
}

func writeChart(path, name string, f *figures, connect time.Duration) error {
	var b bytes.Buffer
	title := fmt.Sprintf("smtpfeed, world %s: %d recipients, cumulative deliveries", name, f.recipients)
	marks := []marker{{f.bound, fmt.Sprintf("bound %v", f.bound), "firebrick"}}
	if f.deadBound > f.bound {
		marks = append(marks, marker{f.deadBound, fmt.Sprintf("bound + dead host's %v", connect), "darkorange"})
	}
	if err := writeSVG(&b, title, cumulative(f.times, 1000), f.deliveries, marks); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// writeTable writes the markdown table and the targets.
func writeTable(w io.Writer, rows []benchRow, connect time.Duration) {
	fmt.Fprintf(w, "\n| world | rcpts / domains / hosts | answers | first | last | bound | last/bound | last/(bound+%v dead) | conns (live hosts with mail) | txns (ideal) | DNS queries (distinct names) | DNS per name | CPU s | peak RSS MiB | syscalls per delivered | dups |\n", connect)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		f := r.f
		ans := "ok"
		if !f.ok() || r.r.exitErr != nil {
			ans = fmt.Sprintf("MISMATCH (%d unanswered, %d wrong)", len(f.noAnswer), len(f.wrong))
		}
		fmt.Fprintf(w, "| %s | %d / %d / %d | %s | %v | %v | %v | %.2f | %.2f | %d (%d) | %d (%d) | %d (%d) | %.2f | %.2f | %.1f | %s | %d |\n",
			r.name, f.recipients, f.domains, f.hosts, ans, ms(f.first), ms(f.last), f.bound,
			ratio(f.last, f.bound), ratio(f.last, f.deadBound), f.conns, f.hostsUsed, f.txns, f.idealTxns,
			f.dnsTotal, f.dnsNames, float64(f.dnsTotal)/float64(max(1, f.dnsNames)),
			r.r.cpu.Seconds(), float64(r.r.maxRSS)/1024, r.syscalls, f.duplicates)
	}
	fmt.Fprintln(w, "\nTargets:")
	for _, r := range rows {
		f := r.f
		if r.name == "10k" {
			fmt.Fprintf(w, "- time to last delivery within 1.3x the bound at 10,000 recipients: %.2fx against the world's bound (%s);"+
				" %.2fx against the bound plus the %v a dead first MX costs (%s)\n",
				ratio(f.last, f.bound), pass(ratio(f.last, f.bound) <= 1.3), ratio(f.last, f.deadBound), connect,
				pass(ratio(f.last, f.deadBound) <= 1.3))
		}
		if r.name == "10k-barrier" {
			for _, o := range rows {
				if o.name == "10k" {
					fmt.Fprintf(w, "- no global barrier: at 10,000 recipients the first delivery comes at %v and the last at %v; with the original's barrier (-t grace=24h) at %v and %v\n",
						ms(o.f.first), ms(o.f.last), ms(f.first), ms(f.last))
				}
			}
		}
		if r.name == "10k-verp" {
			for _, o := range rows {
				if o.name == "10k" {
					fmt.Fprintf(w, "- VERP at 10,000 recipients: last delivery %v against %v without (%.2fx, %s); %d connections against %d, for %d live hosts with mail; %d transactions against %d\n",
						ms(f.last), ms(o.f.last), ratio(f.last, o.f.last), pass(ratio(f.last, o.f.last) <= 1.5), f.conns, o.f.conns, f.hostsUsed, f.txns, o.f.txns)
				}
			}
		}
		if r.name == "100k" {
			fmt.Fprintf(w, "- under 64 MiB peak RSS at 100,000 recipients: %.1f MiB (%s)\n",
				float64(r.r.maxRSS)/1024, pass(r.r.maxRSS < 64<<10))
		}
		if r.name == "10k-tls" {
			fmt.Fprintf(w, "- 10,000 recipients with STARTTLS on every host: last delivery %.2fx its TLS bound (%s); %.2fx the TLS bound plus the %v a dead first MX costs (%s)\n",
				ratio(f.last, f.bound), pass(ratio(f.last, f.bound) <= 1.3), ratio(f.last, f.deadBound), connect, pass(ratio(f.last, f.deadBound) <= 1.3))
		}
	}
	writeFlowTable(w, rows)
	writeTLSTable(w, rows)
	fmt.Fprintln(w, "\nTimeline, as the world saw it (first-last of each phase, since smtpfeed started): DNS queries arriving, answers leaving, connections accepted, greetings sent, final dots answered:")
	for _, r := range rows {
		fmt.Fprintf(w, "- %s: %s\n", r.name, r.r.report.TimelineText())
	}
	for _, r := range rows {
		f := r.f
		fmt.Fprintf(w, "- %s: %d connections for %d live hosts with mail; one connection for each pipelining host with three transactions' worth or less: %d of %d got more (%s; attempts to the %d dead first MX hosts are not visible to simnet);"+
			" one DNS query per distinct name: %d for %d names, %d repeated (%s)\n",
			r.name, f.conns, f.hostsUsed, f.moreConns, f.oneEnough, pass(f.moreConns == 0), f.deadFirsts,
			f.dnsTotal, f.dnsNames, f.dnsRepeats, pass(f.dnsRepeats == 0))
	}
}

// writeTLSTable sets the TLS world beside the plaintext one of the same
// size, measured in the same run: what TLS costs the loop, the CPU and
// the time to the last delivery.
func writeTLSTable(w io.Writer, rows []benchRow) {
	var plain, tls *benchRow
	for i := range rows {
		switch rows[i].name {
		case "10k":
			plain = &rows[i]
		case "10k-tls":
			tls = &rows[i]
		}
	}
	if tls == nil {
		return
	}
	fmt.Fprintln(w, "\nTLS (handshakes on workers off the loop, records on it):")
	fmt.Fprintln(w, "\n| world | handshakes | worker time per handshake | handshakes/s of worker time | loop CPU per delivered | loop busy (wall) per delivered | longest pass | cores used (CPU/wall) | CPU per delivered | last/bound |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range []*benchRow{plain, tls} {
		if r == nil {
			continue
		}
		d, delivered := r.r.done, max(r.r.report.Delivered, 1)
		perHS, rate := "-", "-"
		if d.handshakes > 0 {
			perHS = fmt.Sprintf("%v", (d.handshakeWorkers / time.Duration(d.handshakes)).Round(time.Microsecond))
			rate = fmt.Sprintf("%.0f", float64(d.handshakes)/d.handshakeWorkers.Seconds())
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %v | %v | %v | %.2f | %v | %.2f |\n", r.name, d.handshakes, perHS, rate,
			(d.loopCPU / time.Duration(delivered)).Round(100*time.Nanosecond),
			(d.loopBusy / time.Duration(delivered)).Round(100*time.Nanosecond), d.pass.Round(10*time.Microsecond),
			r.r.cpu.Seconds()/r.r.wall.Seconds(), (r.r.cpu / time.Duration(delivered)).Round(time.Microsecond), ratio(r.f.last, r.f.bound))
	}
	if plain != nil && tls.r.done.handshakes > 0 {
		extra := tls.r.done.loopCPU - plain.r.done.loopCPU
		fmt.Fprintf(w, "\n- loop CPU per handshake (10k-tls's loop thread CPU minus 10k's, per handshake): %v, against %v of worker time each; longest pass (wall, a loaded machine's preemption included) %v with TLS, %v without\n",
			(extra / time.Duration(tls.r.done.handshakes)).Round(time.Microsecond),
			(tls.r.done.handshakeWorkers / time.Duration(tls.r.done.handshakes)).Round(time.Microsecond),
			tls.r.done.pass.Round(10*time.Microsecond), plain.r.done.pass.Round(10*time.Microsecond))
		fmt.Fprintf(w, "- CPU per delivered recipient: %.2fx with TLS on every host\n",
			(tls.r.cpu.Seconds()/float64(max(tls.r.report.Delivered, 1)))/(plain.r.cpu.Seconds()/float64(max(plain.r.report.Delivered, 1))))
	}
}

func pass(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
