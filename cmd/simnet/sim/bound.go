package sim

import "time"

// The lower bound.
//
// For each deliverable recipient the bound is the earliest moment, counted
// from the client's start, at which any client could have the message
// accepted for it, given what this simulated world imposes:
//
//   - DNS: one MX query costs the domain's DNSDelay. A truncated answer
//     costs a second query over TCP (another DNSDelay; a loopback TCP
//     connect costs nothing). A CNAME costs nothing extra: the target's MX
//     comes in the same answer. An implicit MX costs the MX query (NODATA)
//     and then the A query. The MX targets' addresses come in the
//     additional section, so no host query is needed; but an IPv6-only
//     host's come there only with Config.GlueAAAA, and without it its
//     AAAA query costs the host name's delay (ipv6.go).
//   - SMTP, with r the host's reply delay: on loopback the TCP handshake
//     itself takes no time; the greeting is sent r after accept, and that
//     r stands for the connect round trip. Then one r for EHLO (for a
//     HELO-only host an omniscient client sends HELO at once: one r), one r
//     for the pipelined MAIL/RCPT/DATA group (3r without PIPELINING: each
//     command waits for its reply), one r for the data and the final dot.
//     So 4r with PIPELINING, 6r without. A host that offers STARTTLS
//     adds 3r (STARTTLS, a TLS 1.3 handshake, EHLO again), 4r when it
//     speaks TLS 1.2 at most; the bound skips STARTTLS where the
//     handshake fails.
//   - Host choice: the best-preference live host; for a dead or refusing
//     first MX the omniscient client goes straight to the live second one,
//     and to a dual-stack host over the family that answers.
//     It does not jump to a less preferred live host that happens to be
//     faster, since RFC 5321 5.1 forbids that.
//
// Parallelism is unlimited for the bound: every recipient could be sent on
// its own connection at time zero, so a host's recipient limit does not
// raise it. MaxBound is the moment the last deliverable recipient could be
// done: a client's measured time divided by MaxBound says how far from
// perfect it is.
//
// Throttles (Host.RcptRate, throttle.go). The recipients whose best
// preference hosts all throttle share those hosts' buckets: rho per
// second each, and full at start, so with rate R = the sum of rho over
// the hosts (R = rho*H for a provider of H hosts) the k-th of them (from
// 0, in list order, counting those expected delivered) cannot be
// accepted at RCPT before t_k = (k+1-R)/R seconds, and the first R cost
// nothing. From RCPT to the 250 for the final dot take 2r more (3r
// without PIPELINING), so its bound is max(unthrottled bound, t_k + 2r).
// The bound for one recipient assumes list order; MaxBound does not
// depend on it, since the last of a pool's N recipients waits t_(N-1)
// whatever the order. MaxConns and MsgsPerConn are left out: one
// connection can carry all of a host's recipients in one transaction
// (provider hosts have no recipient limit) while others are opened
// ahead, so they cost a client that plans well next to nothing, and a
// bound that ignores a limit stays a lower bound.

// dnsBound is the DNS part of the bound for a domain.
func dnsBound(d *Domain) time.Duration {
	switch d.Kind {
	case KindImplicit, KindTruncate:
		return 2 * d.DNSDelay
	}
	return d.DNSDelay
}

// addrBound is the DNS time to the first host's address beyond the MX
// answer: an AAAA query for an IPv6-only MX host without AAAA glue. Host
// names are delayed only when every name is (Config.DNSDelayShare 0).
func (w *World) addrBound(d *Domain, h *Host) time.Duration {
	cfg := w.Config
	if d.ImplicitHost != nil || h.HasFamily(4) || cfg.GlueAAAA || cfg.DNSDelayShare != 0 {
		return 0
	}
	return cfg.DNSDelay
}

// SMTPBound is the SMTP part of the bound for one host: the time from
// starting to connect to the 250 for the final dot of a one-recipient
// transaction.
func SMTPBound(h *Host) time.Duration {
	rounds := 4
	if !h.Pipelining {
		rounds = 6
	}
	switch {
	case h.TLSBroken:
		// The omniscient client does not try STARTTLS there.
	case h.TLS12Only:
		rounds += 4 // STARTTLS, a two-round-trip handshake, EHLO again
	case h.StartTLS:
		rounds += 3 // STARTTLS, the TLS 1.3 handshake, EHLO again
	}
	return time.Duration(rounds) * h.RTT
}

// rcptTail is the time from a RCPT's arrival to the 250 for the final dot
// of its transaction: the replies to the pipelined group, then the dot;
// without PIPELINING the RCPT's reply, DATA's, then the dot.
func rcptTail(h *Host) time.Duration {
	if h.Pipelining {
		return 2 * h.RTT
	}
	return 3 * h.RTT
}

// ratePool returns the first of the hosts a recipient of d may go to at
// the best preference, which keys their shared buckets, and their summed
// recipient rate; rate 0 when one of them does not throttle (a client
// would use that one).
func ratePool(d *Domain) (first *Host, rate int) {
	if d.ImplicitHost != nil {
		return d.ImplicitHost, d.ImplicitHost.RcptRate
	}
	best := -1
	for _, m := range d.MX {
		if m.Host == nil || m.Host.Kind != HostLive || (best >= 0 && m.Pref != best) {
			continue
		}
		if best < 0 {
			best, first = m.Pref, m.Host
		}
		if m.Host.RcptRate == 0 {
			return first, 0
		}
		rate += m.Host.RcptRate
	}
	return first, rate
}

// throttleWait is t_k: when the k-th recipient (from 0) of a pool with
// rate per second, whose buckets start full, can first be accepted.
func throttleWait(k, rate int) time.Duration {
	if k < rate {
		return 0
	}
	return time.Duration(k+1-rate) * time.Second / time.Duration(rate)
}

// computeBounds fills Recipient.Bound and the world's maximum.
func (w *World) computeBounds() {
	w.maxBound = 0
	seen := map[*Host]int{} // recipients so far per throttled pool, by its first host
	for _, r := range w.Recipients {
		if r.Expect != Delivered {
			continue
		}
		h := r.Domain.MXHosts()[0]
		r.Bound = dnsBound(r.Domain) + w.addrBound(r.Domain, h) + SMTPBound(h)
		if first, rate := ratePool(r.Domain); rate > 0 {
			r.Bound = max(r.Bound, throttleWait(seen[first], rate)+rcptTail(h))
			seen[first]++
		}
		w.maxBound = max(w.maxBound, r.Bound)
	}
}

// Bound returns the lower bound for one recipient (0, false if it is not
// expected to be delivered or not in the world).
func (w *World) Bound(addr string) (time.Duration, bool) {
	r := w.Recipient(addr)
	if r == nil || r.Expect != Delivered {
		return 0, false
	}
	return r.Bound, true
}

// MaxBound is the earliest time by which any client could have every
// deliverable recipient accepted.
func (w *World) MaxBound() time.Duration { return w.maxBound }
