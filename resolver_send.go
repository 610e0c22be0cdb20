package smtpfeed

import "time"

// UDP tries are not written one by one as they are made: each is queued on
// its socket, and at the end of the batch of answers that let them out
// (or before the loop next waits) every socket's queue goes out in one
// batch (one sendmmsg on Linux). A pass that launches a clump of
// queries, as every answer clump does, puts them on one socket in runs of
// up to triesPerRun (resolver_socket.go's socketFor), so the clump costs a
// syscall per run rather than one per datagram: a write(2) was 3.3 us a
// datagram on loopback, a batch 1.3 us.
//
// A try is recorded when it is queued (its ID pending, its timer armed,
// the pacer charged), so between the queue and the flush it is a datagram
// on the wire as far as the rest of the resolver knows. A try given up
// before the flush (its query answered by an earlier try, or past
// maxOpenTries) is not sent.
//
// A datagram the socket does not take (EAGAIN: its send buffer is full)
// is lost, as a datagram dropped on the way is: its try's timer
// retransmits it and the window takes the loss. Keeping it for the next
// flush would need write interest or a timer to come back for it, and a
// full send buffer is the congestion the window should hear about.

// outgoing is one try queued on its socket.
type outgoing struct {
	pkt []byte
	qq  *query
	id  uint16
}

// queue puts try id of qq on u, to be written before the loop waits.
func (r *Resolver) queue(u *udpSocket, id uint16, qq *query, pkt []byte) {
	if len(u.out) == 0 {
		r.unsent = append(r.unsent, u)
	}
	u.out = append(u.out, outgoing{pkt: pkt, qq: qq, id: id})
}

// flush writes every socket's queued tries, one batch a socket. It runs
// before every wait of the loop (NewResolver registers it).
func (r *Resolver) flush() {
	if len(r.unsent) == 0 {
		return
	}
	now := r.loop.Now()
	// A socket that fails makes its queries try another server at once,
	// which queues more: the loop runs until none is left. It ends, as
	// each failure retires its socket and marks its server failed for
	// those queries.
	for i := 0; i < len(r.unsent); i++ {
		u := r.unsent[i]
		r.unsent[i] = nil
		r.flushSocket(now, u)
	}
	r.unsent = r.unsent[:0]
}

// flushSocket writes the tries queued on u that are still pending.
func (r *Resolver) flushSocket(now time.Time, u *udpSocket) {
	srv := r.servers[u.srv]
	srv.run = 0 // the next pass's tries start a new run
	msgs, outs := r.msgs[:0], r.outs[:0]
	for _, o := range u.out {
		if u.fd >= 0 && u.pending[o.id] == o.qq {
			msgs = append(msgs, o.pkt)
			outs = append(outs, o)
		}
	}
	clear(u.out)
	u.out = u.out[:0]
	if len(msgs) == 0 {
		return
	}
	sent, err := r.writer.Write(u.fd, msgs)
	// Tries are numbered here, in the order they leave, not when they
	// are queued: sockets flush one after another, and a try queued
	// early on a socket flushed late would otherwise look overtaken by
	// later ones when the server answers in order (nameServer.queued),
	// and be sent again though its answer was on the way. A try that
	// never left keeps 0: lost.
	for _, o := range outs[:sent] {
		srv.sendSeq++
		o.qq.number(u, o.id, srv.sendSeq)
	}
	clear(msgs)
	clear(outs)
	r.msgs, r.outs = msgs[:0], outs[:0]
	r.stats.UDPSent += sent
	if err != nil {
		// A connected UDP socket reports an earlier ICMP error on the
		// next send: the server is not there for any try on it.
		r.socketFailed(now, u, err)
	}
}

// number gives the try with id on u its place in the send order.
func (qq *query) number(u *udpSocket, id uint16, seq uint64) {
	for i := range qq.open {
		if t := &qq.open[i]; t.sock == u && t.id == id {
			t.seq = seq
			return
		}
	}
}
