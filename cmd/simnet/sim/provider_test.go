package sim

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// listConfig is a small real-list world: three providers holding 40% of
// 10,000 recipients, the rest on 2,000 ordinary domains of every kind.
func listConfig() Config {
	c := DefaultConfig()
	c.Seed, c.Domains, c.Hosts, c.Users = 11, 2000, 200, 5
	c.Providers = 3
	return c
}

func TestProviderWorld(t *testing.T) {
	cfg := listConfig()
	w, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	provs := w.DomainsOf(KindProvider)
	if len(provs) != 3 {
		t.Fatalf("provider domains: got %d, want 3", len(provs))
	}
	total, at := len(w.Recipients), 0
	for i, d := range provs {
		if want := fmt.Sprintf("p%d.test", i+1); d.Name != want {
			t.Errorf("provider %d: got name %s, want %s", i+1, d.Name, want)
		}
		if got, want := len(d.Users), 10000*4/10/3; got < want || got > want+1 {
			t.Errorf("%s: got %d users, want %d or %d", d.Name, got, want, want+1)
		}
		at += len(d.Users)
		if len(d.MX) != 3 {
			t.Fatalf("%s: got %d MX, want 3", d.Name, len(d.MX))
		}
		for _, m := range d.MX {
			h := m.Host
			if m.Pref != d.MX[0].Pref {
				t.Errorf("%s: MX preferences %d and %d, want all equal", d.Name, d.MX[0].Pref, m.Pref)
			}
			if !slices.Equal(h.Serves, []string{d.Name}) || h.Kind != HostLive || !h.Pipelining || !h.Enhanced {
				t.Errorf("%s: host %s serves %v, kind %s; want a live ESMTP host of the provider alone", d.Name, h.Name, h.Serves, h.Kind)
			}
			if got := h.Addrs(); len(got) != 2 {
				t.Errorf("%s: got addresses %v, want 2", h.Name, got)
			}
			for _, a := range h.Addrs() {
				if w.HostByAddr(a) != h {
					t.Errorf("HostByAddr(%v): got %v, want %s", a, w.HostByAddr(a), h.Name)
				}
			}
		}
	}
	if share := float64(at) / float64(total); math.Abs(share-0.4) > 0.01 {
		t.Errorf("provider share: got %.3f (%d of %d), want 0.40", share, at, total)
	}
	if total < 10000 || total > 10300 {
		t.Errorf("recipients: got %d, want about 10000", total)
	}
	t.Run("addresses distinct and in order", func(t *testing.T) {
		seen := map[netip.Addr]string{}
		var prev netip.Addr
		for _, h := range w.Hosts {
			for _, a := range h.Addrs() {
				if o, dup := seen[a]; dup {
					t.Errorf("address %v: hosts %s and %s", a, o, h.Name)
				}
				if b := a.As4(); b[3] == 0 || b[3] == 255 || (prev.IsValid() && !prev.Less(a)) {
					t.Errorf("host %s: address %v after %v", h.Name, a, prev)
				}
				seen[a], prev = h.Name, a
			}
		}
	})
	t.Run("providers spread through the list", func(t *testing.T) {
		tenth := total / 10
		for part := range 10 {
			n := 0
			for _, r := range w.Recipients[part*tenth : (part+1)*tenth] {
				if r.Domain.Kind == KindProvider {
					n++
				}
			}
			if share := float64(n) / float64(tenth); math.Abs(share-0.4) > 0.05 {
				t.Errorf("tenth %d of the list: provider share %.2f, want about 0.40", part+1, share)
			}
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		again, _ := Generate(cfg)
		a, _ := w.MarshalIndent()
		b, _ := again.MarshalIndent()
		if !bytes.Equal(a, b) {
			t.Errorf("same config: got different worlds, want equal")
		}
	})
	if s := w.Summary(); !strings.Contains(s, "providers: 3 (") || !strings.Contains(s, "provider=3") {
		t.Errorf("summary does not tell the providers:\n%s", s)
	}
}

// TestLargeListWorld: a 100,000-recipient skewed world with providers
// generates quickly and keeps its shape.
func TestLargeListWorld(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Domains, cfg.Hosts, cfg.Users, cfg.Providers, cfg.Skew = 20000, 2000, 5, 3, 1
	start := time.Now()
	w, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("100,000 recipients generated in %v", time.Since(start))
	at := 0
	for _, d := range w.DomainsOf(KindProvider) {
		at += len(d.Users)
		if len(d.Users) < 13333 || len(d.Users) > 13334 {
			t.Errorf("%s: got %d users, want 13333 or 13334", d.Name, len(d.Users))
		}
	}
	if n := len(w.Recipients); n < 98000 || n > 105000 {
		t.Errorf("recipients: got %d, want about 100000", n)
	}
	if at != 40000 {
		t.Errorf("at providers: got %d, want 40000", at)
	}
}

func TestSkew(t *testing.T) {
	cfg := Config{Seed: 4, Domains: 1000, Hosts: 50, Users: 10, Skew: 1}
	w, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, d := range w.Domains {
		total += len(d.Users)
		if len(d.Users) < 1 || (i > 0 && len(d.Users) > len(w.Domains[i-1].Users)) {
			t.Errorf("%s: %d users after %d, want at least 1 and no more than the rank before", d.Name, len(d.Users), len(w.Domains[i-1].Users))
		}
	}
	first, last := len(w.Domains[0].Users), len(w.Domains[999].Users)
	if first < 100*last {
		t.Errorf("users of ranks 1 and 1000: got %d and %d, want a Zipf-like fall (at least 100x)", first, last)
	}
	if math.Abs(float64(total)-10000) > 500 {
		t.Errorf("recipients: got %d, want about 10000", total)
	}
	if len(w.Recipients) != total {
		t.Errorf("recipient list: got %d, want %d", len(w.Recipients), total)
	}
	again, _ := Generate(cfg)
	a, _ := w.MarshalIndent()
	b, _ := again.MarshalIndent()
	if !bytes.Equal(a, b) {
		t.Errorf("same seed: got different skewed worlds, want equal")
	}
	flat := cfg
	flat.Skew = 0
	fw, _ := Generate(flat)
	if len(fw.Domains[0].Users) != 10 || len(fw.Recipients) != 10000 {
		t.Errorf("without skew: got %d users on the first domain and %d recipients, want 10 and 10000", len(fw.Domains[0].Users), len(fw.Recipients))
	}
}

func TestProviderConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"too many providers", func(c *Config) { c.Providers = maxProviders + 1 }},
		{"share 1", func(c *Config) { c.Providers, c.ProviderShare = 1, 1 }},
		{"negative throttle", func(c *Config) { c.Providers, c.ProviderRcptRate = 1, -1 }},
		{"negative skew", func(c *Config) { c.Skew = -1 }},
		{"too many addresses", func(c *Config) { c.Providers, c.ProviderAddrs = 1, maxProviderAddrs+1 }},
		{"list too long", func(c *Config) { c.Skew, c.Domains, c.Users = 1, 200000, 100 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			tc.edit(&cfg)
			if _, err := Generate(cfg); err == nil {
				t.Errorf("Generate: got no error, want one")
			}
		})
	}
}

