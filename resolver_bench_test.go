package smtpfeed

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rusageThread is Linux's RUSAGE_THREAD, which syscall does not name.
const rusageThread = 1

// threadCPU is the CPU time of the calling thread (Linux only; 0 and
// false elsewhere). With the goroutine locked to its thread it is the
// loop's own CPU, syscalls included: not the simulated server's, nor the
// garbage collector's background workers.
func threadCPU() (time.Duration, bool) {
	if runtime.GOOS != "linux" {
		return 0, false
	}
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// BenchmarkResolveSim resolves 10,000 domains over the simulated DNS with
// a 50 ms delay on every query, the server in this process
// (in-process) and in a simnet process of its own (simnet-process: its
// goroutines and garbage are then not this process's, though it still
// shares the 2 cores). It reports:
//
//   - elapsed/bound: the bound is the delay times the longest chain of
//     queries that must be asked in turn;
//   - loop-cpu/bound: the loop thread's own CPU over the same bound, the
//     floor of elapsed/bound for a loop on one thread however fast the
//     server and the window (Linux only). The simulated server shares the
//     machine's cores (about 25 us of CPU a query); this figure leaves its
//     cost out, elapsed/bound does not;
//   - queries/name: queries the server saw per distinct (name, type),
//     where a truncated answer's TCP query counts as a second one;
//   - repeats/question: queries beyond one per (name, type, transport),
//     retransmissions only: 0 without loss;
//   - CPU per 1,000 domains, this process's (in-process: the server's
//     included).
func BenchmarkResolveSim(b *testing.B) {
	const delay = 50 * time.Millisecond
	cfg := sim.Config{Seed: 5, Domains: 10000, Hosts: 1000, Users: 1, Share: 0.2, SecondMX: 0.5,
		Implicit: 0.02, CNAME: 0.02, NullMX: 0.01, NXDomain: 0.01, Truncate: 0.02, DNSDelay: delay}
	b.Run("in-process", func(b *testing.B) {
		s := startSim(b, cfg)
		resolveSim(b, s.World, s.DNSAddr(), s.Report)
	})
	var addr netip.AddrPort // the process is started once, for every run of the sub-benchmark
	var report func() sim.Report
	parent := b
	b.Run("simnet-process", func(b *testing.B) {
		w, err := sim.Generate(cfg)
		if err != nil {
			b.Fatalf("sim.Generate: %v", err)
		}
		if report == nil {
			addr, report = simnetProcess(parent, cfg)
		}
		resolveSim(b, w, addr, report)
	})
}

func resolveSim(b *testing.B, w *sim.World, addr netip.AddrPort, report func() sim.Report) {
	delay := w.Config.DNSDelay
	var bound time.Duration
	for _, d := range w.Domains {
		chain := 1
		switch d.Kind {
		case sim.KindImplicit, sim.KindTruncate:
			chain = 2
		}
		bound = max(bound, time.Duration(chain)*delay)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ratio, loopRatio, perName, repeats, cpu float64
	for i := 0; i < b.N; i++ {
		h := newHarness(b, nil, ResolverConfig{Servers: []netip.AddrPort{addr}, IPv4Only: true, Timeout: 20 * time.Second})
		before := report()
		l0, _ := threadCPU()
		c0, t0 := cpuTime(), time.Now()
		h.lookupAll(domainNames(w), 60*time.Second, 0)
		elapsed, used := time.Since(t0), cpuTime()-c0
		l1, haveLoop := threadCPU()
		after := report()
		counts := map[string]int{}
		for _, c := range before.DNSQueries {
			counts[c.Name+" "+c.Type+" "+c.Transport] -= c.Count
		}
		names, keys := map[string]bool{}, 0
		for _, c := range after.DNSQueries {
			names[c.Name+" "+c.Type] = true
			if counts[c.Name+" "+c.Type+" "+c.Transport]+c.Count > 0 {
				keys++
			}
		}
		if d := after.DNSDropped - before.DNSDropped; d != 0 {
			b.Logf("%d queries dropped", d)
		}
		total := after.DNSQueriesTotal - before.DNSQueriesTotal
		ratio += float64(elapsed) / float64(bound)
		if haveLoop {
			loopRatio += float64(l1-l0) / float64(bound)
		}
		perName += float64(total) / float64(len(names))
		repeats += float64(total-keys) / float64(keys)
		cpu += float64(used) / float64(time.Millisecond) / float64(len(w.Domains)/1000)
	}
	b.ReportMetric(ratio/float64(b.N), "elapsed/bound")
	b.ReportMetric(loopRatio/float64(b.N), "loop-cpu/bound")
	b.ReportMetric(perName/float64(b.N), "queries/name")
	b.ReportMetric(repeats/float64(b.N), "repeats/question")
	b.ReportMetric(cpu/float64(b.N), "cpu-ms/1000domains")
}

// simnetProcess builds cmd/simnet and serves cfg's world from a process
// of its own (the same world: generation depends on the Config alone).
// report asks it for its report (SIGUSR1) and reads the file.
func simnetProcess(b testing.TB, cfg sim.Config) (netip.AddrPort, func() sim.Report) {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "simnet")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/simnet").CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/simnet: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "report.json")
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	args := []string{"-dns", "127.0.0.1:0", "-smtp-port", "0", "-report", file,
		"-seed", fmt.Sprint(cfg.Seed), "-domains", fmt.Sprint(cfg.Domains), "-hosts", fmt.Sprint(cfg.Hosts),
		"-users", fmt.Sprint(cfg.Users), "-dns-delay", cfg.DNSDelay.String(),
		"-share", f(cfg.Share), "-second-mx", f(cfg.SecondMX), "-implicit", f(cfg.Implicit), "-cname", f(cfg.CNAME),
		"-null-mx", f(cfg.NullMX), "-nxdomain", f(cfg.NXDomain), "-truncate", f(cfg.Truncate), "-silent", f(cfg.Silent),
		"-dead-first", f(cfg.DeadFirst), "-refuse-first", f(cfg.RefuseFirst), "-crossed", f(cfg.Crossed),
		"-dead-hosts", f(cfg.DeadHosts), "-refuse-hosts", f(cfg.RefuseHosts)}
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatalf("simnet: %v", err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("simnet: %v", err)
	}
	b.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("simnet: no ready line: %v", err)
	}
	var addr netip.AddrPort
	for _, field := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(field, "dns="); ok {
			addr, err = netip.ParseAddrPort(v)
		}
	}
	if !addr.IsValid() || err != nil || !strings.Contains(line, fmt.Sprintf(" domains=%d ", cfg.Domains)) {
		b.Fatalf("simnet ready line %q: want dns= and domains=%d", line, cfg.Domains)
	}
	report := func() sim.Report {
		os.Remove(file)
		cmd.Process.Signal(syscall.SIGUSR1)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			var r sim.Report
			if data, err := os.ReadFile(file); err == nil && json.Unmarshal(data, &r) == nil {
				return r
			}
		}
		b.Fatalf("simnet wrote no report to %s", file)
		return sim.Report{}
	}
	return addr, report
}

