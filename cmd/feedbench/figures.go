package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// figures are the measurements of one run, set against the world.
type figures struct {
	recipients, domains, hosts, liveHosts int

	got, want map[sim.Outcome]int
	noAnswer  []int // recipient indexes without an answer
	wrong     []int // answered with another status than the world expects
	// claimed are recipients answered 2xx that no host received.
	claimed []int

	first, last time.Duration // deliveries, since MarkStart
	bound       time.Duration // the world's MaxBound
	// deadBound is the bound with the connect timeout added for domains
	// whose first MX is dead: what a client that must wait for a dead host
	// before it may try the next one could reach at best.
	deadBound time.Duration
	// lastAlive is the last delivery to a domain that answers DNS and
	// whose first MX is not dead: what neither a dead host nor a silent
	// name server may hold up.
	lastAlive time.Duration
	// aliveBound is the bound over those same domains.
	aliveBound time.Duration
	// serialBound is deadBound for a client that sends each host's
	// transactions one after another on one connection, as RFC 5321 and
	// the paper have a split list go (up to three transactions' worth,
	// smtpfeed's one-connection rule): each transaction after the first
	// costs one more round trip, its MAIL riding the previous final dot.
	serialBound time.Duration

	conns, txns           int
	hostsUsed, deadFirsts int // live hosts that should receive mail; dead first MX hosts
	idealTxns             int // one per used host per transaction limit (with VERP, one per recipient)
	// pipeTxns are the transactions on hosts with PIPELINING,
	// idealPipeTxns their ideal: a lock-step host is spread over
	// connections on purpose, a transaction each, so only these show
	// the grouping itself.
	pipeTxns, idealPipeTxns int
	// silentDomains are the domains whose DNS never answers;
	// silentRcpts their recipients, silentDeferred those answered 4xx.
	silentDomains, silentRcpts, silentDeferred int
	// oneEnough counts the pipelining hosts with work enough for one
	// connection (three transactions' worth at most; with VERP, whose
	// recipients cost a round trip each, 16 recipients, smtpfeed's
	// growAtLockstep), moreConns those of them that got more than one.
	oneEnough, moreConns int

	dnsTotal, dnsNames, dnsRepeats int
	repeated                       []sim.DNSCount // (name, type, transport) asked more than once
	// silentRetries are the queries for silent domains' names beyond
	// the first: a resolver retrying a query never answered does right,
	// so they are not in dnsRepeats.
	silentRetries int

	// slowest is the last recipient delivered among domains without a
	// dead first MX, nil when there is none.
	slowest *sim.Recipient

	duplicates int
	deliveries int
	times      []time.Duration // every delivery, sorted
}

// ok says whether the run matched the world.
// rfcBound is the bound the latency targets use: the larger of the
// bound with a dead first MX's cost and the serial bound (column
// last/RFC bound).
func (f *figures) rfcBound() time.Duration { return max(f.serialBound, f.deadBound) }