// providerConfig is the tiny world with one provider of two hosts on
// three addresses each; a third of its recipients are at the provider.
func providerConfig() Config {
	c := tinyConfig()
	c.Providers, c.ProviderHosts, c.ProviderAddrs = 1, 2, 3
	return c
}

func TestProviderServing(t *testing.T) {
	s := startSim(t, providerConfig())
	w := s.World
	p := w.Domain("p1.test")
	if p == nil {
		t.Fatal("no provider p1.test in the world")
	}
	t.Run("MX: one preference, every address as glue", func(t *testing.T) {
		r := mustQuery(t, s, p.Name, dns.TypeMX, "udp")
		mx := mxTargets(r)
		if len(mx) != 2 || mx[0].Pref != mx[1].Pref {
			t.Fatalf("MX: got %v, want 2 at one preference", mx)
		}
		var glue []string
		for _, rr := range r.Extra {
			if a, ok := rr.(*dns.A); ok {
				glue = append(glue, canon(a.Hdr.Name)+"="+a.A.String())
			}
		}
		for _, m := range p.MX {
			for _, a := range m.Host.Addrs() {
				if want := m.Host.Name + "=" + a.String(); !slices.Contains(glue, want) {
					t.Errorf("additional: got %v, want it to hold %v", glue, want)
				}
			}
		}
		if len(glue) != 6 {
			t.Errorf("additional A records: got %d, want 6", len(glue))
		}
	})
	t.Run("A: every address", func(t *testing.T) {
		h := p.MX[1].Host
		r := mustQuery(t, s, h.Name, dns.TypeA, "udp")
		var got []netip.Addr
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				ip, _ := netip.AddrFromSlice(a.A.To4())
				got = append(got, ip)
			}
		}
		if !slices.Equal(got, h.Addrs()) {
			t.Errorf("A %s: got %v, want %v", h.Name, got, h.Addrs())
		}
	})
	t.Run("every address answers as its host", func(t *testing.T) {
		for _, m := range p.MX {
			for _, a := range m.Host.Addrs() {
				c := dialAddr(t, netip.AddrPortFrom(a, uint16(s.SMTPPort())))
				if l := c.expect("220 "); !strings.Contains(l[0], m.Host.Name) {
					t.Errorf("greeting on %v: got %q, want host %s", a, l[0], m.Host.Name)
				}
			}
		}
	})
	t.Run("delivery on a further address", func(t *testing.T) {
		h := p.MX[0].Host
		dialAddr(t, netip.AddrPortFrom(h.More[1], uint16(s.SMTPPort()))).deliverOne(p.Users[0] + "@" + p.Name)
		r := s.Report()
		if len(r.Deliveries) != 1 || r.Deliveries[0].Host != h.Name || r.Deliveries[0].Addr != h.More[1] {
			t.Errorf("deliveries: got %+v, want one on %s at %v", r.Deliveries, h.Name, h.More[1])
		}
		if n := r.ConnectionsPerAddr[h.More[1]]; n != 2 { // this one and the greeting's above
			t.Errorf("connections on %v: got %d, want 2", h.More[1], n)
		}
	})
	if rl := s.ReadyLine(); !strings.Contains(rl, " providers=1") || !strings.HasSuffix(rl, "-"+w.Hosts[len(w.Hosts)-1].More[1].String()+" providers=1") {
		t.Errorf("ready line %q: want the last provider address and providers=1", rl)
	}
}

// dialAddr is dial for one address of a host.
func dialAddr(t *testing.T, ap netip.AddrPort) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp4", ap.String(), 5*time.Second)
	if err != nil {
		t.Fatalf("connect %v: %v", ap, err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}
