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
//     additional section, so no host query is needed.
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
//     first MX the omniscient client goes straight to the live second one.
//     It does not jump to a less preferred live host that happens to be
//     faster, since RFC 5321 5.1 forbids that.
//
// Parallelism is unlimited for the bound: every recipient could be sent on
// its own connection at time zero, so a host's recipient limit does not
// raise it. MaxBound is the moment the last deliverable recipient could be
// done: a client's measured time divided by MaxBound says how far from
// perfect it is.

// dnsBound is the DNS part of the bound for a domain.
func dnsBound(d *Domain) time.Duration {
	switch d.Kind {
	case KindImplicit, KindTruncate:
		return 2 * d.DNSDelay
	}
	return d.DNSDelay
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

// computeBounds fills Recipient.Bound and the world's maximum.
func (w *World) computeBounds() {
	w.maxBound = 0
	for _, r := range w.Recipients {
		if r.Expect != Delivered {
			continue
		}
		r.Bound = dnsBound(r.Domain) + SMTPBound(r.Domain.MXHosts()[0])
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
