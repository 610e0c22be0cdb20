package main

import (
	"fmt"
	"io"
	"time"
)

// peerInfo is the Postfix peer on this machine: its version, or why it
// cannot run.
type peerInfo struct {
	version, why string
}

// writePeerTable sets Postfix's runs beside smtpfeed's, world by world,
// each against the RFC bound the latency targets use (the larger of
// last/(bound+dead) and last/RFC bound's).
func writePeerTable(w io.Writer, rows []benchRow, peer peerInfo, connect time.Duration) {
	ran := false
	for _, r := range rows {
		ran = ran || r.peer != nil
	}
	if !ran {
		if peer.why != "" {
			fmt.Fprintf(w, "\nPostfix, same run: not run (%s).\n", peer.why)
		}
		return
	}
	fmt.Fprintf(w, "\nPostfix, same run: Postfix %s's own SMTP client delivers the same world (the list handed to it over SMTP on loopback, pipelined,"+
		" as a list server hands it), each run in network, mount and PID namespaces of its own so that the world's name server is on port 53 and its hosts on port 25."+
		" Postfix keeps its package defaults (process, concurrency and per-delivery recipient limits, connection cache) but for smtp_connect_timeout = %v, smtpfeed's -t connect."+
		" Its times run from the submission's first byte, smtpfeed's from its start; both are the world's own stamps of the final dot's 250."+
		" RFC bound is the bound the latency targets use (the larger of bound+dead and the RFC bound above).\n\n", peer.version, connect)
	fmt.Fprintln(w, "| world | rcpts / domains / hosts | RFC bound | smtpfeed last (×bound) | Postfix last (×bound) | Postfix/smtpfeed | Postfix delivered (expected) | Postfix conns | Postfix txns | Postfix DNS queries | Postfix submission |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		if r.peer == nil {
			continue
		}
		f := r.f
		bound := f.rfcBound()
		feed := fmt.Sprintf("%v (%.2f)", ms(f.last), ratio(f.last, bound))
		p := r.peer.res
		if p == nil {
			fmt.Fprintf(w, "| %s | %d / %d / %d | %v | %s | failed: %s | - | - | - | - | - | - |\n",
				r.name, f.recipients, f.domains, f.hosts, bound, feed, r.peer.why)
			continue
		}
		last := fmt.Sprintf("%v (%.2f)", ms(p.Last), ratio(p.Last, bound))
		if p.Missing > 0 {
			last = fmt.Sprintf("> %v: %d missing", postfixLimit, p.Missing)
		}
		fmt.Fprintf(w, "| %s | %d / %d / %d | %v | %s | %s | %.1f | %d (%d)%s | %d | %d | %d | %v |\n",
			r.name, f.recipients, f.domains, f.hosts, bound, feed, last, ratio(p.Last, f.last),
			p.Delivered, p.Expected, peerFaults(p), p.Connections, p.Transactions, p.DNSQueries, ms(p.Submit))
	}
	writePeerRanges(w, rows)
	for _, r := range rows {
		if r.peer != nil && r.peer.res != nil {
			fmt.Fprintf(w, "- %s, Postfix's timeline since the submission: %s\n", r.name, r.peer.res.Timeline)
		}
	}
}

// peerFaults names what a Postfix run got wrong: recipients delivered
// that the world refuses, and duplicates.
func peerFaults(p *peerResult) string {
	s := ""
	if p.Wrong > 0 {
		s += fmt.Sprintf(", %d wrong", p.Wrong)
	}
	if p.Duplicates > 0 {
		s += fmt.Sprintf(", %d duplicated", p.Duplicates)
	}
	return s
}

// writePeerRanges gives the range of Postfix's last delivery over its
// runs, for worlds run more than once.
func writePeerRanges(w io.Writer, rows []benchRow) {
	for _, r := range rows {
		if r.peer == nil || len(r.peer.runs) < 2 {
			continue
		}
		last := spanOf(r.peer.runs, func(p peerResult) float64 { return float64(p.Last) })
		fmt.Fprintf(w, "- %s, Postfix over %d runs: last delivery %v-%v\n", r.name, len(r.peer.runs), ms(time.Duration(last[0])), ms(time.Duration(last[1])))
	}
}
