package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// burstSlack is how long after a 421 a connect of the same burst, issued
// before smtpfeed read it, may still reach the host.
const burstSlack = 50 * time.Millisecond

// minBackoff is the shortest back-off smtpfeed takes after a throttle:
// its default 1 s, less the jitter's quarter.
const minBackoff = 750 * time.Millisecond

// writeFlowTable reports the worlds where concurrency per host matters:
// the lock-step host beside the pipelining one, and the real list with
// its throttling providers, all from simnet's report.
func writeFlowTable(w io.Writer, rows []benchRow) {
	byName := map[string]*benchRow{}
	for i := range rows {
		byName[rows[i].name] = &rows[i]
	}
	if p, l := byName["200-pipelined"], byName["200-lockstep"]; p != nil && l != nil {
		fmt.Fprintf(w, "\n- a host without PIPELINING, 200 recipients: last delivery %v over %d connections, against %v over %d with PIPELINING in the same run: %.2fx (target 1.5x: %s)\n",
			ms(l.f.last), l.f.conns, ms(p.f.last), p.f.conns, ratio(l.f.last, p.f.last), pass(ratio(l.f.last, p.f.last) <= 1.5))
	}
	r := byName["real-list"]
	if r == nil {
		return
	}
	rep := &r.r.report
	fmt.Fprintf(w, "\nReal list (%d recipients, %d%% at throttling providers): last delivery %.2fx the bound, which allows for the providers' recipient rates (target 2x: %s); %d recipients deferred back to the MTA (the world expects %d)\n",
		r.f.recipients, providerShare(r), ratio(r.f.last, r.f.bound), pass(ratio(r.f.last, r.f.bound) <= 2),
		r.f.got[sim.Deferred], r.f.want[sim.Deferred])
	fmt.Fprintln(w, "\n| provider | hosts | connections | peak sessions on one host (its limit) | 421 too many connections | 421 too many messages | 450 rate limited | reconnects within the back-off |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	violations := map[string]int{}
	for _, v := range rep.ConnectsWithin(minBackoff) {
		if v.Connect-v.Sent421 > burstSlack {
			violations[providerOf(v.Host)]++
		}
	}
	type sums struct{ hosts, conns, peak, conns421, msgs421, rate450 int }
	per := map[string]*sums{}
	for name, hc := range rep.Hosts {
		p := providerOf(name)
		if !hc.Throttled || p == "" {
			continue
		}
		s := per[p]
		if s == nil {
			s = &sums{}
			per[p] = s
		}
		s.hosts++
		s.conns += hc.Connections
		s.peak = max(s.peak, hc.PeakSessions)
		s.conns421 += hc.TooManyConns
		s.msgs421 += hc.TooManyMsgs
		s.rate450 += hc.RateLimited
	}
	for _, name := range slices.Sorted(maps.Keys(per)) {
		s := per[name]
		fmt.Fprintf(w, "| %s | %d | %d | %d (%d) | %d | %d | %d | %d |\n", name, s.hosts, s.conns, s.peak,
			r.cfg.ProviderMaxConns, s.conns421, s.msgs421, s.rate450, violations[name])
	}
}

// providerOf is the provider domain of a provider host's name
// (mx1.p2.test: p2.test), "" for another host.
func providerOf(host string) string {
	_, rest, ok := strings.Cut(host, ".")
	if !ok || !strings.HasPrefix(rest, "p") {
		return ""
	}
	return rest
}

// providerShare is the share of the list at provider domains, in percent.
func providerShare(r *benchRow) int {
	return int(r.cfg.ProviderShare*100 + 0.5)
}
