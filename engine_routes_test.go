package smtpfeed

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"

	"golang.org/x/sys/unix"
)

// zoneRun is an engine whose resolver asks a test zone and whose
// connections go to one go-smtp server's port.
type zoneRun struct {
	e       *Engine
	be      *goSMTPBackend
	answers map[int][]Outcome
}

func newZoneRun(t *testing.T, records []string, tweak func(*Config)) *zoneRun {
	t.Helper()
	be, smtpAddr := startGoSMTP(t, 100)
	dnsAddr := newZone(t, records...).serve(t)
	cfg := Config{
		Resolver:       ResolverConfig{Servers: []netip.AddrPort{dnsAddr}, IPv4Only: true, Timeout: 2 * time.Second},
		SMTP:           smtp.Config{Hostname: "feed.test"},
		Port:           smtpAddr.Port(),
		ConnectTimeout: time.Second,
		IdleTime:       time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := NewEngine(newLoop(t, nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &zoneRun{e: e, be: be, answers: map[int][]Outcome{}}
}

func (z *zoneRun) deliver(t *testing.T, rcpts ...string) []Outcome {
	t.Helper()
	done := false
	answers := make([][]Outcome, len(rcpts))
	m := &Message{From: "list-bounces@lists.test", Rcpts: rcpts, Data: []byte(sim.TestMessage)}
	z.e.Deliver(m, func(i int, o Outcome) { answers[i] = append(answers[i], o) }, func() { done = true })
	stepUntil(t, z.e.loop, func() bool { return done }, 10*time.Second)
	out := make([]Outcome, len(rcpts))
	for i, a := range answers {
		if len(a) != 1 {
			t.Fatalf("%s: %d answers, want 1", rcpts[i], len(a))
		}
		out[i] = a[0]
	}
	return out
}

// TestLocalFault: the errors that are this host's and those that are
// the remote host's.
func TestLocalFault(t *testing.T) {
	wrap := func(call string, err error) error {
		return fmt.Errorf("mx.test[192.0.2.1]: %w", os.NewSyscallError(call, err))
	}
	tests := []struct {
		name     string
		err      error
		enhanced string // "": the remote host's
	}{
		{"out of descriptors", wrap("socket", unix.EMFILE), "4.3.0"},
		{"system out of descriptors", wrap("socket", unix.ENFILE), "4.3.0"},
		{"out of buffers", wrap("connect", unix.ENOBUFS), "4.3.0"},
		{"source address not here", wrap("bind", unix.EADDRNOTAVAIL), "4.4.0"},
		{"no ephemeral port", wrap("connect", unix.EADDRNOTAVAIL), "4.4.0"},
		{"source family differs", fmt.Errorf("x: %w", reactor.ErrSourceFamily), "4.4.0"},
		{"local firewall", wrap("connect", unix.EPERM), "4.4.0"},
		{"refused", wrap("connect", unix.ECONNREFUSED), ""},
		{"timed out", wrap("connect", unix.ETIMEDOUT), ""},
		{"host unreachable", wrap("connect", unix.EHOSTUNREACH), ""},
		{"network unreachable", wrap("connect", unix.ENETUNREACH), ""},
		{"reset", wrap("read", unix.ECONNRESET), ""},
		{"connect timer", errConnectTimeout, ""},
		{"closed", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enhanced, local := localFault(tc.err)
			if enhanced != tc.enhanced || local != (tc.enhanced != "") {
				t.Errorf("localFault(%v) = %q, %v; want %q, %v", tc.err, enhanced, local, tc.enhanced, tc.enhanced != "")
			}
		})
	}
}

// TestEngineLocalFailureNotRemote: a source address this host does not
// have (-o) fails the bind before any packet leaves. Its recipients hear
// 4.4.0 naming the local cause, and the remote host is not marked down:
// the next message, with a source address that works, is delivered.
func TestEngineLocalFailureNotRemote(t *testing.T) {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_nonlocal_bind"); err == nil && strings.TrimSpace(string(b)) != "0" {
		t.Skip("net.ipv4.ip_nonlocal_bind is on: binding to an address not here succeeds")
	}
	z := newZoneRun(t, []string{"local.test. MX 10 mx.local.test.", "mx.local.test. A 127.0.0.1"},
		func(c *Config) { c.Source = netip.MustParseAddr("192.0.2.1") })
	got := z.deliver(t, "a@local.test", "b@local.test")
	for i, o := range got {
		if o.Code != 451 || o.Enhanced != "4.4.0" || !strings.Contains(o.Text, "local failure") || !strings.Contains(o.Text, "192.0.2.1") {
			t.Errorf("recipient %d: %v, want 451 4.4.0 naming the local failure to bind 192.0.2.1", i, o)
		}
	}
	if z.e.isDown(netip.MustParseAddr("127.0.0.1")) || z.e.stats.Unreachable != 0 {
		t.Fatalf("mx.local.test[127.0.0.1] marked down for a local failure (%d marked)", z.e.stats.Unreachable)
	}
	z.e.cfg.Source = netip.Addr{}
	if o := z.deliver(t, "c@local.test")[0]; o.Status != smtp.Delivered {
		t.Fatalf("after the local failure: %v, want delivered", o)
	}
}

// TestEngineForgetsDestinations: once a message's connections are closed,
// its destinations (reached, refused or merely skipped) are dropped, so a
// long-lived listener's table does not grow with every host ever reached.
func TestEngineForgetsDestinations(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 5, Domains: 30, Hosts: 30, Users: 1, RefuseHosts: 0.2})
	r := newEngineRun(t, s, func(c *Config) { c.IdleTime = 50 * time.Millisecond })
	for round := range 3 {
		rcpts := s.World.Addresses()
		r.deliver(rcpts, 20*time.Second)
		if len(r.e.dests) == 0 {
			t.Fatalf("round %d: no destinations while delivering?", round)
		}
		stepUntil(t, r.e.loop, func() bool { return r.e.pool.open == 0 }, 10*time.Second)
		if n := len(r.e.dests); n != 0 {
			t.Fatalf("round %d: %d destinations kept after every connection closed, want 0", round, n)
		}
	}
}

// TestEngineLocalErrorOnConnection: a connection lost to a local error
// (out of buffers) answers its recipients 451 4.3.0 and leaves the host
// out of the reachability cache, rather than routing them on as if the
// host were dead.
func TestEngineLocalErrorOnConnection(t *testing.T) {
	z := newZoneRun(t, []string{"local.test. MX 10 mx.local.test.", "mx.local.test. A 127.0.0.1"}, nil)
	mx := netip.MustParseAddr("127.0.0.1")
	var got []Outcome
	done := false
	m := &Message{From: "list-bounces@lists.test", Rcpts: []string{"a@local.test"}, Data: []byte(sim.TestMessage)}
	z.e.Deliver(m, func(_ int, o Outcome) { got = append(got, o) }, func() { done = true })
	stepUntil(t, z.e.loop, func() bool { d := z.e.dests[mx]; return d != nil && len(d.lanes) > 0 }, 10*time.Second)
	z.e.dests[mx].lanes[0].conn.Close(os.NewSyscallError("write", unix.ENOBUFS))
	stepUntil(t, z.e.loop, func() bool { return done }, 10*time.Second)
	if len(got) != 1 || got[0].Code != 451 || got[0].Enhanced != "4.3.0" || !strings.Contains(got[0].Text, "no buffer space") {
		t.Fatalf("a@local.test: %v, want one 451 4.3.0 naming the local failure", got)
	}
	if z.e.isDown(mx) {
		t.Fatal("mx.local.test[127.0.0.1] marked down for a local failure")
	}
}
