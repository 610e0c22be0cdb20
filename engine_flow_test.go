package smtpfeed

import (
	"fmt"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/reactor"
)

// oneHostWorld is a world of one domain on one live host with users
// recipients, every reply a round trip of rtt.
func oneHostWorld(t *testing.T, users int, rtt time.Duration, tweak func(*sim.Config)) *sim.Sim {
	t.Helper()
	cfg := sim.Config{Seed: 7, Domains: 1, Hosts: 1, Users: users, RTT: rtt}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := sim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// connTxns counts, from simnet's report, each connection's transactions.
func connTxns(rep sim.Report) map[uint64]int {
	most := map[uint64]int{}
	for _, d := range rep.Deliveries {
		most[d.Conn] = max(most[d.Conn], d.Txn)
	}
	return most
}

// A host with more work than one connection finishes soon gets more
// connections, never more than -P; a host with little gets one.
func TestEngineGrowsLanesForBigHost(t *testing.T) {
	for _, c := range []struct {
		users, ceiling int
		lanes          func(n int) bool
		want           string
	}{
		{1500, 4, func(n int) bool { return n >= 2 && n <= 4 }, "2..4"},
		{250, 4, func(n int) bool { return n == 1 }, "1"},
	} {
		t.Run(fmt.Sprint(c.users), func(t *testing.T) {
			s := oneHostWorld(t, c.users, 2*time.Millisecond, nil)
			r := newEngineRun(t, s, func(cfg *Config) { cfg.HostConcurrency = c.ceiling })
			rcpts := s.World.Addresses()
			r.deliver(rcpts, 60*time.Second)
			r.check(rcpts)
			rep := s.Report()
			host := s.World.Hosts[0].Name
			if n := rep.ConnectionsPerHost[host]; !c.lanes(n) {
				t.Errorf("%d recipients: %d connections to %s, want %s", c.users, n, host, c.want)
			}
			if peak := r.e.Stats().PeakHostLanes; peak > c.ceiling {
				t.Errorf("%d connections at once to %s, above -P %d", peak, host, c.ceiling)
			}
			for conn, n := range rep.RcptsPerTransaction {
				if conn > 100 {
					t.Errorf("%d transactions of %d recipients, want at most 100", n, conn)
				}
			}
		})
	}
}

// A host without PIPELINING and a little more than growAtLockstep
// recipients: its one lane takes them all in one transaction rather
// than leave a remainder no other lane would take.
func TestEngineLockstepLoneLane(t *testing.T) {
	s := oneHostWorld(t, growAtLockstep+growAtLockstep/2, 2*time.Millisecond, func(c *sim.Config) { c.NoPipelining = 1 })
	r := newEngineRun(t, s, nil)
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 60*time.Second)
	r.check(rcpts)
	rep := s.Report()
	if n := rep.ConnectionsPerHost[s.World.Hosts[0].Name]; n != 1 || rep.Transactions != 1 {
		t.Errorf("%d recipients without PIPELINING: %d connections, %d transactions; want one of each", len(rcpts), n, rep.Transactions)
	}
}

// A host without PIPELINING pays a round trip per recipient: its work is
// spread over connections of at least growAtLockstep recipients each.
func TestEngineLockstepSpreads(t *testing.T) {
	s := oneHostWorld(t, 200, 2*time.Millisecond, func(c *sim.Config) { c.NoPipelining = 1 })
	if s.World.Hosts[0].Pipelining {
		t.Fatal("the world's host offers PIPELINING")
	}
	r := newEngineRun(t, s, nil)
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 60*time.Second)
	r.check(rcpts)
	n := s.Report().ConnectionsPerHost[s.World.Hosts[0].Name]
	if most := (200 + growAtLockstep - 1) / growAtLockstep; n < 2 || n > most {
		t.Errorf("200 recipients without PIPELINING: %d connections, want 2..%d", n, most)
	}
}

// -reuse-limit: no connection carries more transactions than the cap;
// new ones take what is left.
func TestEngineReuseLimit(t *testing.T) {
	s := oneHostWorld(t, 500, 0, nil)
	r := newEngineRun(t, s, func(cfg *Config) { cfg.ConnTransactions, cfg.HostConcurrency = 2, 1 })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 60*time.Second)
	r.check(rcpts)
	rep := s.Report()
	for conn, n := range connTxns(rep) {
		if n > 2 {
			t.Errorf("connection %d carried %d transactions, want at most 2", conn, n)
		}
	}
	if n := rep.ConnectionsPerHost[s.World.Hosts[0].Name]; n < 3 {
		t.Errorf("500 recipients at 2 transactions a connection over %d connections, want 3 or more", n)
	}
}

// -rate: the bucket holds a minute's worth, refills continuously, and
// with nothing to give sets the flow's timer for when a share is in.
func TestFlowRate(t *testing.T) {
	clock := reactor.NewFakeClock(time.Unix(1e9, 0))
	loop := newLoop(t, clock)
	e := &Engine{loop: loop, cfg: Config{HostRate: 60, HostConcurrency: 1}.withDefaults(), flows: map[string]*flow{}}
	f := e.flowFor("mx.test")
	if got := f.rated(100); got != 60 {
		t.Fatalf("first take of 100 at 60 a minute: %d, want the bucket's 60", got)
	}
	if got := f.rated(10); got != 0 {
		t.Fatalf("take from the empty bucket: %d, want 0", got)
	}
	if !pending(f.timer) {
		t.Fatal("an empty bucket set no timer to start the host again")
	}
	if at := f.timer.When(); at != clock.Now().Add(10*time.Second) {
		t.Errorf("timer at %v, want 10s on (10 recipients at one a second)", at.Sub(clock.Now()))
	}
	advance := func(d time.Duration) {
		clock.Advance(d)
		if err := loop.Step(0); err != nil { // the loop reads the clock once a pass
			t.Fatal(err)
		}
	}
	advance(5 * time.Second)
	if got := f.rated(10); got != 5 {
		t.Errorf("take of 10 five seconds on: %d, want 5", got)
	}
	advance(time.Hour)
	if got := f.rated(1000); got != 60 {
		t.Errorf("take after an hour: %d, want 60 (the bucket holds a minute's worth)", got)
	}
}
