// Command simnet serves a simulated Internet on loopback for smtpfeed's
// demo, tests and benchmarks: an authoritative DNS server for the zone
// "test" and thousands of SMTP hosts on their own 127.x.y.z addresses, all
// generated from a seed. See package smtpfeed/cmd/simnet/sim.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

const usage = `usage: simnet [flags]

Serves a generated world until -duration passes or SIGINT/SIGTERM, then
writes the report (-report FILE, JSON) and a summary on stderr. Once every
socket listens it prints one line on stdout that a script can wait for:

  simnet: ready dns=127.0.0.1:5300 smtp-port=2525 hosts=1000 domains=10000 host-addrs=127.1.0.1-127.1.3.238

(with -ipv6-prefix, host-addrs6=FIRST-LAST follows host-addrs).

SIGUSR1 writes the report file at once (when -report is given).

Generator: -gen-recipients FILE writes the recipient list (one address a
line), -gen-lmtp FILE a ready LMTP session (LHLO, MAIL, one RCPT per
recipient, DATA, message, ".", QUIT), -world FILE the world as JSON with
the expected outcome and lower bound of every recipient. They are written
before the ready line; with -gen-only simnet exits after writing them.

-demo starts a small world (1000 domains, 100 hosts, free ports unless set),
queries and delivers to it as a client would, prints what it got and exits.

-drop-burst models a server that drops queries under a burst: of the UDP
queries arriving beyond LIMIT within one WINDOW, a SHARE is dropped
unanswered ("200/10ms:0.5"); a stream paced under LIMIT per WINDOW loses
none. The report counts them in dns_dropped.

A real list: -providers N adds big providers p1.test ... holding
-provider-share of the -domains x -users recipients, each with
-provider-hosts MX hosts at one preference on -provider-addrs addresses
each, throttled by -throttle-conns (sessions at once: 421 4.7.0 greeting),
-throttle-msgs (transactions per connection: 421 4.7.0 to MAIL) and
-throttle-rate (recipients per second: 450 4.7.1 to RCPT); -throttle-hosts
throttles ordinary hosts the same way, -skew gives the ordinary domains
Zipf-like sizes. The report counts the 421s and 450s per host.

IPv6: -ipv6-prefix P (a ULA /64 such as fd5e:feed::/64) gives -dual-stack
live hosts an IPv6 address from P as well as their IPv4 one (provider
hosts too) and -ipv6-only live hosts one instead (no A record); of the
dual-stack hosts, -dead-ipv6 hang and -refuse-ipv6 refuse on IPv6 only.
MX answers carry AAAA glue only with -glue-aaaa. Every address of P must
be bindable; on Linux, in a network namespace (unshare -n):

  ip link set lo up
  ip -6 route add local fd5e:feed::/64 dev lo
  sysctl -w net.ipv6.ip_nonlocal_bind=1

Domain and host knobs take a fraction (0 < v < 1) or a count (v >= 1).

flags:
`

