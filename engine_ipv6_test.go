package smtpfeed

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
)

// The engine over IPv6, against simnet worlds whose hosts have addresses
// from netnsPrefix: each test runs in a network namespace of its own
// (netns_test.go), where the whole prefix is local.

// ipv6World starts a world with its IPv6 addresses in netnsPrefix; only
// inside inNetns.
func ipv6World(t *testing.T, cfg sim.Config) *sim.Sim {
	t.Helper()
	cfg.IPv6Prefix = netnsPrefix
	return startWorld(t, cfg)
}

// bothFamilies is newEngineRun's configuration with AAAA asked and both
// families used (newEngineRun's is IPv4 only).
func bothFamilies(c *Config) { c.Resolver.IPv4Only = false }

func addrFamily(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// overFamily is the family a dual-stack client reaches h over: the one
// it prefers, unless h does not answer there.
func overFamily(h *sim.Host, preferV6 bool) int {
	pref, other := 4, 6
	if preferV6 {
		pref, other = 6, 4
	}
	if h.Listens(pref) {
		return pref
	}
	return other
}

// checkFamilies checks that every delivery came in on an address of its
// host of the family want says, and that no connection was accepted on
// an address of another family.
func checkFamilies(t *testing.T, s *sim.Sim, want func(*sim.Host) int) {
	t.Helper()
	rep, w := s.Report(), s.World
	bad := 0
	for _, d := range rep.Deliveries {
		h := w.Host(d.Host)
		if w.HostByAddr(d.Addr) != h || addrFamily(d.Addr) != want(h) {
			if bad++; bad <= 10 {
				t.Errorf("%s delivered to %s on %v, want an IPv%d address of the host", d.Rcpt, d.Host, d.Addr, want(h))
			}
		}
	}
	for a, n := range rep.ConnectionsPerAddr {
		if h := w.HostByAddr(a); h == nil || addrFamily(a) != want(h) {
			t.Errorf("%d connections to %v (host %v), want none there: its host is reached over IPv%d", n, a, h, want(h))
		}
	}
}

// count6 counts the deliveries that came in over IPv6.
func count6(rep sim.Report) int {
	n := 0
	for _, d := range rep.Deliveries {
		if d.Addr.Is6() {
			n++
		}
	}
	return n
}

// A dual-stack world with both families in use: every recipient once,
// over IPv4 by default, over IPv6 to the hosts that have it with
// PreferIPv6.
func TestEngineIPv6DualStack(t *testing.T) {
	inNetns(t, func(t *testing.T) {
		for _, preferV6 := range []bool{false, true} {
			t.Run(fmt.Sprintf("PreferIPv6=%v", preferV6), func(t *testing.T) {
				s := ipv6World(t, sim.Config{Seed: 21, Domains: 60, Hosts: 12, Users: 2, SecondMX: 0.5,
					DualStack: 0.75, DeferRcpts: 2, BounceRcpts: 2})
				r := newEngineRun(t, s, func(c *Config) { bothFamilies(c); c.Resolver.PreferIPv6 = preferV6 })
				rcpts := s.World.Addresses()
				r.deliver(rcpts, 30*time.Second)
				r.check(rcpts)
				checkFamilies(t, s, func(h *sim.Host) int { return overFamily(h, preferV6) })
				rep := s.Report()
				if n := count6(rep); preferV6 != (n > 0) {
					t.Errorf("%d of %d deliveries over IPv6 with PreferIPv6 %v", n, len(rep.Deliveries), preferV6)
				}
			})
		}
	})
}

// Hosts with IPv6 only, beside IPv4-only ones, both families in use and
// IPv4 preferred: the IPv6-only hosts get their mail over IPv6. Without
// AAAA glue their AAAA records are asked; with it, never.
func TestEngineIPv6OnlyHosts(t *testing.T) {
	inNetns(t, func(t *testing.T) {
		for _, glue := range []bool{false, true} {
			t.Run(fmt.Sprintf("GlueAAAA=%v", glue), func(t *testing.T) {
				s := ipv6World(t, sim.Config{Seed: 22, Domains: 60, Hosts: 12, Users: 2, SecondMX: 0.3,
					IPv6Only: 0.5, GlueAAAA: glue, Implicit: 4})
				r := newEngineRun(t, s, bothFamilies)
				rcpts := s.World.Addresses()
				r.deliver(rcpts, 30*time.Second)
				r.check(rcpts)
				checkFamilies(t, s, func(h *sim.Host) int { return overFamily(h, false) })
				rep := s.Report()
				if count6(rep) == 0 {
					t.Fatal("no delivery over IPv6")
				}
				// An MX target's name, not an implicit MX's (whose AAAA
				// is the domain's).
				targets := map[*sim.Host]bool{}
				for _, d := range s.World.Domains {
					for _, m := range d.MX {
						targets[m.Host] = m.Host != nil
					}
				}
				for h := range targets {
					if !targets[h] || h.HasFamily(4) || rep.ConnectionsPerHost[h.Name] == 0 {
						continue
					}
					n := rep.DNSCount(h.Name, "AAAA")
					if glue && n != 0 || !glue && n == 0 {
						t.Errorf("IPv6-only %s: AAAA asked %d times with GlueAAAA %v", h.Name, n, glue)
					}
				}
			})
		}
	})
}

// familyWorld mixes IPv4-only, dual-stack and IPv6-only hosts, half the
// domains with a second MX.
var familyWorld = sim.Config{Seed: 23, Domains: 80, Hosts: 15, Users: 2, SecondMX: 0.5,
	IPv6Only: 0.3, DualStack: 0.3, DeferRcpts: 2, BounceRcpts: 2}

// checkFamilyOnly compares every answer with what a client of one family
// should get: a recipient of a domain none of whose live MX hosts answers
// over the family is deferred (the domain is fine, we cannot reach it);
// the others get the world's expectation, delivered at the first MX host
// that answers over the family (sim.Domain.HostOver), over it. It
// returns how many were deferred for the family.
func (r *engineRun) checkFamilyOnly(rcpts []string, family int) (unreachable int) {
	r.t.Helper()
	status := map[sim.Outcome]smtp.Status{sim.Delivered: smtp.Delivered, sim.Deferred: smtp.Deferred, sim.Bounced: smtp.Bounced}
	rep := r.s.Report()
	at := map[string][]sim.Delivery{}
	for _, d := range rep.Deliveries {
		at[strings.ToLower(d.Rcpt)] = append(at[strings.ToLower(d.Rcpt)], d)
	}
	bad := 0
	fail := func(format string, args ...any) {
		if bad++; bad <= 10 {
			r.t.Errorf(format, args...)
		}
	}
	for i, a := range rcpts {
		exp := r.s.World.Recipient(a)
		want, host := exp.Expect, exp.Domain.HostOver(family)
		if host == nil && len(exp.Domain.MXHosts()) > 0 {
			want = sim.Deferred
			unreachable++
		}
		got := r.answers[i]
		if len(got) != 1 {
			fail("%s: %d answers, want 1", a, len(got))
			continue
		}
		if got[0].Status != status[want] || (host == nil && got[0].Code/100 != 4) {
			fail("%s (%s; over IPv%d: host %v): %v, want %v", a, exp.Reason, family, host, got[0], want)
		}
		if ds := at[strings.ToLower(a)]; want == sim.Delivered && (len(ds) != 1 || ds[0].Host != host.Name || addrFamily(ds[0].Addr) != family) {
			fail("%s: deliveries %+v, want one at %s over IPv%d", a, ds, host.Name, family)
		}
	}
	if len(rep.Duplicates) != 0 {
		r.t.Errorf("%d duplicate deliveries, first %v", len(rep.Duplicates), rep.Duplicates[0])
	}
	return unreachable
}

// checkOneFamily: every connection the engine made reached a listener
// (none went to the other family, whose addresses all listen too) on an
// address of the family.
func checkOneFamily(t *testing.T, r *engineRun, family int) {
	t.Helper()
	rep := r.s.Report()
	if st := r.e.Stats(); st.Connections != rep.Connections {
		t.Errorf("%d connects started, %d accepted: want every connect accepted", st.Connections, rep.Connections)
	}
	checkFamilies(t, r.s, func(*sim.Host) int { return family })
}

// -N 4: recipients of domains on IPv6-only hosts deferred, the rest
// delivered over IPv4, no connection to an IPv6 address.
func TestEngineIPv6FamilyOnly4(t *testing.T) {
	familyOnly(t, 4, func(c *Config) { c.Family, c.Resolver.IPv4Only = 4, true })
}

// -N 6: recipients of domains on IPv4-only hosts deferred, the rest
// delivered over IPv6, no connection to an IPv4 address.
func TestEngineIPv6FamilyOnly6(t *testing.T) {
	familyOnly(t, 6, func(c *Config) { bothFamilies(c); c.Family, c.Resolver.PreferIPv6 = 6, true })
}

// familyOnly delivers familyWorld, in a namespace, with the engine
// limited to one family by tweak.
func familyOnly(t *testing.T, family int, tweak func(*Config)) {
	inNetns(t, func(t *testing.T) {
		s := ipv6World(t, familyWorld)
		r := newEngineRun(t, s, tweak)
		rcpts := s.World.Addresses()
		r.deliver(rcpts, 30*time.Second)
		if n := r.checkFamilyOnly(rcpts, family); n == 0 {
			t.Errorf("world of seed %d has no domain without an IPv%d host: the test tests nothing", familyWorld.Seed, family)
		}
		checkOneFamily(t, r, family)
	})
}

// Happy Eyeballs: dual-stack hosts half of whose IPv6 addresses hang, or
// refuse, with IPv6 preferred. Their recipients go over IPv4 once, the
// others' over IPv6; a hanging address costs the family race delay, not
// the connect timeout.
func TestEngineIPv6HappyEyeballs(t *testing.T) {
	inNetns(t, func(t *testing.T) {
		for _, tc := range []struct {
			name string
			set  func(*sim.Config)
		}{
			{"dead", func(c *sim.Config) { c.DeadIPv6 = 0.5 }},
			{"refused", func(c *sim.Config) { c.RefuseIPv6 = 0.5 }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cfg := sim.Config{Seed: 24, Domains: 40, Hosts: 8, Users: 3, SecondMX: 0.5, DualStack: 8}
				tc.set(&cfg)
				s := ipv6World(t, cfg)
				const connectTimeout = 8 * time.Second
				r := newEngineRun(t, s, func(c *Config) {
					bothFamilies(c)
					c.Resolver.PreferIPv6, c.ConnectTimeout = true, connectTimeout
				})
				rcpts := s.World.Addresses()
				start := time.Now()
				r.deliver(rcpts, 3*connectTimeout)
				took := time.Since(start)
				r.check(rcpts)
				checkFamilies(t, s, func(h *sim.Host) int { return overFamily(h, true) })
				rep := s.Report()
				if n := count6(rep); n == 0 || n == len(rep.Deliveries) {
					t.Errorf("%d of %d deliveries over IPv6, want some and not all", n, len(rep.Deliveries))
				}
				st := r.e.Stats()
				switch tc.name {
				case "dead":
					if st.Raced == 0 || took >= connectTimeout/2 {
						t.Errorf("took %v with %d raced connects: want the race to IPv4 (%v), not the connect timeout (%v)",
							took, st.Raced, MinRaceDelay, connectTimeout)
					}
				case "refused":
					if st.Unreachable == 0 {
						t.Errorf("stats %+v: want the refusing IPv6 addresses marked down", st)
					}
				}
			})
		}
	})
}