func (f *figures) ok() bool {
	return len(f.noAnswer) == 0 && len(f.wrong) == 0 && len(f.claimed) == 0 && f.duplicates == 0
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// measure computes the figures of run r against world w; connect is what
// a dead host costs; verp says each recipient had a transaction of its
// own.
func measure(w *sim.World, r *run, connect time.Duration, verp bool) *figures {
	rep := &r.report
	f := &figures{
		recipients: len(w.Recipients), domains: len(w.Domains), hosts: len(w.Hosts),
		liveHosts: len(w.HostsOf(sim.HostLive)),
		got:       map[sim.Outcome]int{}, want: w.Expected(),
		bound: w.MaxBound(), conns: rep.Connections, txns: rep.Transactions,
		duplicates: len(rep.Duplicates), deliveries: len(rep.Deliveries),
	}
	delivered := map[string]time.Duration{}
	for _, d := range rep.Deliveries {
		a := strings.ToLower(d.Rcpt)
		if t, seen := delivered[a]; !seen || d.At < t {
			delivered[a] = d.At
		}
		f.times = append(f.times, d.At)
	}
	slices.Sort(f.times)
	if len(f.times) > 0 {
		f.first, f.last = f.times[0], f.times[len(f.times)-1]
	}
	perHost := map[*sim.Host]int{}
	deadHosts := map[*sim.Host]bool{}
	for i, rc := range w.Recipients {
		a := r.answers[i]
		switch {
		case a == nil:
			f.noAnswer = append(f.noAnswer, i)
		case a.class() != rc.Expect:
			f.wrong = append(f.wrong, i)
		}
		if rc.Domain.Kind == sim.KindSilent {
			f.silentRcpts++
			if a != nil && a.class() == sim.Deferred {
				f.silentDeferred++
			}
		}
		if a != nil {
			f.got[a.class()]++
			if _, ok := delivered[strings.ToLower(rc.Addr)]; a.class() == sim.Delivered && !ok {
				f.claimed = append(f.claimed, i)
			}
		}
		// The host smtpfeed talks to for it, whatever its verdict: the
		// first live MX (for a dead or refusing first MX the second one;
		// for an implicit MX the domain's own address).
		if h := firstLive(rc.Domain); h != nil {
			perHost[h]++
		}
		// A silent domain's recipients are expected deferred: out of
		// every bound, and of the alive set with them.
		if rc.Expect != sim.Delivered || rc.Domain.Kind == sim.KindSilent {
			continue
		}
		b := rc.Bound
		if rc.Domain.Kind == sim.KindDeadFirst {
			b += connect
			deadHosts[rc.Domain.MX[0].Host] = true
		} else {
			f.aliveBound = max(f.aliveBound, rc.Bound)
			if t := delivered[strings.ToLower(rc.Addr)]; t > f.lastAlive || f.slowest == nil {
				f.lastAlive, f.slowest = max(t, f.lastAlive), rc
			}
		}
		f.deadBound = max(f.deadBound, b)
	}
	f.hostsUsed, f.deadFirsts = len(perHost), len(deadHosts)
	for h, n := range perHost {
		limit := txnLimit(h)
		enough := 3 * limit
		if verp {
			limit, enough = 1, 16
		}
		ideal := (n + limit - 1) / limit
		f.idealTxns += ideal
		if h.Pipelining {
			f.idealPipeTxns += ideal
		}
		if h.Pipelining && n <= enough {
			f.oneEnough++
			if rep.ConnectionsPerHost[h.Name] > 1 {
				f.moreConns++
			}
		}
	}
	if !verp {
		for _, rc := range w.Recipients {
			if rc.Expect != sim.Delivered || rc.Domain.Kind == sim.KindSilent {
				continue
			}
			b := rc.Bound
			if rc.Domain.Kind == sim.KindDeadFirst {
				b += connect
			}
			if h := firstLive(rc.Domain); h != nil {
				limit := txnLimit(h)
				k := (perHost[h] + limit - 1) / limit
				b += time.Duration(min(k, 3)-1) * h.RTT
			}
			f.serialBound = max(f.serialBound, b)
		}
	}
	// Every pipelining host's transactions, also those smtpfeed sent to
	// a host other than the first live one (a race won by a second MX).
	for _, h := range w.Hosts {
		if h.Kind == sim.HostLive && h.Pipelining {
			f.pipeTxns += rep.TransactionsPerHost[h.Name]
		}
	}
	silent := map[string]bool{}
	for _, d := range w.Domains {
		if d.Kind == sim.KindSilent {
			f.silentDomains++
			silent[d.Name] = true
		}
	}
	names := map[string]bool{}
	for _, q := range rep.DNSQueries {
		names[q.Name] = true
		if silent[q.Name] {
			f.silentRetries += q.Count - 1
			continue
		}
		f.dnsRepeats += q.Count - 1
		if q.Count > 1 {
			f.repeated = append(f.repeated, q)
		}
	}
	f.dnsTotal, f.dnsNames = rep.DNSQueriesTotal, len(names)
	return f
}

// straceCalls reads the total number of calls from strace -c output.
func straceCalls(path string) (int, error) {
	fl, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fl.Close()
	sc := bufio.NewScanner(fl)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// "100.00 0.012345 1 12345 [errors] total"
		if len(fs) >= 5 && fs[len(fs)-1] == "total" {
			n, err := strconv.Atoi(fs[3])
			if err != nil {
				return 0, fmt.Errorf("strace summary %s: %q", path, sc.Text())
			}
			return n, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("strace summary %s: no total line", path)
}

// firstLive is the first live host among a domain's mail hosts, nil when
// none (unknown domain, null MX, every host dead).
func firstLive(d *sim.Domain) *sim.Host {
	for _, h := range d.MXHosts() {
		if h.Kind == sim.HostLive {
			return h
		}
	}
	return nil
}

// txnLimit is how many recipients one transaction to h carries:
// smtpfeed's default -R, or less where the host limits recipients.
func txnLimit(h *sim.Host) int {
	if h.RcptLimit > 0 {
		return min(100, h.RcptLimit)
	}
	return 100
}
