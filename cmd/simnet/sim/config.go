package sim

import (
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Config describes a world to generate. Every knob that selects domains or
// hosts is a Share: a value in (0,1) is a fraction of the domains (or hosts),
// a value >= 1 is a count, 0 means none. The same Config and Seed always give
// the same world, so a test or benchmark can name a world by its flags.
type Config struct {
	Seed    uint64
	Domains int // number of recipient domains, d00001.test ..., providers not included
	Hosts   int // number of mail hosts, mx0001.hosts.test ..., including dead and refusing ones, providers' not included
	Users   int // users per domain, user1 ... userN; with Providers or Skew, Domains*Users is the list's size

	// Domain kinds. They are exclusive: a domain has one kind; the rest
	// of the domains are "normal" (one or two live MX hosts).
	Share       float64 // groups of ShareGroup domains whose first MX is the same host
	ShareGroup  int     // domains per shared group (default 5)
	DeadFirst   float64 // MX 10 is a dead host (connect hangs), MX 20 is live
	RefuseFirst float64 // MX 10 refuses connections (RST), MX 20 is live
	Crossed     float64 // pairs: host X is MX 10 of one and MX 20 of the other, host Y the reverse
	Implicit    float64 // no MX, only an A record (implicit MX, RFC 5321 5.1)
	CNAME       float64 // the domain is a CNAME to a name in the zone that owns the MX
	NullMX      float64 // RFC 7505 "MX 0 ."
	NXDomain    float64 // the name does not exist
	Silent      float64 // queries for the name are never answered
	Truncate    float64 // UDP answers carry TC=1 and no records; TCP answers in full
	SecondMX    float64 // normal domains that also get an MX 20 on another live host (default 0.5)

	// DNS delay: every query for a selected name is answered DNSDelay after
	// it arrived. DNSDelayShare selects the domains (their names and CNAME
	// targets); 0 with DNSDelay > 0 means every name, host names included.
	DNSDelay      time.Duration
	DNSDelayShare float64

	// DropBurst (-drop-burst) models a server whose socket buffer
	// overflows: of the UDP queries arriving beyond BurstLimit within one
	// BurstWindow, a share BurstDropShare is dropped unanswered. A stream
	// paced at BurstLimit per BurstWindow loses nothing. 0: off.
	BurstLimit     int
	BurstWindow    time.Duration
	BurstDropShare float64

	// Host kinds: fractions or counts of Hosts. A dead host's connect hangs,
	// a refusing host's connect gets ECONNREFUSED. At least one of each is
	// made when a domain kind needs it.
	DeadHosts   float64
	RefuseHosts float64

	// Per-host SMTP switches (Shares of the live hosts).
	NoPipelining float64
	No8BitMIME   float64
	NoSize       float64
	NoEnhanced   float64 // no ENHANCEDSTATUSCODES: replies carry no x.y.z
	HeloOnly     float64 // EHLO answered 502; such hosts advertise nothing
	RcptLimited  float64 // hosts that take at most RcptLimit recipients per transaction
	RcptLimit    int     // default 100
	// DSN: live hosts (HELO-only ones excepted) that advertise DSN (RFC
	// 3461) and take RET, ENVID, NOTIFY and ORCPT, recording them as
	// received in their deliveries. 0 (the default): none do, as before.
	DSN float64 `json:",omitempty"`
	// TLS: Shares of the live hosts (HELO-only ones excepted) that offer
	// STARTTLS; that offer it and fail every handshake; that offer it
	// with TLS 1.2 at most. A host picked by either of the last two
	// offers STARTTLS whatever StartTLS picked.
	StartTLS  float64
	TLSBroken float64
	TLS12Only float64
	// DANE: DNSSEC sets the AD bit on every answer, as a validating
	// resolver in front of a signed zone would. DANEMatch and
	// DANEMismatch are Shares of the hosts with working STARTTLS that
	// publish a TLSA record (3 1 1) for their own key, or one that
	// matches nothing.
	DNSSEC        bool
	DANEMatch     float64
	DANEMismatch  float64
	MaxSize       int64 // SIZE limit advertised and enforced, default 10 MiB
	RTT           time.Duration
	RTTMax        time.Duration // when > RTT, each host's RTT is uniform in [RTT, RTTMax]
	DeferRcpts    float64       // Share of the recipients of deliverable domains renamed defer-* (450 4.2.0)
	BounceRcpts   float64       // Share renamed bounce-* (550 5.1.1)
	DNSAddr       string        // "127.0.0.1:0" picks a free port
	SMTPPort      int           // 0 picks one free port that binds on every host address
	FirstHostAddr netip.Addr    // default 127.1.0.1; host addresses never fall in 127.0.0.0/16

	// A skewed "real list" world (provider.go, sizes.go). These knobs are
	// left out of the JSON when zero, so that the description of a world
	// without them stays byte for byte what tests and benchmarks recorded.
	//
	// Providers big-provider domains (p1.test ...) hold ProviderShare of
	// the list, split evenly. Each has ProviderHosts MX hosts of its own,
	// all at one preference, each with ProviderAddrs addresses. With
	// providers, Domains*Users is the size of the whole list and the
	// ordinary domains share the rest.
	Providers     int     `json:",omitempty"`
	ProviderShare float64 `json:",omitempty"` // default 0.4 with providers
	ProviderHosts int     `json:",omitempty"` // default 3
	ProviderAddrs int     `json:",omitempty"` // default 2
	// Throttles of every provider host and of ThrottleHosts (a Share of
	// the live ordinary hosts); 0 is off. See Host.MaxConns and the rest.
	ProviderMaxConns    int     `json:",omitempty"`
	ProviderMsgsPerConn int     `json:",omitempty"`
	ProviderRcptRate    int     `json:",omitempty"`
	ThrottleHosts       float64 `json:",omitempty"`
	// Skew > 0 gives the ordinary domains Zipf-like sizes: the domain of
	// rank k (d00001 is rank 1) gets users in proportion to k^-Skew, at
	// least one, about N in all, N being Domains*Users less the
	// providers' share (sizes.go).
	Skew float64 `json:",omitempty"`

	// IPv6 (ipv6.go), left out of the JSON when zero like the knobs
	// above. IPv6Prefix is where IPv6 host addresses come from, one after
	// the other from its ::1; the zero Prefix means no IPv6 at all.
	// DualStack and IPv6Only are Shares of the live ordinary hosts that
	// get an IPv6 address as well as their IPv4 one, or instead of it (no
	// A record, listening on IPv6 only); with DualStack, provider hosts
	// are dual-stack too. DeadIPv6 and RefuseIPv6 are Shares of the
	// dual-stack ordinary hosts whose IPv6 address hangs or refuses while
	// their IPv4 one answers. GlueAAAA puts AAAA records beside the A
	// records in the MX answers' additional section; off, a client learns
	// IPv6 addresses only by asking AAAA itself.
	IPv6Prefix netip.Prefix `json:",omitzero"`
	DualStack  float64      `json:",omitempty"`
	IPv6Only   float64      `json:",omitempty"`
	DeadIPv6   float64      `json:",omitempty"`
	RefuseIPv6 float64      `json:",omitempty"`
	GlueAAAA   bool         `json:",omitempty"`
}

// DefaultConfig is a small world with every kind present, suitable for tests
// and the demo.
func DefaultConfig() Config {
	return Config{
		Seed: 1, Domains: 1000, Hosts: 100, Users: 3,
		Share: 0.05, ShareGroup: 5, DeadFirst: 0.02, RefuseFirst: 0.02, Crossed: 0.02,
		Implicit: 0.02, CNAME: 0.02, NullMX: 0.01, NXDomain: 0.01, Silent: 0.01, Truncate: 0.02,
		SecondMX: 0.5, DeadHosts: 0.02, RefuseHosts: 0.02,
		NoPipelining: 0.1, No8BitMIME: 0.1, NoSize: 0.1, NoEnhanced: 0.1, HeloOnly: 0.05,
		RcptLimited: 0.1, RcptLimit: 100, DeferRcpts: 0.01, BounceRcpts: 0.01,
		DNSAddr: "127.0.0.1:0",
	}
}

// count turns a Share into a count out of n: fractions round to nearest,
// counts are capped at n.
func count(share float64, n int) int {
	switch {
	case share <= 0 || n <= 0:
		return 0
	case share < 1:
		return int(math.Round(share * float64(n)))
	default:
		return min(int(share), n)
	}
}

// withDefaults fills the zero values that have a non-zero default.
func (c Config) withDefaults() Config {
	if c.Users <= 0 {
		c.Users = 1
	}
	if c.ShareGroup <= 1 {
		c.ShareGroup = 5
	}
	if c.RcptLimit <= 0 {
		c.RcptLimit = 100
	}
	if c.MaxSize <= 0 {
		c.MaxSize = 10 << 20
	}
	if c.DNSAddr == "" {
		c.DNSAddr = "127.0.0.1:0"
	}
	if !c.FirstHostAddr.IsValid() {
		c.FirstHostAddr = netip.AddrFrom4([4]byte{127, 1, 0, 1})
	}
	if c.RTTMax < c.RTT {
		c.RTTMax = c.RTT
	}
	if c.BurstWindow <= 0 {
		c.BurstWindow = DefaultBurstWindow
	}
	return c.providerDefaults().ipv6Defaults()
}

// validate says what is wrong with a Config (after withDefaults).
func (c Config) validate() error {
	if c.Domains < 1 || c.Domains > 999999 {
		return fmt.Errorf("sim: domains %d out of range 1..999999", c.Domains)
	}
	if c.Hosts < 1 || c.Hosts > 200000 {
		return fmt.Errorf("sim: hosts %d out of range 1..200000", c.Hosts)
	}
	if c.Users > 100000 {
		return fmt.Errorf("sim: users %d per domain is too many", c.Users)
	}
	a := c.FirstHostAddr.As4()
	if !c.FirstHostAddr.Is4() || a[0] != 127 || a[1] == 0 {
		return fmt.Errorf("sim: first host address %v must be in 127.0.0.0/8 outside 127.0.0.0/16", c.FirstHostAddr)
	}
	for name, v := range map[string]float64{
		"share": c.Share, "dead-first": c.DeadFirst, "refuse-first": c.RefuseFirst, "crossed": c.Crossed,
		"implicit": c.Implicit, "cname": c.CNAME, "null-mx": c.NullMX, "nxdomain": c.NXDomain,
		"silent": c.Silent, "truncate": c.Truncate, "second-mx": c.SecondMX, "dns-delay-share": c.DNSDelayShare,
		"dead-hosts": c.DeadHosts, "refuse-hosts": c.RefuseHosts, "no-pipelining": c.NoPipelining,
		"no-8bitmime": c.No8BitMIME, "no-size": c.NoSize, "no-enhanced": c.NoEnhanced, "helo-only": c.HeloOnly,
		"rcpt-limited": c.RcptLimited, "defer-rcpts": c.DeferRcpts, "bounce-rcpts": c.BounceRcpts,
		"starttls": c.StartTLS, "tls-broken": c.TLSBroken, "tls12-only": c.TLS12Only, "dsn": c.DSN,
		"dane-match": c.DANEMatch, "dane-mismatch": c.DANEMismatch, "throttle-hosts": c.ThrottleHosts,
	} {
		if v < 0 || math.IsNaN(v) {
			return fmt.Errorf("sim: knob %s=%v must be >= 0", name, v)
		}
	}
	if c.BurstLimit < 0 || c.BurstDropShare < 0 || c.BurstDropShare > 1 || math.IsNaN(c.BurstDropShare) {
		return fmt.Errorf("sim: burst limit %d must be >= 0 and drop share %v in [0,1]", c.BurstLimit, c.BurstDropShare)
	}
	if c.RTT < 0 || c.DNSDelay < 0 {
		return fmt.Errorf("sim: rtt %v and dns delay %v must be >= 0", c.RTT, c.DNSDelay)
	}
	if err := c.validateProviders(); err != nil {
		return err
	}
	return c.validateIPv6()
}
