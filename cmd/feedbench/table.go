package main

import (
	"fmt"
	"io"
	"time"
)

// writeTable writes the markdown table, which bound each ratio uses, the
// runs' ranges, the targets and the timelines; cost is what a dead first
// MX costs at best (deadCost); peer and connect describe the Postfix runs.
func writeTable(w io.Writer, rows []benchRow, cost time.Duration, peer peerInfo, connect time.Duration) {
	fmt.Fprintf(w, "\n| world | rcpts / domains / hosts | answers | first | last | bound | last/bound | last/(bound+%v dead) | last/RFC bound | conns (live hosts with mail) | txns (ideal) | txns on pipelining hosts (ideal) | DNS queries (distinct names) | DNS per name | CPU s | CPU µs per delivered (sys) | world CPU s | peak RSS MiB | syscalls per delivered | dups |\n", cost)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		f := r.f
		ans := "ok"
		if !f.ok() || r.r.exitErr != nil {
			ans = fmt.Sprintf("MISMATCH (%d unanswered, %d wrong)", len(f.noAnswer), len(f.wrong))
		}
		fmt.Fprintf(w, "| %s | %d / %d / %d | %s | %v | %v | %v | %.2f | %.2f | %.2f | %d (%d) | %d (%d) | %d (%d) | %d (%d) | %.2f | %.2f | %.1f (%.1f) | %.2f | %.1f | %s | %d |\n",
			r.name, f.recipients, f.domains, f.hosts, ans, ms(f.first), ms(f.last), f.bound,
			ratio(f.last, f.bound), ratio(f.last, f.deadBound), ratio(f.last, f.rfcBound()), f.conns, f.hostsUsed, f.txns, f.idealTxns,
			f.pipeTxns, f.idealPipeTxns, f.dnsTotal, f.dnsNames, float64(f.dnsTotal)/float64(max(1, f.dnsNames)),
			r.r.cpu.Seconds(), r.r.cpuPerDelivered(), r.r.sysPerDelivered(), r.r.worldCPU.Seconds(), float64(r.r.maxRSS)/1024, r.syscalls, f.duplicates)
	}
	writeBounds(w, rows, cost)
	writeRanges(w, rows)
	writePeerTable(w, rows, peer, connect)
	writeTargets(w, rows, cost)
	writeFlowTable(w, rows)
	writeTLSTable(w, rows)
	fmt.Fprintln(w, "\nTimeline, as the world saw it (first-last of each phase, since smtpfeed started): DNS queries arriving, answers leaving, connections accepted, greetings sent, final dots answered:")
	for _, r := range rows {
		fmt.Fprintf(w, "- %s: %s\n", r.name, r.r.report.TimelineText())
	}
	for _, r := range rows {
		f := r.f
		fmt.Fprintf(w, "- %s: %d connections for %d live hosts with mail; one connection for each pipelining host with three transactions' worth or less: %d of %d got more (%s; attempts to the %d dead first MX hosts are not visible to simnet);"+
			" one DNS query per distinct name: %d for %d names, %d repeated (%s)%s\n",
			r.name, f.conns, f.hostsUsed, f.moreConns, f.oneEnough, pass(f.moreConns == 0), f.deadFirsts,
			f.dnsTotal, f.dnsNames, f.dnsRepeats, pass(f.dnsRepeats == 0), silentNote(f))
	}
}

// writeBounds says which bound each ratio divides by, in the words of
// simnet's bound.go, so that no ratio is read against an omniscient
// client.
func writeBounds(w io.Writer, rows []benchRow, cost time.Duration) {
	fmt.Fprintf(w, "\nBounds. \"bound\" is the world's lower bound (simnet's bound.go): for each recipient to be delivered, the earliest moment,"+
		" from smtpfeed's start, at which any client could have the message accepted given the world's round trips: the MX lookup"+
		" (a second query for a truncated answer or an implicit MX), then 4 round trips of SMTP with PIPELINING, 6 without, 3 more for STARTTLS"+
		" (4 at TLS 1.2), at the preferred live MX host, which RFC 5321 §5.1 says is tried first (never a less preferred host that happens to answer faster);"+
		" parallelism unlimited, a throttling provider's recipient rate included. last/bound uses it as is, which sends a dead first MX's recipients straight to their second host."+
		" last/(bound+%v dead) adds, for those recipients, what a client that tries the preferred host first pays at best before it tries the next one"+
		" alongside: the race delay's floor of %v, where it settles once the connects have shown loopback's round trips."+
		" The targets use that column for worlds with dead first MX hosts."+
		" last/RFC bound is the bound of a client that also sends a host's transactions one after another on one connection, as RFC 5321 and the paper"+
		" have a list split at 100 recipients go (up to three transactions' worth; more open more connections): each transaction after the first costs the"+
		" host's round trip, its MAIL riding the previous final dot; where it is above the other, the latency targets use it.", cost, cost)
	for _, r := range rows {
		if r.f.silentDomains > 0 {
			fmt.Fprintf(w, " In %s the ratio is over the domains that answer: the %d silent domains' recipients are deferred once their lookup times out and are in no bound.",
				r.name, r.f.silentDomains)
		}
	}
	fmt.Fprintln(w)
}

// writeRanges gives, for each world run more than once, the range over
// its runs of what varies run to run; the table shows the median run.
func writeRanges(w io.Writer, rows []benchRow) {
	header := false
	for _, r := range rows {
		if len(r.runs) < 2 {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\nRuns (the table shows each world's median run by last delivery; the range over all its runs):")
			header = true
		}
		last := spanOf(r.runs, func(b benchRun) float64 { return float64(ms(b.f.last)) })
		txns := spanOf(r.runs, func(b benchRun) float64 { return float64(b.f.txns) })
		pipe := spanOf(r.runs, func(b benchRun) float64 { return float64(b.f.pipeTxns) })
		dns := spanOf(r.runs, func(b benchRun) float64 { return float64(b.f.dnsRepeats) })
		cpu := spanOf(r.runs, func(b benchRun) float64 { return b.r.cpuPerDelivered() })
		fmt.Fprintf(w, "- %s, %d runs (median: run %d): last delivery %v-%v, transactions %.0f-%.0f (ideal %d), on pipelining hosts %.0f-%.0f (ideal %d), repeated DNS queries %.0f-%.0f, CPU µs per delivered %.1f-%.1f\n",
			r.name, len(r.runs), r.median+1, time.Duration(last[0]), time.Duration(last[1]), txns[0], txns[1], r.f.idealTxns,
			pipe[0], pipe[1], r.f.idealPipeTxns, dns[0], dns[1], cpu[0], cpu[1])
	}
}

// spanOf is the least and the greatest of v over runs (at least one).
func spanOf[T any](runs []T, v func(T) float64) [2]float64 {
	lo, hi := v(runs[0]), v(runs[0])
	for _, b := range runs[1:] {
		lo, hi = min(lo, v(b)), max(hi, v(b))
	}
	return [2]float64{lo, hi}
}

// silentNote counts the retries of queries never answered, apart from
// the repeats.
func silentNote(f *figures) string {
	if f.silentDomains == 0 {
		return ""
	}
	return fmt.Sprintf("; besides, %d retries of the %d silent domains' unanswered queries", f.silentRetries, f.silentDomains)
}
