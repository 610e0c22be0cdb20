package sim

import (
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// throttleSim serves the tiny world with one provider of one host on two
// addresses, throttled as edit says.
func throttleSim(t *testing.T, edit func(*Config)) (*Sim, *Domain, *Host) {
	t.Helper()
	cfg := tinyConfig()
	cfg.Providers, cfg.ProviderHosts, cfg.ProviderAddrs = 1, 1, 2
	edit(&cfg)
	s := startSim(t, cfg)
	p := s.World.Domain("p1.test")
	return s, p, p.MX[0].Host
}

func on(s *Sim, a netip.Addr) netip.AddrPort { return netip.AddrPortFrom(a, uint16(s.SMTPPort())) }

// closed checks that the server closed the connection: EOF, no more
// replies. The server records a 421 before it closes, so after closed the
// report counts it.
func (c *client) closed() {
	c.t.Helper()
	if l, err := c.br.ReadString('\n'); !errors.Is(err, io.EOF) {
		c.t.Fatalf("after the 421: got %q, %v; want EOF", l, err)
	}
}

// line reads one reply and checks all of it.
func (c *client) line(want string) {
	c.t.Helper()
	if _, l := c.reply(); len(l) != 1 || l[0] != want {
		c.t.Fatalf("reply: got %q, want %q", l, want)
	}
}

func TestMaxConns(t *testing.T) {
	s, _, h := throttleSim(t, func(c *Config) { c.ProviderMaxConns = 2 })
	// Two sessions, one on each address: the limit is the host's.
	c1 := dialAddr(t, on(s, h.Addr))
	c1.expect("220 ")
	c2 := dialAddr(t, on(s, h.More[0]))
	c2.expect("220 ")
	c3 := dialAddr(t, on(s, h.Addr))
	c3.line("421 4.7.0 mx1.p1.test too many connections, try again later")
	c3.closed()

	r := s.Report()
	hc := r.Hosts[h.Name]
	if hc.Connections != 3 || hc.PeakSessions != 2 || hc.TooManyConns != 1 || !hc.Throttled || len(hc.Accepts) != 3 || len(hc.Sent421) != 1 {
		t.Errorf("host report: got %+v, want 3 connections, peak 2, one 421 too-many-connections", hc)
	}
	if r.HostTotals.TooManyConns != 1 || r.HostTotals.Connections != 3 || r.HostTotals.PeakSessions != 2 {
		t.Errorf("totals: got %+v, want 3 connections, one 421, peak 2", r.HostTotals)
	}
	if !strings.Contains(r.Summary(), "421 too many connections 1") {
		t.Errorf("summary: got %q, want the 421 counted", r.Summary())
	}

	// QUIT gives the slot back before the 221 leaves: a client that saw
	// it may connect at once.
	c1.send("QUIT")
	c1.expect("221 ")
	c4 := dialAddr(t, on(s, h.More[0]))
	c4.expect("220 ")
	if got := s.Report().Hosts[h.Name]; got.TooManyConns != 1 || got.PeakSessions != 2 {
		t.Errorf("after QUIT and a new connection: got %+v, want still one 421 and peak 2", got)
	}
}

func TestMsgsPerConn(t *testing.T) {
	s, p, h := throttleSim(t, func(c *Config) { c.ProviderMsgsPerConn = 2 })
	rcpt := "RCPT TO:<" + p.Users[0] + "@" + p.Name + ">"
	tests := []struct {
		hello, want string
	}{
		{"EHLO t", "421 4.7.0 mx1.p1.test too many messages on this connection, try again later"},
		// No enhanced codes before EHLO, as for every reply.
		{"HELO t", "421 mx1.p1.test too many messages on this connection, try again later"},
	}
	for i, tc := range tests {
		t.Run(tc.hello, func(t *testing.T) {
			c := dialAddr(t, on(s, h.More[0]))
			c.expect("220 ")
			c.send(tc.hello)
			c.expect("250 ")
			for range 2 {
				c.send("MAIL FROM:<a@b.test>", rcpt, "DATA")
				c.expect("250 ")
				c.expect("250 ")
				c.expect("354 ")
				c.send("x", ".")
				c.expect("250 ")
			}
			// The commands after the refused MAIL get no reply.
			c.send("MAIL FROM:<a@b.test>", rcpt, "DATA")
			c.line(tc.want)
			c.closed()
			r := s.Report()
			if got := r.Hosts[h.Name]; got.TooManyMsgs != i+1 || got.TooManyConns != 0 || len(got.Sent421) != i+1 || got.Sent421[i].Kind != TooManyMessages {
				t.Errorf("host report: got %+v, want %d 421 too-many-messages", got, i+1)
			}
			if r.Transactions != 2*(i+1) {
				t.Errorf("transactions: got %d, want %d", r.Transactions, 2*(i+1))
			}
		})
	}
}

func TestRcptRate(t *testing.T) {
	s, p, h := throttleSim(t, func(c *Config) { c.ProviderRcptRate = 2 })
	group := []string{"EHLO t", "MAIL FROM:<a@b.test>"}
	for _, u := range p.Users[:4] {
		group = append(group, "RCPT TO:<"+u+"@"+p.Name+">")
	}
	c := dialAddr(t, on(s, h.Addr))
	c.expect("220 ")
	// The four RCPTs arrive together: the bucket holds two, and the next
	// token is half a second away.
	c.send(append(group, "DATA")...)
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 2.1.5")
	c.expect("250 2.1.5")
	c.line("450 4.7.1 <" + p.Users[2] + "@" + p.Name + ">: rate limited, try again later")
	c.line("450 4.7.1 <" + p.Users[3] + "@" + p.Name + ">: rate limited, try again later")
	c.expect("354 ")
	c.send("x", ".")
	c.expect("250 ")
	r := s.Report()
	if got := r.Hosts[h.Name]; got.RateLimited != 2 || r.HostTotals.RateLimited != 2 {
		t.Errorf("host report: got %+v, totals %+v; want 2 rate limited", got, r.HostTotals)
	}
	if r.Delivered != 2 {
		t.Errorf("delivered: got %d, want 2", r.Delivered)
	}
}

// TestGateBucket drives the recipient bucket with a made-up clock.
func TestGateBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var g gate
	g.fill(3, t0)
	for i := range 3 {
		if !g.take(3, t0) {
			t.Fatalf("take %d at start: got false, want true (bucket full)", i+1)
		}
	}
	steps := []struct {
		after time.Duration
		want  bool
	}{
		{0, false},                      // empty
		{300 * time.Millisecond, false}, // 0.9 token
		{340 * time.Millisecond, true},  // 1.02
		{340 * time.Millisecond, false}, // 0.02 left
		{10 * time.Second, true},        // refilled, capped at 3
		{10 * time.Second, true},
		{10 * time.Second, true},
		{10 * time.Second, false},
	}
	for i, st := range steps {
		if got := g.take(3, t0.Add(st.after)); got != st.want {
			t.Errorf("step %d: take at +%v: got %v, want %v", i, st.after, got, st.want)
		}
	}
}