func main() {
	cfg := sim.DefaultConfig()
	cfg.Domains, cfg.Hosts, cfg.DNSAddr, cfg.SMTPPort = 10000, 1000, "127.0.0.1:5300", 2525
	// The provider knobs' defaults, shown by -h; without -providers the
	// generator drops them.
	cfg.ProviderShare, cfg.ProviderHosts, cfg.ProviderAddrs = 0.4, 3, 2
	fs := flag.CommandLine
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	fs.IntVar(&cfg.Domains, "domains", cfg.Domains, "number of recipient domains")
	fs.IntVar(&cfg.Hosts, "hosts", cfg.Hosts, "number of mail hosts, dead and refusing included")
	fs.IntVar(&cfg.Users, "users", cfg.Users, "users per domain")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "world seed")
	fs.StringVar(&cfg.DNSAddr, "dns", cfg.DNSAddr, "DNS server address (UDP and TCP), port 0 picks one")
	fs.IntVar(&cfg.SMTPPort, "smtp-port", cfg.SMTPPort, "port of every mail host, 0 picks one")
	first := fs.String("first-host", "127.1.0.1", "address of the first mail host (127/8, outside 127.0/16)")
	fs.DurationVar(&cfg.RTT, "rtt", cfg.RTT, "SMTP reply delay standing for one round trip")
	fs.DurationVar(&cfg.RTTMax, "rtt-max", cfg.RTTMax, "if above -rtt, each host's RTT is uniform in [rtt, rtt-max]")
	fs.DurationVar(&cfg.DNSDelay, "dns-delay", cfg.DNSDelay, "delay before each DNS answer")
	fs.Float64Var(&cfg.DNSDelayShare, "dns-delay-share", cfg.DNSDelayShare, "domains whose names are delayed (0: every name)")
	dropBurst := fs.String("drop-burst", "", "LIMIT[/WINDOW]:SHARE, e.g. 200/10ms:0.5: drop SHARE of the UDP queries beyond LIMIT per WINDOW (default 10ms), as a server whose socket buffer overflows")
	knobs := []struct {
		p    *float64
		name string
		help string
	}{
		{&cfg.Share, "share", "domains in groups sharing their first MX host"},
		{&cfg.DeadFirst, "dead-first", "domains whose first MX hangs, second MX live"},
		{&cfg.RefuseFirst, "refuse-first", "domains whose first MX refuses, second MX live"},
		{&cfg.Crossed, "crossed", "domains in pairs whose two MX hosts are crossed"},
		{&cfg.Implicit, "implicit", "domains with no MX, only A (implicit MX)"},
		{&cfg.CNAME, "cname", "domains that are a CNAME to the name owning the MX"},
		{&cfg.NullMX, "null-mx", "domains with RFC 7505 null MX"},
		{&cfg.NXDomain, "nxdomain", "domains that do not exist"},
		{&cfg.Silent, "silent", "domains whose queries are never answered"},
		{&cfg.Truncate, "truncate", "domains answered TC=1 over UDP, in full over TCP"},
		{&cfg.SecondMX, "second-mx", "normal domains that also have an MX 20"},
		{&cfg.DeadHosts, "dead-hosts", "hosts whose connect hangs"},
		{&cfg.RefuseHosts, "refuse-hosts", "hosts that refuse connections"},
		{&cfg.NoPipelining, "no-pipelining", "live hosts without PIPELINING"},
		{&cfg.StartTLS, "starttls", "live hosts that offer STARTTLS (self-signed certificate)"},
		{&cfg.TLSBroken, "tls-broken", "live hosts that offer STARTTLS and fail every handshake"},
		{&cfg.TLS12Only, "tls12-only", "live hosts that offer STARTTLS with TLS 1.2 at most"},
		{&cfg.DANEMatch, "dane-match", "hosts with working STARTTLS that publish a matching TLSA record"},
		{&cfg.DANEMismatch, "dane-mismatch", "hosts with working STARTTLS whose TLSA record matches nothing"},
		{&cfg.No8BitMIME, "no-8bitmime", "live hosts without 8BITMIME"},
		{&cfg.NoSize, "no-size", "live hosts without SIZE"},
		{&cfg.NoEnhanced, "no-enhanced", "live hosts without ENHANCEDSTATUSCODES"},
		{&cfg.DSN, "dsn", "live ESMTP hosts that offer DSN (record RET, ENVID, NOTIFY, ORCPT)"},
		{&cfg.HeloOnly, "helo-only", "live hosts answering EHLO with 502"},
		{&cfg.RcptLimited, "rcpt-limited", "live hosts with a recipient limit"},
		{&cfg.DeferRcpts, "defer-rcpts", "recipients renamed defer-* (450 4.2.0 at RCPT)"},
		{&cfg.BounceRcpts, "bounce-rcpts", "recipients renamed bounce-* (550 5.1.1 at RCPT)"},
		{&cfg.ThrottleHosts, "throttle-hosts", "live ordinary hosts throttled as provider hosts are (-throttle-*)"},
		{&cfg.DualStack, "dual-stack", "live hosts with an IPv6 address from -ipv6-prefix as well (provider hosts too)"},
		{&cfg.IPv6Only, "ipv6-only", "live hosts with an IPv6 address from -ipv6-prefix only (no A record)"},
		{&cfg.DeadIPv6, "dead-ipv6", "dual-stack hosts whose IPv6 address hangs (IPv4 answers)"},
		{&cfg.RefuseIPv6, "refuse-ipv6", "dual-stack hosts whose IPv6 address refuses connections (IPv4 answers)"},
	}
	for _, k := range knobs {
		fs.Float64Var(k.p, k.name, *k.p, k.help)
	}
	fs.IntVar(&cfg.ShareGroup, "share-group", cfg.ShareGroup, "domains per shared group")
	fs.IntVar(&cfg.RcptLimit, "rcpt-limit", cfg.RcptLimit, "recipients per transaction on limited hosts (452 4.5.3 beyond)")
	fs.Int64Var(&cfg.MaxSize, "max-size", 10<<20, "SIZE limit in bytes")
	fs.BoolVar(&cfg.DNSSEC, "dnssec", false, "set the AD bit on every answer, as a validating resolver would (for DANE)")
	prefix6 := fs.String("ipv6-prefix", "", "IPv6 prefix of the hosts' IPv6 addresses, e.g. fd5e:feed::/64 (empty: no IPv6)")
	fs.BoolVar(&cfg.GlueAAAA, "glue-aaaa", false, "put the MX hosts' AAAA records in the MX answers' additional section")
	fs.IntVar(&cfg.Providers, "providers", 0, "big-provider domains p1.test ... (0: none)")
	fs.Float64Var(&cfg.ProviderShare, "provider-share", cfg.ProviderShare, "share of all recipients at the providers, split evenly")
	fs.IntVar(&cfg.ProviderHosts, "provider-hosts", cfg.ProviderHosts, "MX hosts per provider, all at one preference")
	fs.IntVar(&cfg.ProviderAddrs, "provider-addrs", cfg.ProviderAddrs, "addresses per provider MX host")
	fs.IntVar(&cfg.ProviderMaxConns, "throttle-conns", 0, "sessions at once per throttled host; beyond, 421 4.7.0 greeting (0: no limit)")
	fs.IntVar(&cfg.ProviderMsgsPerConn, "throttle-msgs", 0, "transactions per connection on throttled hosts; the next MAIL gets 421 4.7.0 (0: no limit)")
	fs.IntVar(&cfg.ProviderRcptRate, "throttle-rate", 0, "recipients per second per throttled host; beyond, 450 4.7.1 (0: no limit)")
	fs.Float64Var(&cfg.Skew, "skew", 0, "Zipf exponent of the ordinary domains' sizes (0: -users each)")
	duration := fs.Duration("duration", 10*time.Minute, "stop after this long")
	report := fs.String("report", "", "write the JSON report to this file at exit and on SIGUSR1")
	worldFile := fs.String("world", "", "write the world description as JSON to this file")
	genRcpts := fs.String("gen-recipients", "", "write the recipient list to this file")
	genLMTP := fs.String("gen-lmtp", "", "write an LMTP session for the world to this file")
	genOnly := fs.Bool("gen-only", false, "write the -gen-* and -world files and exit without serving")
	demo := fs.Bool("demo", false, "start a small world, act as a client against it, print what happens, exit")
	fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	a, err := netip.ParseAddr(*first)
	if err != nil {
		fail(fmt.Errorf("-first-host %q: %w", *first, err))
	}
	cfg.FirstHostAddr = a
	if *prefix6 != "" {
		if cfg.IPv6Prefix, err = netip.ParsePrefix(*prefix6); err != nil {
			fail(fmt.Errorf("-ipv6-prefix %q: %w", *prefix6, err))
		}
	}
	if err := sim.ParseDropBurst(*dropBurst, &cfg); err != nil {
		fail(err)
	}

	if *demo {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["domains"] {
			cfg.Domains = 1000
		}
		if !set["hosts"] {
			cfg.Hosts = 100
		}
		if !set["dns"] {
			cfg.DNSAddr = "127.0.0.1:0"
		}
		if !set["smtp-port"] {
			cfg.SMTPPort = 0
		}
		if err := runDemo(cfg, os.Stdout); err != nil {
			fail(err)
		}
		return
	}

	w, err := sim.Generate(cfg)
	if err != nil {
		fail(err)
	}
	if err := writeFiles(w, *worldFile, *genRcpts, *genLMTP); err != nil {
		fail(err)
	}
	if *genOnly {
		return
	}
	raiseFileLimit()
	s, err := sim.StartWorld(w)
	if err != nil {
		fail(err)
	}
	// The signals are caught before the ready line: a script that sends
	// SIGUSR1 as soon as it reads the line must not kill simnet.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	dump := make(chan os.Signal, 1)
	notifyDump(dump)
	fmt.Fprint(os.Stderr, w.Summary())
	fmt.Println(s.ReadyLine())
	timer := time.NewTimer(*duration)
	defer timer.Stop()
	for done := false; !done; {
		select {
		case <-stop:
			done = true
		case <-timer.C:
			done = true
		case <-dump:
			if *report != "" {
				r := s.Report()
				if err := r.WriteFile(*report); err != nil {
					fmt.Fprintln(os.Stderr, "simnet:", err)
				}
			}
		}
	}
	s.Close()
	r := s.Report()
	fmt.Fprint(os.Stderr, "simnet: ", r.Summary())
	if *report != "" {
		if err := r.WriteFile(*report); err != nil {
			fail(err)
		}
	}
}

// writeFiles writes the generator outputs that were asked for.
func writeFiles(w *sim.World, world, rcpts, lmtp string) error {
	write := func(path string, f func(*os.File) error) error {
		if path == "" {
			return nil
		}
		out, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := f(out); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	if err := write(world, func(f *os.File) error {
		b, err := w.MarshalIndent()
		if err == nil {
			_, err = f.Write(append(b, '\n'))
		}
		return err
	}); err != nil {
		return fmt.Errorf("writing world %s: %w", world, err)
	}
	if err := write(rcpts, func(f *os.File) error { return w.WriteRecipients(f) }); err != nil {
		return fmt.Errorf("writing recipients %s: %w", rcpts, err)
	}
	if err := write(lmtp, func(f *os.File) error { return w.WriteLMTP(f) }); err != nil {
		return fmt.Errorf("writing LMTP session %s: %w", lmtp, err)
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "simnet:", err)
	os.Exit(1)
}
