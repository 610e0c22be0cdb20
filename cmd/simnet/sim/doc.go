// Package sim is smtpfeed's simulated Internet on loopback: a world of
// recipient domains and mail hosts generated from a seed, served by an
// authoritative DNS server and one SMTP receiver per host, each host on its
// own 127.x.y.z address (never in 127.0.0.0/16; 127.0.0.1 is left for DNS).
// No traffic leaves 127.0.0.0/8, but for hosts given IPv6 addresses from
// Config.IPv6Prefix, which must then be local (ipv6.go says how).
//
// It owns:
//   - the world (Config, Generate, World, Host, Domain, Recipient): which
//     domain is of which kind (shared MX, dead or refusing first MX,
//     crossed MX, implicit MX, CNAME, null MX, NXDOMAIN, silent,
//     truncated, delayed, big provider), which host has which SMTP
//     features and throttles, and what a correct client ends up with for
//     every recipient (Outcome, Reason);
//   - the shape of the list (sizes.go, provider.go): big providers with
//     several equal-preference MX hosts of several addresses each, a
//     share of the list spread through it, and Zipf-like domain sizes;
//   - DNS (dns.go, dnsserver.go): the zone "test" over UDP and TCP on one
//     address, with drops, truncation and per-query delays that never
//     serialize;
//   - IPv6 (ipv6.go): dual-stack and IPv6-only hosts, IPv6 addresses
//     that hang or refuse while IPv4 answers, AAAA glue or none, and
//     where a client of one family delivers (Domain.HostOver);
//   - the mail hosts (hosts.go, smtp.go, literal.go, dead.go,
//     throttle.go): receivers whose reply delay models a round trip, on
//     one or more addresses, some throttling senders (421 for too many
//     connections or messages, 450 4.7.1 beyond a recipient rate) over
//     all their addresses together, dead hosts whose connect hangs,
//     refusing hosts with no listener, mail to a host's own address
//     literal;
//   - the report (report.go, hostreport.go): every delivery with its
//     message hash and the address it came in on, counts of connections
//     (per host and per address), transactions, recipients per
//     transaction, DNS queries and duplicates; per host, peak sessions and
//     the throttles' replies, and for throttling hosts the times of
//     accepts and 421s, so a test can ask whether a client came back too
//     soon after a 421 (Report.ConnectsWithin);
//   - the generator and the bound (generate.go, bound.go): the recipient
//     list, a ready LMTP session, and the earliest time any client could
//     be done, for measured/bound ratios, recipient rates included.
//
// A test or benchmark in another package starts a world in-process:
//
//	s, err := sim.Start(cfg)           // every socket listens when it returns
//	defer s.Close()
//	s.DNSAddr(), s.SMTPPort()          // where the client must look
//	s.World.Addresses()                // the recipient list
//	s.World.Recipient(a).Expect        // delivered, deferred or bounced
//	s.MarkStart(); run the client; r := s.Report(); r.LastDelivery, s.World.MaxBound()
//
// The command smtpfeed/cmd/simnet serves the same worlds from flags.
package sim
