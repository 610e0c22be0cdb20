package smtpfeed

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
)

// engineRun delivers one message through a fresh engine against a
// simnet world and collects the answers.
type engineRun struct {
	t       *testing.T
	s       *sim.Sim
	e       *Engine
	answers map[int][]Outcome
	done    bool
}

func newEngineRun(t *testing.T, s *sim.Sim, tweak func(*Config)) *engineRun {
	t.Helper()
	loop := newLoop(t, nil)
	cfg := Config{
		Resolver:       ResolverConfig{Servers: []netip.AddrPort{s.DNSAddr()}, IPv4Only: true, Timeout: 2 * time.Second},
		SMTP:           smtp.Config{Hostname: "feed.test"},
		Port:           uint16(s.SMTPPort()),
		ConnectTimeout: time.Second,
		IdleTime:       time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := NewEngine(loop, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &engineRun{t: t, s: s, e: e, answers: map[int][]Outcome{}}
}

func (r *engineRun) deliver(rcpts []string, limit time.Duration) {
	r.t.Helper()
	r.done = false
	m := &Message{From: sim.ListSender, Rcpts: rcpts, Data: []byte(sim.TestMessage)}
	r.e.Deliver(m, func(i int, o Outcome) { r.answers[i] = append(r.answers[i], o) }, func() { r.done = true })
	stepUntil(r.t, r.e.loop, func() bool { return r.done }, limit)
}

// check compares every answer with the world's expectation, and checks
// that nobody got the message twice.
func (r *engineRun) check(rcpts []string) {
	r.t.Helper()
	r.checkAnswers(rcpts)
	if rep := r.s.Report(); len(rep.Duplicates) != 0 {
		r.t.Errorf("%d duplicate deliveries, first %v", len(rep.Duplicates), rep.Duplicates[0])
	}
}

// checkAnswers compares every answer with the world's expectation.
func (r *engineRun) checkAnswers(rcpts []string) {
	r.t.Helper()
	want := map[sim.Outcome]smtp.Status{sim.Delivered: smtp.Delivered, sim.Deferred: smtp.Deferred, sim.Bounced: smtp.Bounced}
	bad := 0
	for i, a := range rcpts {
		got := r.answers[i]
		if len(got) != 1 {
			r.t.Errorf("%s: %d answers, want 1", a, len(got))
			continue
		}
		exp := r.s.World.Recipient(a)
		if got[0].Status != want[exp.Expect] {
			if bad++; bad <= 10 {
				r.t.Errorf("%s (%s): %v %v, want %v", a, exp.Reason, got[0].Status, got[0], exp.Expect)
			}
		}
	}
}

func TestEngineSimWorld(t *testing.T) {
	cfg := sim.DefaultConfig()
	s, err := sim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := newEngineRun(t, s, nil)
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 60*time.Second)
	r.check(rcpts)
	rep := s.Report()
	// Every pipelining host has little enough work for one connection;
	// a lock-step one gets more, a lane per growAtLockstep recipients
	// at most (and the first).
	for _, h := range s.World.Hosts {
		n := rep.ConnectionsPerHost[h.Name]
		switch {
		case h.Kind != sim.HostLive:
		case h.Pipelining && n > 1:
			t.Errorf("%s: %d connections, want at most one", h.Name, n)
		case !h.Pipelining && n > 1+hostRcpts(rep, h.Name)/growAtLockstep:
			t.Errorf("%s (no PIPELINING): %d connections for %d recipients, want at most one and one per %d",
				h.Name, n, hostRcpts(rep, h.Name), growAtLockstep)
		}
	}
	t.Logf("%d recipients: %d connections, %d transactions, stats %+v", len(rcpts), rep.Connections, rep.Transactions, r.e.Stats())
}

// hostRcpts counts the recipients delivered to a host.
func hostRcpts(rep sim.Report, host string) int {
	n := 0
	for _, d := range rep.Deliveries {
		if d.Host == host {
			n++
		}
	}
	return n
}

// perHost counts, from simnet's report, each host's connections,
// transactions and recipients.
type hostUse struct {
	conns, txns, rcpts int
	domains            map[string]bool
}

func perHost(rep sim.Report) map[string]*hostUse {
	use := map[string]*hostUse{}
	conns := map[string]map[uint64]bool{}
	txns := map[string]map[[2]uint64]bool{}
	for _, d := range rep.Deliveries {
		u := use[d.Host]
		if u == nil {
			u = &hostUse{domains: map[string]bool{}}
			use[d.Host] = u
			conns[d.Host] = map[uint64]bool{}
			txns[d.Host] = map[[2]uint64]bool{}
		}
		u.rcpts++
		u.domains[d.Rcpt[strings.LastIndexByte(d.Rcpt, '@')+1:]] = true
		conns[d.Host][uint64(d.Conn)] = true
		txns[d.Host][[2]uint64{uint64(d.Conn), uint64(d.Txn)}] = true
	}
	for h, u := range use {
		u.conns, u.txns = len(conns[h]), len(txns[h])
	}
	return use
}

func startWorld(t *testing.T, cfg sim.Config) *sim.Sim {
	t.Helper()
	cfg.DNSAddr = "127.0.0.1:0"
	s, err := sim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestEnginePiggyback: 300 domains on 10 hosts take 10 connections, and
// each host ceil(its recipients / R) transactions.
func TestEnginePiggyback(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 11, Domains: 300, Hosts: 10, Users: 4})
	r := newEngineRun(t, s, func(c *Config) { c.Grace = time.Minute })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 30*time.Second)
	r.check(rcpts)
	use := perHost(s.Report())
	if len(use) != 10 {
		t.Fatalf("deliveries went to %d hosts, want 10", len(use))
	}
	for h, u := range use {
		want := (u.rcpts + smtp.DefaultMaxRcpts - 1) / smtp.DefaultMaxRcpts
		if u.conns != 1 || u.txns != want {
			t.Errorf("%s: %d connections, %d transactions for %d recipients of %d domains; want 1 and %d",
				h, u.conns, u.txns, u.rcpts, len(u.domains), want)
		}
	}
}

