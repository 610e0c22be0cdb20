package sim

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// ipv6Config is the tiny world with every IPv6 kind: IPv6-only and
// dual-stack hosts, dead and refusing IPv6 addresses, and a provider.
func ipv6Config() Config {
	c := tinyConfig()
	c.Providers, c.ProviderHosts, c.ProviderAddrs = 1, 2, 2
	c.IPv6Prefix = netip.MustParsePrefix("fd5e:feed::/64")
	c.IPv6Only, c.DualStack, c.DeadIPv6, c.RefuseIPv6 = 2, 4, 1, 1
	return c
}

// Adding IPv6 changes nothing else of a world: hosts keep their names,
// kinds and IPv4 addresses (an IPv6-only host leaves its unused), domains
// their MX hosts, recipients their fate. IPv6 addresses follow one
// another from the prefix's ::1, ordinary hosts first, then providers'.
func TestIPv6Generate(t *testing.T) {
	bc := ipv6Config()
	bc.IPv6Prefix, bc.IPv6Only, bc.DualStack, bc.DeadIPv6, bc.RefuseIPv6 = netip.Prefix{}, 0, 0, 0, 0
	base, err := Generate(bc)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Generate(ipv6Config())
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Generate(ipv6Config())
	b1, _ := w.MarshalIndent()
	b2, _ := again.MarshalIndent()
	if !bytes.Equal(b1, b2) {
		t.Fatal("two worlds from one Config differ")
	}
	next := netip.MustParseAddr("fd5e:feed::1")
	var dual, only, dead, refuse int
	for i, h := range w.Hosts {
		o := base.Hosts[i]
		if h.Name != o.Name || h.Kind != o.Kind || h.Pipelining != o.Pipelining || h.StartTLS != o.StartTLS {
			t.Errorf("host %d: got %s %s, want %s %s as without IPv6", i, h.Name, h.Kind, o.Name, o.Kind)
		}
		var v6 netip.Addr
		switch {
		case h.Addr.Is6():
			only++
			v6 = h.Addr
			if h.Addr6.IsValid() || h.Kind6 != "" || h.HasFamily(4) {
				t.Errorf("IPv6-only %s: Addr6 %v, Kind6 %q, IPv4 %v; want none", h.Name, h.Addr6, h.Kind6, h.HasFamily(4))
			}
		case h.Addr6.IsValid():
			dual++
			v6 = h.Addr6
			if h.Addr != o.Addr {
				t.Errorf("dual-stack %s: IPv4 %v, want %v as without IPv6", h.Name, h.Addr, o.Addr)
			}
		default:
			if h.Addr != o.Addr {
				t.Errorf("%s: address %v, want %v as without IPv6", h.Name, h.Addr, o.Addr)
			}
		}
		if v6.IsValid() {
			if h.Kind != HostLive {
				t.Errorf("%s host %s has IPv6 address %v: only live hosts get one", h.Kind, h.Name, v6)
			}
			if v6 != next {
				t.Errorf("%s: IPv6 address %v, want %v (the next one)", h.Name, v6, next)
			}
			next = next.Next()
			if w.HostByAddr(v6) != h {
				t.Errorf("HostByAddr(%v) = %v, want %s", v6, w.HostByAddr(v6), h.Name)
			}
		}
		switch h.Kind6 {
		case HostDead:
			dead++
		case HostRefuse:
			refuse++
		}
		if h.Kind6 != "" && (!h.Addr6.IsValid() || strings.HasSuffix(h.Name, ".p1.test")) {
			t.Errorf("%s: IPv6 %s without being an ordinary dual-stack host", h.Name, h.Kind6)
		}
	}
	// 4 ordinary dual-stack hosts and the provider's 2.
	if dual != 6 || only != 2 || dead != 1 || refuse != 1 {
		t.Errorf("got %d dual-stack, %d IPv6-only, %d dead and %d refusing IPv6 addresses; want 6, 2, 1, 1", dual, only, dead, refuse)
	}
	for i, r := range w.Recipients {
		o := base.Recipients[i]
		if r.Addr != o.Addr || r.Expect != o.Expect || r.Host != o.Host || !strings.HasPrefix(r.Reason, o.Reason) {
			t.Errorf("recipient %s: %s at %s (%s), want %s at %s (%s) as without IPv6", r.Addr, r.Expect, r.Host, r.Reason, o.Expect, o.Host, o.Reason)
		}
		if h := w.Host(r.Host); h != nil && !h.HasFamily(4) && !strings.Contains(r.Reason, "IPv6") {
			t.Errorf("recipient %s on IPv6-only %s: reason %q says nothing of IPv6", r.Addr, h.Name, r.Reason)
		}
	}
	if !strings.Contains(w.Summary(), "ipv6: prefix fd5e:feed::/64, 6 dual-stack hosts (IPv6 dead 1, refusing 1), 2 IPv6-only") {
		t.Errorf("summary lacks the IPv6 line:\n%s", w.Summary())
	}
	rl := (&Sim{World: w, dns: &dnsServer{}, hosts: &hosts{}}).ReadyLine()
	want := (&Sim{World: base, dns: &dnsServer{}, hosts: &hosts{}}).ReadyLine()
	want = strings.Replace(want, " providers=", " host-addrs6=fd5e:feed::1-fd5e:feed::8 providers=", 1)
	if rl != want {
		t.Errorf("ready line %q, want %q", rl, want)
	}
}

