package smtpfeed

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/reactor"
)

// planRun is an engine on a fake clock whose destinations record their
// start instead of connecting: the routing rules without a socket.
type planRun struct {
	e       *Engine
	clock   *reactor.FakeClock
	j       *delivery
	started []netip.Addr
}

func newPlanRun(t *testing.T) *planRun {
	t.Helper()
	clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e, err := NewEngine(newLoop(t, clock), Config{DeliverNothing: true})
	if err != nil {
		t.Fatal(err)
	}
	p := &planRun{e: e, clock: clock}
	e.plan.start = func(d *dest) {
		if d.grace != nil {
			e.loop.StopTimer(d.grace)
			d.grace = nil
		}
		p.started = append(p.started, d.addr)
		d.waiting = nil // as the connection's flush takes them
	}
	p.j = &delivery{e: e}
	return p
}

// route makes a recipient whose MX hosts have the addresses given, best
// first, and routes it.
func (p *planRun) route(addrs ...string) *rcpt {
	var mx []MailHost
	for k, a := range addrs {
		mx = append(mx, MailHost{Name: "mx" + a, Pref: uint16(10 * k), Addrs: []HostAddr{{Addr: netip.MustParseAddr(a)}}})
	}
	p.j.addrs = append(p.j.addrs, "u@d.test")
	r := &rcpt{j: p.j, i: int32(len(p.j.addrs) - 1), dom: &rcptDomain{name: "d.test", mx: mx}}
	r.setHosts()
	r.route()
	return r
}

// pass runs one pass of the loop after moving the clock by d.
func (p *planRun) pass(t *testing.T, d time.Duration) {
	t.Helper()
	p.clock.Advance(d)
	if err := p.e.loop.Step(0); err != nil {
		t.Fatal(err)
	}
}

func (p *planRun) want(t *testing.T, what string, addrs ...string) {
	t.Helper()
	var want []netip.Addr
	for _, a := range addrs {
		want = append(want, netip.MustParseAddr(a))
	}
	if !slices.Equal(p.started, want) {
		t.Fatalf("%s: started %v, want %v", what, p.started, want)
	}
}

// TestPlanStart: when a destination with waiting recipients starts.
func TestPlanStart(t *testing.T) {
	t.Run("nothing running: at once", func(t *testing.T) {
		p := newPlanRun(t)
		p.route("192.0.2.1")
		p.want(t, "routed with no lookup running", "192.0.2.1")
	})
	t.Run("the last lookup ends first: then, before the grace", func(t *testing.T) {
		p := newPlanRun(t)
		p.e.plan.lookupsStarted(1)
		p.route("192.0.2.1")
		p.want(t, "routed while a lookup runs")
		p.e.plan.lookupEnded()
		p.want(t, "the last lookup ended", "192.0.2.1")
		p.pass(t, DefaultGrace)
		p.want(t, "after the grace", "192.0.2.1") // not twice
	})
	t.Run("a hold: once it ends, at the end of the pass", func(t *testing.T) {
		p := newPlanRun(t)
		a := netip.MustParseAddr("192.0.2.1")
		p.e.plan.hold(a)
		p.route("192.0.2.1")
		p.want(t, "held")
		p.e.plan.unhold(a)
		p.want(t, "the hold ended, in the same handler")
		p.pass(t, 0)
		p.want(t, "the pass after the hold ended", "192.0.2.1")
	})
	t.Run("second choices start after first choices", func(t *testing.T) {
		p := newPlanRun(t)
		p.e.plan.lookupsStarted(1)
		p.route("192.0.2.2")              // B only
		p.route("192.0.2.1", "192.0.2.2") // A, then B
		p.e.plan.lookupEnded()
		p.want(t, "the last lookup ended", "192.0.2.1", "192.0.2.2")
	})
}

// TestPlanNoBarrier: a destination does not wait for every lookup to end.
// One name server that never answers delays only the hosts it could feed:
// after the grace period a host starts though lookups still run.
func TestPlanNoBarrier(t *testing.T) {
	p := newPlanRun(t)
	p.e.plan.lookupsStarted(2) // one of them slow: its name server is silent
	p.route("192.0.2.1")
	p.pass(t, DefaultGrace-time.Millisecond)
	p.want(t, "within the grace")
	p.pass(t, time.Millisecond)
	p.want(t, "at the end of the grace", "192.0.2.1")
	if p.e.plan.lookups != 2 {
		t.Fatalf("%d lookups running, want both still running: the delivery must start before the last lookup ends", p.e.plan.lookups)
	}
}