// TestEngineApart: with -2 each domain gets transactions of its own, still
// on one connection per host.
func TestEngineApart(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 11, Domains: 40, Hosts: 4, Users: 3})
	r := newEngineRun(t, s, func(c *Config) { c.Grace = time.Minute; c.Apart = true })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 30*time.Second)
	r.check(rcpts)
	for h, u := range perHost(s.Report()) {
		if u.conns != 1 || u.txns != len(u.domains) {
			t.Errorf("%s: %d connections, %d transactions for %d domains; want 1 and one per domain", h, u.conns, u.txns, len(u.domains))
		}
	}
}

// TestEngineRegroup: a host that is the second MX of one domain and the
// first of another, with the former's first MX dead: after the fallback,
// both domains share one transaction there (paper §3.2).
func TestEngineRegroup(t *testing.T) {
	cfg := sim.Config{Seed: 4, Domains: 20, Hosts: 5, Users: 2, DeadFirst: 1, DeadHosts: 1}
	s := startWorld(t, cfg)
	dead := s.World.DomainsOf(sim.KindDeadFirst)[0]
	var partner *sim.Domain
	for _, d := range s.World.DomainsOf(sim.KindNormal) {
		if d.MX[0].Host == dead.MX[1].Host {
			partner = d
			break
		}
	}
	if partner == nil {
		t.Fatalf("world of seed %d has no domain whose first MX is %s", cfg.Seed, dead.MX[1].Host.Name)
	}
	var rcpts []string
	for _, d := range []*sim.Domain{dead, partner} {
		for _, u := range d.Users {
			rcpts = append(rcpts, u+"@"+d.Name)
		}
	}
	r := newEngineRun(t, s, func(c *Config) { c.Grace = time.Minute; c.ConnectTimeout = 300 * time.Millisecond })
	r.deliver(rcpts, 30*time.Second)
	r.check(rcpts)
	shared := partner.MX[0].Host.Name
	u := perHost(s.Report())[shared]
	if u == nil || u.conns != 1 || u.txns != 1 || len(u.domains) != 2 {
		t.Fatalf("%s after fallback: %+v, want one connection and one transaction for both domains", shared, u)
	}
}