func TestIPv6Validate(t *testing.T) {
	p := netip.MustParsePrefix("fd5e:feed::/64")
	for _, tc := range []struct {
		name string
		set  func(*Config)
	}{
		{"dual-stack without a prefix", func(c *Config) { c.DualStack = 2 }},
		{"IPv6-only without a prefix", func(c *Config) { c.IPv6Only = 0.5 }},
		{"dead IPv6 without dual-stack", func(c *Config) { c.IPv6Prefix, c.DeadIPv6 = p, 1 }},
		{"an IPv4 prefix", func(c *Config) { c.IPv6Prefix, c.DualStack = netip.MustParsePrefix("10.0.0.0/8"), 1 }},
		{"a negative share", func(c *Config) { c.IPv6Prefix, c.DualStack = p, -1 }},
		{"more IPv6 hosts than live ones", func(c *Config) { c.IPv6Prefix, c.DualStack, c.IPv6Only = p, 8, 8 }},
		{"a prefix too small", func(c *Config) { c.IPv6Prefix, c.DualStack = netip.MustParsePrefix("fd5e:feed::/126"), 4 }},
		{"more dead and refusing than dual-stack", func(c *Config) { c.IPv6Prefix, c.DualStack, c.DeadIPv6, c.RefuseIPv6 = p, 2, 2, 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig()
			tc.set(&c)
			if _, err := Generate(c); err == nil {
				t.Errorf("Generate: got no error")
			}
		})
	}
	// A prefix with nothing to give describes itself, glue and all.
	c := tinyConfig()
	c.GlueAAAA = true
	w, err := Generate(c)
	if err != nil || w.Config.GlueAAAA {
		t.Errorf("GlueAAAA without a prefix: got %v, glue %v; want it cleared", err, w.Config.GlueAAAA)
	}
}

// answerOf is the DNS server's reply to one question, without sockets.
func answerOf(w *World, name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	r, _ := (&dnsServer{world: w}).answer(q)
	return r
}

// addrsIn returns the addresses of the A and AAAA records in rrs owned by
// name.
func addrsIn(rrs []dns.RR, name string) []netip.Addr {
	var out []netip.Addr
	for _, rr := range rrs {
		if canon(rr.Header().Name) != name {
			continue
		}
		switch rr := rr.(type) {
		case *dns.A:
			a, _ := netip.AddrFromSlice(rr.A.To4())
			out = append(out, a)
		case *dns.AAAA:
			a, _ := netip.AddrFromSlice(rr.AAAA)
			out = append(out, a)
		}
	}
	return out
}

