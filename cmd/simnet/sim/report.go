package sim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Delivery is one recipient accepted in one transaction (the 250 to the
// final dot).
type Delivery struct {
	Rcpt string `json:"rcpt"`
	From string `json:"from"`
	Host string `json:"host"`
	// At is the time since the origin (Start, or the last MarkStart).
	At   time.Duration `json:"at_ns"`
	Conn uint64        `json:"conn"` // connection id, unique in the world
	Txn  int           `json:"txn"`  // number of the MAIL within the connection, from 1
	Hash string        `json:"sha256"`
	TLS  string        `json:"tls,omitempty"` // the TLS version it came under; "" in plaintext
	// Addr is the host's address the connection came in on: which of a
	// provider's addresses, which family of a dual-stack host's.
	Addr netip.Addr `json:"addr"`
	// MailParams and RcptParams are the parameters of the transaction's
	// MAIL and of this recipient's RCPT, as received: what a host
	// offering DSN was sent (RET, ENVID; NOTIFY, ORCPT).
	MailParams string `json:"mail_params,omitempty"`
	RcptParams string `json:"rcpt_params,omitempty"`
}

// DNSCount is the number of queries for one name, type and transport.
type DNSCount struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Transport string `json:"transport"`
	Count     int    `json:"count"`
}

// Duplicate is a recipient that got the same message more than once.
type Duplicate struct {
	Rcpt  string `json:"rcpt"`
	Hash  string `json:"sha256"`
	Count int    `json:"count"`
}

// Phase is one step of every delivery, as the world saw it happen:
// when it first and last happened, since the origin.
type Phase struct {
	Name  string        `json:"name"`
	Count int           `json:"count"`
	First time.Duration `json:"first_ns"`
	Last  time.Duration `json:"last_ns"`
}

// The phases of the timeline, in the order a delivery goes through them.
const (
	PhaseQuery    = "query"    // a DNS query arrived
	PhaseAnswer   = "answer"   // a DNS answer left (after its delay)
	PhaseConnect  = "connect"  // an SMTP connection was accepted
	PhaseGreeting = "greeting" // its 220 greeting left
	PhaseDot      = "dot"      // the 250 to a final dot left
)

var phaseOrder = []string{PhaseQuery, PhaseAnswer, PhaseConnect, PhaseGreeting, PhaseDot}

// Report is a snapshot of what the world has seen.
type Report struct {
	// Timeline is each phase's first and last moment: where the time
	// to the last delivery goes.
	Timeline           []Phase        `json:"timeline"`
	Elapsed            time.Duration  `json:"elapsed_ns"`
	Connections        int            `json:"connections"`
	ConnectionsPerHost map[string]int `json:"connections_per_host"`
	// ConnectionsPerAddr counts the connections accepted on each host
	// address: which family a client used. A connect to a dead or
	// refusing address is never accepted, so it is not counted.
	ConnectionsPerAddr map[netip.Addr]int `json:"connections_per_addr"`
	// Transactions counts the transactions whose data was accepted;
	// TransactionsPerHost splits them by host name.
	Transactions        int            `json:"transactions"`
	TransactionsPerHost map[string]int `json:"transactions_per_host"`
	// RcptsPerTransaction is a histogram: accepted recipients -> number
	// of transactions with that many.
	RcptsPerTransaction map[int]int `json:"rcpts_per_transaction"`
	Deliveries          []Delivery  `json:"deliveries"`
	DNSQueries          []DNSCount  `json:"dns_queries"`
	DNSQueriesTotal     int         `json:"dns_queries_total"`
	// DNSDropped counts the UDP queries dropped by Config.BurstLimit
	// (counted in DNSQueries too: they arrived).
	DNSDropped int             `json:"dns_dropped"`
	Duplicates []Duplicate     `json:"duplicates"`
	Expected   map[Outcome]int `json:"expected"`
	// Delivered counts distinct recipients delivered at least once;
	// Missing the recipients expected delivered that were not.
	Delivered    int           `json:"delivered"`
	Missing      int           `json:"missing"`
	LastDelivery time.Duration `json:"last_delivery_ns"`
	Bound        time.Duration `json:"bound_ns"`
	// Ratio is LastDelivery / Bound once nothing is missing (0 before).
	Ratio float64 `json:"ratio"`
	// Hosts is what each host saw of its sessions and throttles, for
	// every host that accepted a connection and every throttling host;
	// HostTotals sums them (its PeakSessions is the most sessions open
	// at once over all hosts).
	Hosts      map[string]HostCounts `json:"hosts"`
	HostTotals HostCounts            `json:"host_totals"`
}