// TestPlanGather: while lookups are still being answered, a host with
// less than a full transaction waits for them, from one grace period to
// the next, but never longer than Gather; a host with a full
// transaction starts at once.
func TestPlanGather(t *testing.T) {
	step := DefaultGrace * 6 / 10
	t.Run("answers pause: a grace period after the last", func(t *testing.T) {
		p := newPlanRun(t)
		p.e.plan.lookupsStarted(5)
		p.route("192.0.2.1")
		p.pass(t, step)
		p.e.plan.lookupEnded()
		p.pass(t, step) // past the first grace period, within one of the answer
		p.want(t, "an answer came within the grace period")
		p.pass(t, DefaultGrace-step-time.Millisecond)
		p.want(t, "within a grace period of the last answer")
		p.pass(t, time.Millisecond)
		p.want(t, "a grace period without an answer", "192.0.2.1")
	})
	t.Run("answers keep coming: Gather at most", func(t *testing.T) {
		p := newPlanRun(t)
		p.e.plan.lookupsStarted(1000)
		p.route("192.0.2.1")
		var waited time.Duration
		for waited+step < DefaultGather {
			p.pass(t, step)
			p.e.plan.lookupEnded()
			waited += step
			p.want(t, "answers still coming, "+waited.String()+" into the wait")
		}
		p.pass(t, DefaultGather-waited)
		p.want(t, "Gather after the first recipient", "192.0.2.1")
	})
	t.Run("a full transaction: at once", func(t *testing.T) {
		p := newPlanRun(t)
		p.e.plan.lookupsStarted(5)
		for range p.e.txnRcpts() - 1 {
			p.route("192.0.2.1")
		}
		p.want(t, "one recipient short of a transaction")
		p.route("192.0.2.1")
		p.want(t, "a full transaction", "192.0.2.1")
	})
}

// TestPlanNeeds: every address a pending recipient may still go to is
// needed (its idle connection is kept), until the recipient moves past
// it or is answered.
func TestPlanNeeds(t *testing.T) {
	p := newPlanRun(t)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	r := p.route("192.0.2.1", "192.0.2.2")
	if !p.e.plan.needed(a) || !p.e.plan.needed(b) {
		t.Fatal("a routed recipient's addresses are not needed")
	}
	r.nextHost()
	if p.e.plan.needed(a) || !p.e.plan.needed(b) {
		t.Fatal("after moving to its second MX, the first is still needed or the second is not")
	}
	p.j.answer = func(int, Outcome) {}
	p.j.left = 1
	r.finish(outcomeShutdown())
	if p.e.plan.needed(b) {
		t.Fatal("an answered recipient still needs its address")
	}
}

// TestEngineSilentDNSHoldsNoOne: with a grace and a gathering far longer
// than the run, hosts still start once the only lookup left is one whose
// name server is silent (the resolver stalls): every other recipient is
// delivered before that lookup times out.
func TestEngineSilentDNSHoldsNoOne(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 3, Domains: 20, Hosts: 5, Users: 1, Silent: 1})
	r := newEngineRun(t, s, func(c *Config) { c.Grace, c.Gather = time.Minute, time.Minute })
	silent := s.World.DomainsOf(sim.KindSilent)
	if len(silent) != 1 {
		t.Fatalf("world has %d silent domains, want 1", len(silent))
	}
	rcpts := s.World.Addresses()
	var order []string // the recipients in the order of their answers
	done := false
	m := &Message{From: sim.ListSender, Rcpts: rcpts, Data: []byte(sim.TestMessage)}
	r.e.Deliver(m, func(i int, o Outcome) {
		order = append(order, rcpts[i])
		r.answers[i] = append(r.answers[i], o)
	}, func() { done = true })
	stepUntil(t, r.e.loop, func() bool { return done }, 30*time.Second)
	r.check(rcpts)
	last := order[len(order)-1]
	if !strings.HasSuffix(last, "@"+silent[0].Name) {
		t.Errorf("last answer went to %s, want the silent domain %s's recipient: the others waited for its lookup to time out", last, silent[0].Name)
	}
}

// TestPlanGatherBacklog: while the resolver holds queries back (its
// window is full), a host keeps gathering past Gather as long as answers
// keep coming; a quiet grace period still ends the wait.
func TestPlanGatherBacklog(t *testing.T) {
	silent, err := net.ListenPacket("udp4", "127.0.0.1:0") // a name server that never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e, err := NewEngine(newLoop(t, clock), Config{Resolver: ResolverConfig{
		Servers:        []netip.AddrPort{silent.LocalAddr().(*net.UDPAddr).AddrPort()},
		MaxOutstanding: 1, InitialWindow: 1, Timeout: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	p := &planRun{e: e, clock: clock, j: &delivery{e: e}}
	e.plan.start = func(d *dest) {
		p.started = append(p.started, d.addr)
		d.waiting = nil
	}
	for _, d := range []string{"a.test", "b.test", "c.test"} {
		e.res.LookupMX(d, func(MXResult) {})
	}
	if !e.res.Backlogged() {
		t.Fatal("three lookups through a window of one: want a backlog")
	}
	e.plan.lookupsStarted(1000)
	p.route("192.0.2.1")
	step := DefaultGrace / 2
	for waited := time.Duration(0); waited < 3*DefaultGather; waited += step {
		p.pass(t, step)
		e.plan.lookupEnded()
		p.want(t, "answers coming and queries held back, "+waited.String()+" into the wait")
	}
	p.pass(t, DefaultGrace)
	p.want(t, "a grace period without an answer", "192.0.2.1")
}