// TestEngineDeadHostOnce: a dead host that is the first MX of 1,000
// domains costs one connect attempt; every recipient goes to its second MX.
func TestEngineDeadHostOnce(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 3, Domains: 1000, Hosts: 11, Users: 1, DeadFirst: 1000, DeadHosts: 1})
	r := newEngineRun(t, s, func(c *Config) { c.ConnectTimeout = 300 * time.Millisecond })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 30*time.Second)
	r.check(rcpts)
	rep := s.Report()
	if st := r.e.Stats(); st.Unreachable != 1 || st.Connections != rep.Connections+1 {
		t.Fatalf("stats %+v with %d connections accepted: want 1 unreachable address and 1 attempt beyond the accepted ones", st, rep.Connections)
	}
}

// TestEngineConnLimit: 50 hosts through at most 5 connections.
func TestEngineConnLimit(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 5, Domains: 100, Hosts: 50, Users: 2})
	r := newEngineRun(t, s, func(c *Config) { c.MaxConns = 5 })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 30*time.Second)
	r.check(rcpts)
	if r.e.pool.peak > 5 {
		t.Fatalf("%d connections open at once, want at most 5", r.e.pool.peak)
	}
	if n := len(perHost(s.Report())); n != 50 {
		t.Fatalf("deliveries to %d hosts, want 50", n)
	}
}

// TestEngineReuseAcrossMessages: a second message to the same hosts rides
// the connections the first one left open, and asks DNS nothing.
func TestEngineReuseAcrossMessages(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 9, Domains: 30, Hosts: 5, Users: 2})
	r := newEngineRun(t, s, func(c *Config) { c.IdleTime = time.Minute })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 30*time.Second)
	first := s.Report()
	queries := r.e.Resolver().Stats().Queries
	r.answers = map[int][]Outcome{}
	r.deliver(rcpts, 30*time.Second)
	r.checkAnswers(rcpts) // the same message twice: every recipient has it twice now
	second := s.Report()
	if second.Connections != first.Connections {
		t.Errorf("second message opened %d more connections, want 0", second.Connections-first.Connections)
	}
	if q := r.e.Resolver().Stats().Queries; q != queries {
		t.Errorf("second message sent %d DNS queries, want 0", q-queries)
	}
	if second.Transactions <= first.Transactions {
		t.Errorf("no transactions for the second message")
	}
}

// TestEngineDeadline: recipients still waiting when the message's deadline
// passes get 451 4.4.7, once, and what their connection says later is
// ignored.
func TestEngineDeadline(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 3, Domains: 20, Hosts: 4, Users: 1, DeadFirst: 20, DeadHosts: 1})
	r := newEngineRun(t, s, func(c *Config) {
		c.ConnectTimeout = time.Minute
		c.MessageTimeout = 300 * time.Millisecond
	})
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 30*time.Second)
	for i, a := range rcpts {
		got := r.answers[i]
		if len(got) != 1 || got[0].Code != 451 || got[0].Enhanced != "4.4.7" {
			t.Errorf("%s: %v, want one 451 4.4.7", a, got)
		}
	}
	if len(s.Report().Deliveries) != 0 {
		t.Errorf("%d deliveries after the deadline answered every recipient", len(s.Report().Deliveries))
	}
}

// TestEngineFallbackMX: when every MX host of a domain is down, -m sends
// its recipients to the fallback host, whose verdict they get.
func TestEngineFallbackMX(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 8, Domains: 6, Hosts: 4, Users: 1, RefuseFirst: 6, RefuseHosts: 1})
	var fb *sim.Host
	for _, h := range s.World.Hosts {
		if h.Kind == sim.HostLive {
			fb = h
			break
		}
	}
	// The second MX of every domain refuses too: only the fallback is left.
	r := newEngineRun(t, s, func(c *Config) { c.Fallback = "[" + fb.Addr.String() + "]" })
	for _, h := range s.World.Hosts {
		if h.Kind == sim.HostLive && h != fb {
			r.e.down.MarkDown(h.Addr, "marked down by the test", r.e.loop.Now())
		}
	}
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 30*time.Second)
	if r.e.fallback == nil || r.e.fallback.Fail != nil {
		t.Fatalf("fallback lookup: %+v, want the fallback's address", r.e.fallback)
	}
	for i, a := range rcpts {
		got := r.answers[i]
		if len(got) != 1 || !strings.Contains(got[0].Relay, fb.Addr.String()) {
			t.Errorf("%s: %v, want one answer from the fallback %s", a, got, fb.Addr)
		}
	}
}