// DNSCount sums the queries for a name and type (e.g. "MX") over both
// transports; transport "udp" or "tcp" restricts it.
func (r *Report) DNSCount(name, qtype string, transport ...string) int {
	n := 0
	for _, c := range r.DNSQueries {
		if c.Name == canon(name) && c.Type == qtype && (len(transport) == 0 || slices.Contains(transport, c.Transport)) {
			n += c.Count
		}
	}
	return n
}

// Summary is a few human lines.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "connections %d on %d hosts, transactions %d, deliveries %d (%d distinct recipients, %d missing of %d expected)\n",
		r.Connections, len(r.ConnectionsPerHost), r.Transactions, len(r.Deliveries), r.Delivered, r.Missing, r.Expected[Delivered])
	fmt.Fprintf(&b, "dns queries %d on %d name/type/transport keys, duplicates %d\n", r.DNSQueriesTotal, len(r.DNSQueries), len(r.Duplicates))
	if r.Ratio > 0 {
		fmt.Fprintf(&b, "last delivery %v, bound %v, measured/bound %.2f\n", r.LastDelivery.Round(time.Millisecond), r.Bound, r.Ratio)
	} else {
		fmt.Fprintf(&b, "last delivery %v, bound %v\n", r.LastDelivery.Round(time.Millisecond), r.Bound)
	}
	b.WriteString(r.throttleSummary())
	return b.String()
}

// WriteFile writes the report as indented JSON.
func (r *Report) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return fmt.Errorf("sim: encoding report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("sim: writing report: %w", err)
	}
	return nil
}

type dnsKey struct{ name, qtype, transport string }

type delivery struct {
	Delivery
	at time.Time
}

// stats collects what the servers see; every method is safe for
// concurrent use.
type stats struct {
	mu         sync.Mutex
	origin     time.Time
	hosts      map[string]*hostSeen
	sessions   int // open now, over all hosts
	peak       int
	nconns     int
	perAddr    map[netip.Addr]int
	connSeq    uint64
	txns       int
	txnsByHost map[string]int
	hist       map[int]int
	deliveries []delivery
	dns        map[dnsKey]int
	dropped    int
	phases     map[string]*phaseSeen
	// accepted holds a value once a transaction has been accepted since
	// the last receive (Sim.Accepted).
	accepted chan struct{}
}

type phaseSeen struct {
	n           int
	first, last time.Time
}

// mark records that phase happened at t.
func (s *stats) mark(phase string, t time.Time) {
	s.mu.Lock()
	s.markLocked(phase, t)
	s.mu.Unlock()
}

func (s *stats) markLocked(phase string, t time.Time) {
	p := s.phases[phase]
	if p == nil {
		p = &phaseSeen{first: t, last: t}
		s.phases[phase] = p
	}
	p.n++
	if t.Before(p.first) {
		p.first = t
	}
	if t.After(p.last) {
		p.last = t
	}
}

func newStats() *stats {
	return &stats{origin: time.Now(), hosts: map[string]*hostSeen{}, perAddr: map[netip.Addr]int{}, hist: map[int]int{}, txnsByHost: map[string]int{},
		dns: map[dnsKey]int{}, phases: map[string]*phaseSeen{}, accepted: make(chan struct{}, 1)}
}

func (s *stats) markStart() {
	s.mu.Lock()
	s.origin = time.Now()
	s.phases = map[string]*phaseSeen{} // the timeline starts again too
	s.mu.Unlock()
}