func TestConnectsWithin(t *testing.T) {
	s, _, h := throttleSim(t, func(c *Config) { c.ProviderMaxConns = 1 })
	c1 := dialAddr(t, on(s, h.Addr))
	c1.expect("220 ")
	c2 := dialAddr(t, on(s, h.More[0]))
	c2.line("421 4.7.0 mx1.p1.test too many connections, try again later")
	c2.closed()
	c1.send("QUIT")
	c1.expect("221 ")
	c3 := dialAddr(t, on(s, h.Addr))
	c3.expect("220 ")

	r := s.Report()
	v := r.ConnectsWithin(time.Hour)
	if len(v) != 1 || v[0].Host != h.Name || v[0].Kind != TooManyConnections || v[0].Connect <= v[0].Sent421 {
		t.Fatalf("ConnectsWithin(1h): got %+v, want the one connection after the 421", v)
	}
	d := v[0].Connect - v[0].Sent421
	if got := r.ConnectsWithin(d); len(got) != 1 {
		t.Errorf("ConnectsWithin(%v), the gap exactly: got %+v, want 1", d, got)
	}
	if got := r.ConnectsWithin(d - 1); len(got) != 0 {
		t.Errorf("ConnectsWithin(%v), just short: got %+v, want none", d-1, got)
	}
}

// TestConnectsWithinEvents: each accept is judged against the last 421
// before it, per host.
func TestConnectsWithinEvents(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	r := Report{Hosts: map[string]HostCounts{
		"a": {Accepts: []time.Duration{ms(0), ms(10), ms(15), ms(40), ms(100)},
			Sent421: []Event421{{ms(10), TooManyConnections}, {ms(30), TooManyMessages}}},
		"b": {Accepts: []time.Duration{ms(12)}}, // no 421: nothing to violate
	}}
	tests := []struct {
		gap  time.Duration
		want []Violation
	}{
		{ms(4), nil},
		{ms(5), []Violation{{"a", TooManyConnections, ms(10), ms(15)}}},
		{ms(10), []Violation{{"a", TooManyConnections, ms(10), ms(15)}, {"a", TooManyMessages, ms(30), ms(40)}}},
		{ms(70), []Violation{{"a", TooManyConnections, ms(10), ms(15)}, {"a", TooManyMessages, ms(30), ms(40)}, {"a", TooManyMessages, ms(30), ms(100)}}},
	}
	for _, tc := range tests {
		got := r.ConnectsWithin(tc.gap)
		if len(got) != len(tc.want) {
			t.Errorf("ConnectsWithin(%v): got %+v, want %+v", tc.gap, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("ConnectsWithin(%v)[%d]: got %+v, want %+v", tc.gap, i, got[i], tc.want[i])
			}
		}
	}
}