// TestEngineConnLimitSecondMX: at the connection limit, idle connections
// to hosts that waiting recipients list as a later MX must still make
// room, or the pool deadlocks: every domain here has a second MX.
func TestEngineConnLimitSecondMX(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 6, Domains: 120, Hosts: 40, Users: 2, SecondMX: 0.99})
	r := newEngineRun(t, s, func(c *Config) { c.MaxConns = 4; c.IdleTime = time.Minute })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 20*time.Second)
	r.check(rcpts)
	if r.e.pool.peak > 4 {
		t.Fatalf("%d connections open at once, want at most 4", r.e.pool.peak)
	}
}

// TestEngineBarrier: with the original's global barrier (a grace period
// longer than the run), hosts start once every lookup has ended, and
// domains that are each other's second MX do not hold each other up.
func TestEngineBarrier(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 12, Domains: 40, Hosts: 8, Users: 2, Crossed: 20, SecondMX: 0.9, DeadFirst: 4, DeadHosts: 1})
	r := newEngineRun(t, s, func(c *Config) { c.Grace = time.Hour; c.ConnectTimeout = 300 * time.Millisecond })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 15*time.Second)
	r.check(rcpts)
}

// TestEngineIdleWhileLookups: a connection idle after its first
// transaction is kept while lookups still run, whatever the idle time,
// since a domain still resolving may be bound for its host: half the
// domains answer 600 ms late, long after the 100 ms idle time, and each
// host still takes one connection.
func TestEngineIdleWhileLookups(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 9, Domains: 40, Hosts: 4, Users: 1, DNSDelay: 600 * time.Millisecond, DNSDelayShare: 0.5})
	r := newEngineRun(t, s, func(c *Config) { c.IdleTime = 100 * time.Millisecond })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 30*time.Second)
	r.check(rcpts)
	for name, u := range perHost(s.Report()) {
		if u.conns != 1 {
			t.Errorf("%s: %d connections, want 1: the idle connection was closed while lookups ran", name, u.conns)
		}
	}
}

// TestEngineJoinsBeforeReady: recipients whose lookup ends while their
// host's session is still being set up (connect, greeting, EHLO) join
// the first transaction instead of making a second one: a domain
// answered after the grace period, on the host of a domain answered at
// once, with a 300 ms round trip to that host.
func TestEngineJoinsBeforeReady(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 3, Domains: 2, Hosts: 1, Users: 2, RTT: 300 * time.Millisecond,
		DNSDelay: 150 * time.Millisecond, DNSDelayShare: 1, DNSAddr: "127.0.0.1:0"})
	run := newEngineRun(t, s, nil)
	rcpts := s.World.Addresses()
	run.deliver(rcpts, 20*time.Second)
	run.check(rcpts)
	rep := s.Report()
	if rep.Connections != 1 || rep.Transactions != 1 {
		t.Errorf("%d connections, %d transactions for %d recipients on one host: want one of each", rep.Connections, rep.Transactions, len(rcpts))
	}
}

// TestEngineRaceDeadMX: a dead first MX costs the race delay, not the
// connect timeout: after 200 ms without an answer to the connect, the
// recipients of its 100 domains go to their second MX while the connect
// goes on; when it times out (2 s) the address is marked down as
// before, with its one attempt.
func TestEngineRaceDeadMX(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 3, Domains: 100, Hosts: 6, Users: 1, DeadFirst: 100, DeadHosts: 1})
	r := newEngineRun(t, s, func(c *Config) {
		c.ConnectTimeout, c.RaceDelay, c.IdleTime = 2*time.Second, 200*time.Millisecond, 5*time.Second
	})
	rcpts := s.World.Addresses()
	start := time.Now()
	r.deliver(rcpts, 30*time.Second)
	took := time.Since(start)
	r.check(rcpts)
	st := r.e.Stats()
	if st.Raced != 1 || st.Unreachable != 0 {
		t.Errorf("stats %+v: want one raced connect, nothing marked down yet", st)
	}
	if took >= 2*time.Second {
		t.Errorf("delivery took %v: the dead host's connect timeout (2s), not the race delay (200ms)", took)
	}
	stepUntil(t, r.e.loop, func() bool { return r.e.Stats().Unreachable == 1 }, 10*time.Second)
	if st := r.e.Stats(); st.Connections != s.Report().Connections+1 {
		t.Errorf("stats %+v: want one attempt at the dead host beyond the %d accepted", st, s.Report().Connections)
	}
}
