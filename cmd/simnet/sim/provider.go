package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Big providers and throttling hosts.
//
// A real list has a third to a half of its recipients at a few providers
// (Gmail, Outlook, Yahoo), each behind a few MX hosts of equal preference
// with several addresses each, all throttling senders. A provider here is
// a domain p<i>.test whose MX hosts mx<j>.p<i>.test serve it alone. Its
// hosts come after the ordinary ones, in Hosts and in address space, and
// draw from a random generator of their own: a Config without providers
// gives the world it gave before providers existed.

// The limits of the provider knobs: beyond them a world is a mistake, not
// a test.
const (
	maxProviders     = 100
	maxProviderHosts = 32
	maxProviderAddrs = 16
	// maxListSize caps Domains*Users when providers or skew share it out,
	// so that a typo does not try to build a list of billions.
	maxListSize = 10_000_000
)

// providerDefaults fills the provider knobs' defaults, and clears the
// knobs that select nothing, so that such a world describes itself as it
// did before they existed.
func (c Config) providerDefaults() Config {
	if c.Providers <= 0 {
		c.Providers, c.ProviderShare, c.ProviderHosts, c.ProviderAddrs = 0, 0, 0, 0
	} else {
		if c.ProviderShare == 0 {
			c.ProviderShare = 0.4
		}
		if c.ProviderHosts <= 0 {
			c.ProviderHosts = 3
		}
		if c.ProviderAddrs <= 0 {
			c.ProviderAddrs = 2
		}
	}
	if c.Providers == 0 && c.ThrottleHosts == 0 {
		c.ProviderMaxConns, c.ProviderMsgsPerConn, c.ProviderRcptRate = 0, 0, 0
	}
	return c
}

// validateProviders says what is wrong with the provider, throttle and
// skew knobs (after withDefaults).
func (c Config) validateProviders() error {
	if c.Providers > maxProviders {
		return fmt.Errorf("sim: providers %d out of range 0..%d", c.Providers, maxProviders)
	}
	if c.Providers > 0 {
		if !(c.ProviderShare > 0 && c.ProviderShare < 1) {
			return fmt.Errorf("sim: provider share %v must be in (0,1)", c.ProviderShare)
		}
		if c.ProviderHosts > maxProviderHosts || c.ProviderAddrs > maxProviderAddrs {
			return fmt.Errorf("sim: provider hosts %d and addresses %d must be at most %d and %d", c.ProviderHosts, c.ProviderAddrs, maxProviderHosts, maxProviderAddrs)
		}
	}
	if c.ProviderMaxConns < 0 || c.ProviderMsgsPerConn < 0 || c.ProviderRcptRate < 0 {
		return fmt.Errorf("sim: throttles conns=%d msgs=%d rate=%d must be >= 0", c.ProviderMaxConns, c.ProviderMsgsPerConn, c.ProviderRcptRate)
	}
	if c.Skew < 0 || c.Skew > 10 || math.IsNaN(c.Skew) {
		return fmt.Errorf("sim: skew %v out of range 0..10", c.Skew)
	}
	if (c.Providers > 0 || c.Skew > 0) && int64(c.Domains)*int64(c.Users) > maxListSize {
		return fmt.Errorf("sim: a list of %d domains x %d users is over %d recipients", c.Domains, c.Users, maxListSize)
	}
	return nil
}

// providerAddrs is the number of addresses the provider hosts take.
func (c Config) providerAddrs() int { return c.Providers * c.ProviderHosts * c.ProviderAddrs }

// providerRNG is the generator of everything about providers and
// throttles, apart from the main one so that old worlds stay the same.
func providerRNG(cfg Config) *rand.Rand { return rand.New(rand.NewPCG(cfg.Seed, 0x70726f76)) }

// addProviders appends the provider domains and their hosts, on addrs (the
// addresses after the ordinary hosts'), and throttles the chosen ordinary
// live hosts.
func (w *World) addProviders(rng *rand.Rand, live []*Host, addrs []netip.Addr) {
	cfg := w.Config
	throttle := func(h *Host) {
		h.MaxConns, h.MsgsPerConn, h.RcptRate = cfg.ProviderMaxConns, cfg.ProviderMsgsPerConn, cfg.ProviderRcptRate
	}
	for i, on := range pick(rng, len(live), cfg.ThrottleHosts) {
		if on {
			throttle(live[i])
		}
	}
	for p := range cfg.Providers {
		d := &Domain{Index: len(w.Domains), Name: fmt.Sprintf("p%d.%s", p+1, Zone), Kind: KindProvider}
		if cfg.DNSDelay > 0 && cfg.DNSDelayShare == 0 {
			d.DNSDelay = cfg.DNSDelay
		}
		// One round trip for all of a provider's hosts: they stand for
		// one site, and the bound can take any of them.
		rtt := cfg.RTT
		if span := cfg.RTTMax - cfg.RTT; span > 0 {
			rtt += time.Duration(rng.Int64N(int64(span) + 1))
		}
		for j := range cfg.ProviderHosts {
			// Well-run hosts: every extension, and STARTTLS when the
			// world has TLS at all.
			h := &Host{
				Index: len(w.Hosts), Name: fmt.Sprintf("mx%d.%s", j+1, d.Name), Kind: HostLive,
				Addr:       addrs[0],
				Pipelining: true, EightBitMIME: true, Size: true, Enhanced: true,
				StartTLS: cfg.StartTLS > 0, RTT: rtt, Serves: []string{d.Name},
			}
			if cfg.ProviderAddrs > 1 {
				h.More = addrs[1:cfg.ProviderAddrs:cfg.ProviderAddrs]
			}
			addrs = addrs[cfg.ProviderAddrs:]
			throttle(h)
			w.Hosts = append(w.Hosts, h)
			w.hostByName[h.Name] = h
			for _, a := range h.Addrs() {
				w.hostByAddr[a] = h
			}
			d.MX = append(d.MX, MX{Pref: 10, Host: h, Target: h.Name})
		}
		w.Domains = append(w.Domains, d)
		w.names[d.Name] = d
	}
}

// providerSummary is the Summary line on providers and throttles; "" when
// the world has neither.
func (w *World) providerSummary() string {
	cfg := w.Config
	throttled := 0
	for _, h := range w.Hosts {
		if h.Throttled() {
			throttled++
		}
	}
	if cfg.Providers == 0 && throttled == 0 && cfg.Skew == 0 {
		return ""
	}
	at := 0
	for _, r := range w.Recipients {
		if r.Domain.Kind == KindProvider {
			at++
		}
	}
	s := fmt.Sprintf("providers: %d (%d recipients, %.0f%%), %d hosts each x %d addresses, all at one preference; skew %v\n",
		cfg.Providers, at, 100*float64(at)/float64(max(1, len(w.Recipients))), cfg.ProviderHosts, cfg.ProviderAddrs, cfg.Skew)
	if throttled > 0 {
		s += fmt.Sprintf("throttled hosts: %d, max-conns=%d msgs-per-conn=%d rcpt-rate=%d/s\n",
			throttled, cfg.ProviderMaxConns, cfg.ProviderMsgsPerConn, cfg.ProviderRcptRate)
	}
	return s
}