// BenchmarkResolveLoss resolves 10,000 domains at 50 ms per query from
// two simulated worlds side by side, alternating: one whose server drops
// half the UDP queries beyond 200 per 10 ms (sim's DropBurst, a resolver
// whose socket buffer overflows), one that drops nothing. It reports the
// lossy time over the loss-free one (target: under 1.5). The knob admits
// 20,000 queries a second unharmed: paced under it, 10,000 take at least
// 500 ms plus the 50 ms delay, while the loss-free run is bound by the CPU
// of the 2 cores (380-440 ms), so the ratio cannot fall below about 1.3
// without overrunning the server, and the ramp to its rate and the
// retransmission timeout of the last drops add to that.
func BenchmarkResolveLoss(b *testing.B) {
	cfg := sim.Config{Seed: 8, Domains: 10000, Hosts: 1000, Users: 1, SecondMX: 0.5, DNSDelay: 50 * time.Millisecond}
	free := startSim(b, cfg)
	cfg.BurstLimit, cfg.BurstWindow, cfg.BurstDropShare = 200, 10*time.Millisecond, 0.5
	lossy := startSim(b, cfg)
	run := func(s *sim.Sim) time.Duration {
		h := newHarness(b, nil, ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, IPv4Only: true, Timeout: 20 * time.Second})
		t0 := time.Now()
		h.lookupAll(domainNames(s.World), 60*time.Second, 0)
		return time.Since(t0)
	}
	var lost, clean time.Duration
	for i := 0; i < b.N; i++ {
		lost += run(lossy)
		clean += run(free)
	}
	b.ReportMetric(float64(lost)/float64(clean), "loss/lossfree")
	b.ReportMetric(float64(lost.Milliseconds())/float64(b.N), "lossy-ms")
	b.ReportMetric(float64(clean.Milliseconds())/float64(b.N), "lossfree-ms")
	b.ReportMetric(float64(lossy.Report().DNSDropped)/float64(b.N), "dropped")
}

// BenchmarkResolveCap measures the window's ceiling against the simulated
// server without delay: datagrams sent per question show drops, time
// shows the cost.
func BenchmarkResolveCap(b *testing.B) {
	cfg := sim.Config{Seed: 6, Domains: 10000, Hosts: 1000, Users: 1, SecondMX: 0.5}
	s := startSim(b, cfg)
	for _, limit := range []int{64, 256, 1024, 10000} {
		b.Run(fmt.Sprint(limit), func(b *testing.B) {
			var sent, elapsed float64
			for i := 0; i < b.N; i++ {
				h := newHarness(b, nil, ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, IPv4Only: true, MaxOutstanding: limit, Timeout: 20 * time.Second})
				t0 := time.Now()
				h.lookupAll(domainNames(s.World), 60*time.Second, 0)
				elapsed += float64(time.Since(t0).Milliseconds())
				st := h.r.Stats()
				sent += float64(st.UDPSent) / float64(st.Queries)
			}
			b.ReportMetric(sent/float64(b.N), "sent/question")
			b.ReportMetric(elapsed/float64(b.N), "ms")
		})
	}
}