// An address literal: user@[IPv6:addr] goes to the host on that address,
// as user@[addr] to its IPv4 one; with -N 4 an IPv6 literal is refused.
func TestEngineIPv6Literal(t *testing.T) {
	inNetns(t, func(t *testing.T) {
		s := ipv6World(t, sim.Config{Seed: 25, Domains: 20, Hosts: 6, Users: 1, IPv6Only: 2, DualStack: 2})
		w := s.World
		var only, dual *sim.Host
		for _, h := range w.HostsOf(sim.HostLive) {
			switch {
			case len(h.Serves) == 0:
			case h.Addr.Is6() && only == nil:
				only = h
			case h.Addr6.IsValid() && dual == nil:
				dual = h
			}
		}
		if only == nil || dual == nil {
			t.Fatalf("world of seed 25 lacks an IPv6-only or a dual-stack host serving a domain")
		}
		user := func(h *sim.Host) string { return w.Domain(h.Serves[0]).Users[0] }
		lits := map[string]netip.Addr{
			user(only) + "@[IPv6:" + only.Addr.String() + "]":  only.Addr,
			user(dual) + "@[IPv6:" + dual.Addr6.String() + "]": dual.Addr6,
			user(dual) + "@[" + dual.Addr.String() + "]":       dual.Addr,
		}
		var rcpts []string
		for a := range lits {
			rcpts = append(rcpts, a)
		}
		t.Run("both families", func(t *testing.T) {
			r := newEngineRun(t, s, bothFamilies)
			r.deliver(rcpts, 30*time.Second)
			got := map[string][]sim.Delivery{}
			for _, d := range s.Report().Deliveries {
				got[strings.ToLower(d.Rcpt)] = append(got[strings.ToLower(d.Rcpt)], d)
			}
			for i, a := range rcpts {
				want := lits[a]
				if ans := r.answers[i]; len(ans) != 1 || ans[0].Status != smtp.Delivered {
					t.Errorf("%s: answers %v, want one delivered", a, ans)
				}
				if ds := got[strings.ToLower(a)]; len(ds) != 1 || ds[0].Addr != want || ds[0].Host != w.HostByAddr(want).Name {
					t.Errorf("%s: deliveries %+v, want one at %s on %v", a, ds, w.HostByAddr(want).Name, want)
				}
			}
		})
		t.Run("-N 4", func(t *testing.T) {
			r := newEngineRun(t, s, func(c *Config) { c.Family, c.Resolver.IPv4Only = 4, true })
			r.deliver(rcpts, 30*time.Second)
			for i, a := range rcpts {
				want := smtp.Bounced // refused, as README says
				if lits[a].Is4() {
					want = smtp.Delivered
				}
				if ans := r.answers[i]; len(ans) != 1 || ans[0].Status != want {
					t.Errorf("%s: answers %v, want one %v", a, ans, want)
				}
			}
		})
	})
}