func TestIPv6DNS(t *testing.T) {
	cfg := ipv6Config()
	cfg.Implicit, cfg.IPv6Only, cfg.DualStack = 10, 3, 5
	w, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var only, dual, plain *Host
	for _, h := range w.HostsOf(HostLive) {
		switch {
		case h.Addr.Is6() && only == nil:
			only = h
		case h.Addr6.IsValid() && h.Kind6 == HostDead && dual == nil:
			dual = h
		case !h.HasFamily(6) && plain == nil:
			plain = h
		}
	}
	if only == nil || dual == nil || plain == nil {
		t.Fatalf("world lacks an IPv6-only, a dual-stack with dead IPv6 or an IPv4-only host: %v %v %v", only, dual, plain)
	}
	for _, tc := range []struct {
		host       *Host
		qt         uint16
		want       []netip.Addr
		wantNoData bool
	}{
		{only, dns.TypeA, nil, true},
		{only, dns.TypeAAAA, []netip.Addr{only.Addr}, false},
		{dual, dns.TypeA, []netip.Addr{dual.Addr}, false},
		{dual, dns.TypeAAAA, []netip.Addr{dual.Addr6}, false}, // published, dead or not
		{plain, dns.TypeAAAA, nil, true},
	} {
		r := answerOf(w, tc.host.Name, tc.qt)
		got := addrsIn(r.Answer, tc.host.Name)
		if r.Rcode != dns.RcodeSuccess || !equalAddrs(got, tc.want) || (tc.wantNoData && !hasSOA(r, soaMinimum)) {
			t.Errorf("%s %s: rcode %d, %v (SOA %v); want %v", tc.host.Name, dns.TypeToString[tc.qt], r.Rcode, got, hasSOA(r, soaMinimum), tc.want)
		}
	}
	t.Run("AAAA glue", func(t *testing.T) {
		d := domainOn(t, w, dual)
		for _, glue := range []bool{false, true} {
			w.Config.GlueAAAA = glue
			got := addrsIn(answerOf(w, d.Name, dns.TypeMX).Extra, dual.Name)
			want := []netip.Addr{dual.Addr}
			if glue {
				want = append(want, dual.Addr6)
			}
			if !equalAddrs(got, want) {
				t.Errorf("MX %s with GlueAAAA %v: additional %v, want %v", d.Name, glue, got, want)
			}
		}
		w.Config.GlueAAAA = false
	})
	t.Run("implicit MX on IPv6 hosts", func(t *testing.T) {
		seen := 0
		for _, d := range w.DomainsOf(KindImplicit) {
			h := d.ImplicitHost
			if !h.HasFamily(6) {
				continue
			}
			seen++
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
				var want []netip.Addr
				for _, a := range h.Addrs() {
					if (qt == dns.TypeA) == a.Is4() {
						want = append(want, a)
					}
				}
				if got := addrsIn(answerOf(w, d.Name, qt).Answer, d.Name); !equalAddrs(got, want) {
					t.Errorf("%s %s (host %s): %v, want %v", d.Name, dns.TypeToString[qt], h.Name, got, want)
				}
			}
		}
		if seen == 0 {
			t.Fatal("no implicit-MX domain on a host with IPv6")
		}
	})
}

func equalAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// HostOver: a client of one family delivers to the first MX host that
// listens on it.
func TestHostOver(t *testing.T) {
	v4 := &Host{Name: "v4", Kind: HostLive, Addr: netip.MustParseAddr("127.1.0.1")}
	v6 := &Host{Name: "v6", Kind: HostLive, Addr: netip.MustParseAddr("fd5e:feed::1")}
	deadV6 := &Host{Name: "dead6", Kind: HostLive, Addr: netip.MustParseAddr("127.1.0.2"), Addr6: netip.MustParseAddr("fd5e:feed::2"), Kind6: HostDead}
	dual := &Host{Name: "dual", Kind: HostLive, Addr: netip.MustParseAddr("127.1.0.3"), Addr6: netip.MustParseAddr("fd5e:feed::3")}
	dom := func(hs ...*Host) *Domain {
		d := &Domain{Kind: KindNormal}
		for i, h := range hs {
			d.MX = append(d.MX, MX{Pref: 10 * (i + 1), Host: h, Target: h.Name})
		}
		return d
	}
	for _, tc := range []struct {
		d            *Domain
		over4, over6 *Host
	}{
		{dom(v4), v4, nil},
		{dom(v6), nil, v6},
		{dom(v6, v4), v4, v6},
		{dom(deadV6, v6), deadV6, v6},
		{dom(dual), dual, dual},
	} {
		if got4, got6 := tc.d.HostOver(4), tc.d.HostOver(6); got4 != tc.over4 || got6 != tc.over6 {
			t.Errorf("MX %v: over IPv4 %v, over IPv6 %v; want %v, %v", tc.d.MX, got4, got6, tc.over4, tc.over6)
		}
	}
}

// Without the prefix on a local interface, Start says what the system
// needs.
func TestIPv6BindError(t *testing.T) {
	cfg := Config{Seed: 1, Domains: 2, Hosts: 2, IPv6Prefix: netip.MustParsePrefix("fd5e:feed:0:1::/64"), IPv6Only: 1}
	s, err := Start(cfg)
	if err == nil {
		s.Close()
		t.Skip("fd5e:feed:0:1::1 is bindable here: nothing to say")
	}
	if !strings.Contains(err.Error(), "fd5e:feed:0:1::1") {
		t.Errorf("Start: %v; want the address that failed", err)
	}
	if errors.Is(err, syscall.EADDRNOTAVAIL) && !strings.Contains(err.Error(), "ip -6 route add local fd5e:feed:0:1::/64 dev lo") {
		t.Errorf("Start: %v; want how to make the prefix local", err)
	}
}

// A host takes mail for its own address literal, records it as sent and
// says on which address it came in.
func TestLiteralRcpt(t *testing.T) {
	s := startSim(t, tinyConfig())
	w := s.World
	d := plainDomain(t, w, KindNormal)
	h := d.MXHosts()[0]
	other := liveHost(t, w, func(o *Host) bool { return o != h })
	lit := d.Users[0] + "@[" + h.Addr.String() + "]"
	for _, tc := range []struct{ rcpt, want string }{
		{"nobody@[" + h.Addr.String() + "]", "550 5.1.1"},
		{d.Users[0] + "@[" + other.Addr.String() + "]", "550 5.7.1"},
		{d.Users[0] + "@[IPv6:" + h.Addr.String() + "]", "550 5.7.1"},
		{d.Users[0] + "@[" + h.Addr.String(), "550 5.7.1"},
	} {
		c := dial(t, s, h)
		c.expect("220 ")
		c.send("EHLO t", "MAIL FROM:<a@b.test>", "RCPT TO:<"+tc.rcpt+">")
		c.expect("250 ")
		c.expect("250 ")
		if _, l := c.reply(); !strings.HasPrefix(l[0], tc.want) {
			t.Errorf("RCPT %s: got %q, want %q", tc.rcpt, l[0], tc.want)
		}
	}
	dial(t, s, h).deliverOne(lit)
	r := s.Report()
	if len(r.Deliveries) != 1 || r.Deliveries[0].Rcpt != lit || r.Deliveries[0].Host != h.Name || r.Deliveries[0].Addr != h.Addr {
		t.Fatalf("deliveries %+v, want one of %s on %s at %v", r.Deliveries, lit, h.Name, h.Addr)
	}
	if n := r.ConnectionsPerAddr[h.Addr]; n != 5 {
		t.Errorf("connections on %v: got %d, want 5", h.Addr, n)
	}
}