// TestThrottleHosts: ordinary hosts throttle too, and a host without
// ENHANCEDSTATUSCODES sends its 421 greeting without the code.
func TestThrottleHosts(t *testing.T) {
	cfg := tinyConfig()
	cfg.ThrottleHosts, cfg.ProviderMaxConns, cfg.NoEnhanced = 3, 1, float64(cfg.Hosts)
	s := startSim(t, cfg)
	w := s.World
	var throttled []*Host
	for _, h := range w.HostsOf(HostLive) {
		if h.Throttled() {
			throttled = append(throttled, h)
			if h.MaxConns != 1 || h.Enhanced {
				t.Errorf("host %s: got max conns %d, enhanced %v; want 1, false", h.Name, h.MaxConns, h.Enhanced)
			}
		}
	}
	if len(throttled) != 3 {
		t.Fatalf("throttled hosts: got %d, want 3", len(throttled))
	}
	if !strings.Contains(w.Summary(), "throttled hosts: 3") {
		t.Errorf("world summary does not tell the throttled hosts:\n%s", w.Summary())
	}
	h := throttled[0]
	c1 := dial(t, s, h)
	c1.expect("220 ")
	c2 := dial(t, s, h)
	c2.line("421 " + h.Name + " too many connections, try again later")
	c2.closed()
	r := s.Report()
	if got := r.Hosts[h.Name]; got.TooManyConns != 1 || !got.Throttled {
		t.Errorf("host report: got %+v, want one 421", got)
	}
	if got := r.Hosts[throttled[2].Name]; !got.Throttled || got.Connections != 0 {
		t.Errorf("untouched throttling host: got %+v, want listed with no connections", got)
	}
}

func TestThrottleBound(t *testing.T) {
	const rtt = 10 * time.Millisecond
	t.Run("provider", func(t *testing.T) {
		cfg := Config{Seed: 3, Domains: 50, Hosts: 5, Users: 2, RTT: rtt,
			Providers: 1, ProviderHosts: 2, ProviderAddrs: 1, ProviderRcptRate: 5}
		w, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, r := range w.Recipients {
			want := 4 * rtt // greeting, EHLO, MAIL/RCPT/DATA, dot
			if r.Domain.Kind == KindProvider {
				// R = 2 hosts x 5/s: the first 10 are free, then one
				// every 100 ms; the RCPT's reply and the dot follow.
				if k >= 10 {
					want = time.Duration(k+1-10)*100*time.Millisecond + 2*rtt
				}
				k++
			}
			if r.Bound != want {
				t.Errorf("%s (%d-th at the provider): got bound %v, want %v", r.Addr, k-1, r.Bound, want)
			}
		}
		if k != 40 {
			t.Fatalf("provider recipients: got %d, want 40", k)
		}
		if want := 3*time.Second + 2*rtt; w.MaxBound() != want {
			t.Errorf("max bound: got %v, want %v", w.MaxBound(), want)
		}
		cfg.ProviderRcptRate = 0
		free, _ := Generate(cfg)
		if free.MaxBound() != 4*rtt {
			t.Errorf("unthrottled max bound: got %v, want %v", free.MaxBound(), 4*rtt)
		}
	})
	t.Run("ordinary host", func(t *testing.T) {
		cfg := Config{Seed: 3, Domains: 30, Hosts: 3, Users: 2, RTT: rtt, NoPipelining: 3,
			ThrottleHosts: 1, ProviderRcptRate: 2}
		w, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, r := range w.Recipients {
			h := r.Domain.MXHosts()[0]
			want := 6 * rtt // no PIPELINING: MAIL, RCPT and DATA one round trip each
			if h.RcptRate > 0 {
				if k >= 2 {
					want = time.Duration(k+1-2)*500*time.Millisecond + 3*rtt
				}
				k++
			}
			if r.Bound != want {
				t.Errorf("%s on %s: got bound %v, want %v", r.Addr, h.Name, r.Bound, want)
			}
		}
		if k == 0 {
			t.Fatal("no recipient on the throttled host")
		}
	})
}
