package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// demoConfig is the demo's world: about 2,000 recipients over 1,000
// domains on 300 hosts, 20 ms round trips, with every kind a list meets.
// No silent domains: their lookups would only end at smtpfeed's DNS
// timeout, and the demo should stay well under a minute.
func demoConfig(seed uint64) sim.Config {
	c := sim.DefaultConfig()
	c.Seed, c.Domains, c.Hosts, c.Users = seed, 1000, 300, 2
	c.RTT = 20 * time.Millisecond
	c.Share, c.DeadFirst, c.DeadHosts = 0.1, 0.02, 0.02
	c.NXDomain, c.Silent = 0.01, 0
	c.DeferRcpts, c.BounceRcpts = 0.005, 0.01
	// Most hosts offer STARTTLS, as on the Internet; a few fail the
	// handshake or stop at TLS 1.2.
	c.StartTLS, c.TLSBroken, c.TLS12Only = 0.7, 0.02, 0.05
	return c
}

// runDemo runs smtpfeed once against a world of cfg and prints the
// summary to out; it returns an error when the run does not match the
// world.
func runDemo(cfg sim.Config, o runOpts, out io.Writer) error {
	s, err := sim.Start(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	w := s.World
	fmt.Fprintf(out, "feedbench demo: %s", w.Summary())
	o.name, o.limit = "demo", 2*time.Minute
	connect := deadCost(o.connect, o.race)
	r, err := runFeed(s, o)
	if err != nil {
		return err
	}
	f := measure(w, r, connect, slices.Contains(o.extra, "-verp"))
	fmt.Fprintf(out, "smtpfeed %s\n", strings.Join(r.args, " "))
	fmt.Fprintf(out, "  -t connect=%v -t race=%v: each dead first MX costs %v before the next MX is tried alongside\n", o.connect, o.race, connect)
	fmt.Fprintf(out, "  log (stderr): %s\n", r.logPath)
	fmt.Fprintf(out, "  exit: %s after %v wall, %.2fs CPU (user+sys), peak RSS %.1f MiB\n",
		exitText(r), r.wall.Round(time.Millisecond), r.cpu.Seconds(), float64(r.maxRSS)/1024)
	printFigures(out, w, r, f)
	printTLS(out, r)
	fmt.Fprintf(out, "timeline: %s\n", r.report.TimelineText())
	if !f.ok() || r.exitErr != nil || len(r.oddities) > 0 {
		return errors.New("smtpfeed's answers do not match the world (see above and the log)")
	}
	return nil
}

// printTLS says how the delivered messages travelled, as the world's
// hosts saw them.
func printTLS(out io.Writer, r *run) {
	by := map[string]int{}
	for _, d := range r.report.Deliveries {
		v := d.TLS
		if v == "" {
			v = "plaintext"
		}
		by[v]++
	}
	fmt.Fprintf(out, "TLS: %d recipients delivered over TLS 1.3, %d over TLS 1.2, %d in plaintext; %d handshakes (%v of worker time each)\n",
		by["TLS 1.3"], by["TLS 1.2"], by["plaintext"], r.done.handshakes,
		(r.done.handshakeWorkers / time.Duration(max(r.done.handshakes, 1))).Round(time.Microsecond))
}

func exitText(r *run) string {
	switch {
	case r.killed:
		return "KILLED (hung)"
	case r.exitErr != nil:
		return r.exitErr.Error()
	}
	return "status 0"
}

// printFigures prints the comparison with the world, a few lines.
func printFigures(out io.Writer, w *sim.World, r *run, f *figures) {
	verdict := "OK: every recipient answered once, as the world expects"
	if !f.ok() {
		verdict = fmt.Sprintf("MISMATCH: %d unanswered, %d with another status, %d claimed but not received",
			len(f.noAnswer), len(f.wrong), len(f.claimed))
	}
	fmt.Fprintf(out, "answers: delivered %d (want %d), deferred %d (want %d), bounced %d (want %d)\n  %s\n",
		f.got[sim.Delivered], f.want[sim.Delivered], f.got[sim.Deferred], f.want[sim.Deferred],
		f.got[sim.Bounced], f.want[sim.Bounced], verdict)
	for _, list := range []struct {
		what string
		idx  []int
	}{{"no answer", f.noAnswer}, {"wrong status", f.wrong}, {"claimed", f.claimed}} {
		for _, i := range list.idx[:min(3, len(list.idx))] {
			rc := w.Recipients[i]
			fmt.Fprintf(out, "  %s: %s (%s, expect %s: %s): %s\n", list.what, rc.Addr, rc.Domain.Kind, rc.Expect, rc.Reason, answerText(r.answers[i]))
		}
	}
	for _, o := range r.oddities[:min(3, len(r.oddities))] {
		fmt.Fprintf(out, "  unexpected reply %s\n", o)
	}
	fmt.Fprintf(out, "deliveries: first %v, last %v; world bound %v (last/bound %.2fx)\n",
		ms(f.first), ms(f.last), f.bound, ratio(f.last, f.bound))
	fmt.Fprintf(out, "  without dead-first domains: last %v, bound %v (%.2fx); with the dead host's %v: bound %v (%.2fx)\n",
		ms(f.lastAlive), f.aliveBound, ratio(f.lastAlive, f.aliveBound), deadCost(r.opts.connect, r.opts.race), f.deadBound, ratio(f.last, f.deadBound))
	if rc := f.slowest; rc != nil && f.lastAlive > 2*f.aliveBound {
		fmt.Fprintf(out, "  slowest of those: %s (%s) via %s at %v\n", rc.Addr, rc.Domain.Kind, rc.Host, ms(f.lastAlive))
	}
	fmt.Fprintf(out, "connections: %d for %d live hosts with mail (%d live of %d hosts; one per domain would be %d);"+
		" attempts to %d dead first MX hosts are invisible to simnet\n",
		f.conns, f.hostsUsed, f.liveHosts, f.hosts, f.domains, f.deadFirsts)
	fmt.Fprintf(out, "transactions: %d, ideal %d (per host, 100 recipients or the host's limit each; one per domain would be %d)\n",
		f.txns, f.idealTxns, f.domains)
	fmt.Fprintf(out, "DNS queries: %d for %d distinct names (%.2f per name, %d domains), %d repeated\n",
		f.dnsTotal, f.dnsNames, float64(f.dnsTotal)/float64(max(1, f.dnsNames)), f.domains, f.dnsRepeats)
	if len(f.repeated) > 0 {
		var qs []string
		for _, q := range f.repeated[:min(4, len(f.repeated))] {
			qs = append(qs, fmt.Sprintf("%s/%s/%s x%d", q.Name, q.Type, q.Transport, q.Count))
		}
		fmt.Fprintf(out, "  repeated: %s\n", strings.Join(qs, ", "))
	}
	fmt.Fprintf(out, "duplicates: %d (must be 0)\n", f.duplicates)
	fmt.Fprintln(out, "sample answers:")
	for _, p := range []struct {
		label string
		pick  func(*sim.Recipient) bool
	}{
		{"delivered", func(rc *sim.Recipient) bool { return rc.Expect == sim.Delivered }},
		{"bounced", func(rc *sim.Recipient) bool { return strings.HasPrefix(rc.Addr, "bounce-") }},
		{"deferred", func(rc *sim.Recipient) bool { return strings.HasPrefix(rc.Addr, "defer-") }},
		{"unknown domain", func(rc *sim.Recipient) bool { return rc.Domain.Kind == sim.KindNXDomain }},
	} {
		for i, rc := range w.Recipients {
			if p.pick(rc) {
				fmt.Fprintf(out, "  %-14s %s: %s\n", p.label, rc.Addr, answerText(r.answers[i]))
				break
			}
		}
	}
}

func answerText(a *reply) string {
	if a == nil {
		return "(no answer)"
	}
	return a.text
}

// ms rounds a duration for display.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