func (s *stats) dnsQuery(name, qtype, transport string) {
	s.mu.Lock()
	s.dns[dnsKey{name, qtype, transport}]++
	s.mu.Unlock()
}

func (s *stats) dnsDrop() {
	s.mu.Lock()
	s.dropped++
	s.mu.Unlock()
}

// txn records a transaction whose data was accepted; d holds what its
// recipients' deliveries share (From, Host, Addr, Conn, Txn, Hash, TLS).
func (s *stats) txn(d Delivery, rcpts, rcptParams []string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txns++
	s.txnsByHost[d.Host]++
	s.hist[len(rcpts)]++
	s.markLocked(PhaseDot, at)
	for i, r := range rcpts {
		d.Rcpt = r
		if rcptParams != nil {
			d.RcptParams = rcptParams[i]
		}
		s.deliveries = append(s.deliveries, delivery{d, at})
	}
	select {
	case s.accepted <- struct{}{}:
	default: // one is waiting: it stands for this one too
	}
}

// report builds a Report, comparing what was delivered with the world.
func (s *stats) report(w *World) Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Report{
		Elapsed:             time.Since(s.origin),
		Connections:         s.nconns,
		ConnectionsPerHost:  make(map[string]int, len(s.hosts)),
		ConnectionsPerAddr:  maps.Clone(s.perAddr),
		Transactions:        s.txns,
		TransactionsPerHost: maps.Clone(s.txnsByHost),
		RcptsPerTransaction: make(map[int]int, len(s.hist)),
		Deliveries:          make([]Delivery, len(s.deliveries)),
		DNSQueries:          []DNSCount{},
		Duplicates:          []Duplicate{},
		Expected:            w.Expected(),
		Bound:               w.MaxBound(),
		DNSDropped:          s.dropped,
	}
	s.hostReport(w, &r)
	for _, name := range phaseOrder {
		ph := Phase{Name: name}
		if p := s.phases[name]; p != nil {
			ph.Count, ph.First, ph.Last = p.n, p.first.Sub(s.origin), p.last.Sub(s.origin)
		}
		r.Timeline = append(r.Timeline, ph)
	}
	for k, n := range s.hist {
		r.RcptsPerTransaction[k] = n
	}
	type dup struct{ rcpt, hash string }
	seen := map[dup]int{}
	got := map[string]bool{}
	for i, d := range s.deliveries {
		d.At = d.at.Sub(s.origin)
		r.Deliveries[i] = d.Delivery
		r.LastDelivery = max(r.LastDelivery, d.At)
		k := dup{strings.ToLower(d.Rcpt), d.Hash}
		seen[k]++
		got[k.rcpt] = true
	}
	for k, n := range seen {
		if n > 1 {
			r.Duplicates = append(r.Duplicates, Duplicate{Rcpt: k.rcpt, Hash: k.hash, Count: n})
		}
	}
	slices.SortFunc(r.Duplicates, func(a, b Duplicate) int { return cmp.Compare(a.Rcpt, b.Rcpt) })
	for _, rc := range w.Recipients {
		if rc.Expect != Delivered {
			continue
		}
		if got[strings.ToLower(rc.Addr)] {
			r.Delivered++
		} else {
			r.Missing++
		}
	}
	for k, n := range s.dns {
		r.DNSQueries = append(r.DNSQueries, DNSCount{Name: k.name, Type: k.qtype, Transport: k.transport, Count: n})
		r.DNSQueriesTotal += n
	}
	slices.SortFunc(r.DNSQueries, func(a, b DNSCount) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Transport, b.Transport))
	})
	if r.Missing == 0 && r.Bound > 0 && r.Delivered > 0 {
		r.Ratio = float64(r.LastDelivery) / float64(r.Bound)
	}
	return r
}

// TimelineText is the timeline on one line: each phase's first and
// last moment.
func (r *Report) TimelineText() string {
	var parts []string
	for _, p := range r.Timeline {
		if p.Count == 0 {
			parts = append(parts, p.Name+" -")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %v-%v", p.Name, p.First.Round(time.Millisecond), p.Last.Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}
