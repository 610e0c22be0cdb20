package smtpfeed

import (
	"net/netip"
	"time"
)

// Retransmission timing. A query is retransmitted after the server's
// retransmission timeout, the larger of RFC 6298's srtt + 4·rttvar and
// twice the smoothed round trip, doubled on every further try and kept
// within the floor and the ceiling.
const (
	// RetransmitFloor keeps a fast server's timeout above scheduling
	// noise; 20 ms is many loopback or LAN round trips, and keeps a
	// dropped query cheap (BenchmarkResolveLoss).
	RetransmitFloor = 20 * time.Millisecond
	// RetransmitCeiling is the default ceiling: glibc's RES_TIMEOUT, the
	// wait it uses for every try.
	RetransmitCeiling = 5 * time.Second
	// initialRTO is the first timeout toward a server not yet measured,
	// RFC 6298 §2.1's one second.
	initialRTO = time.Second
	// avoidFor is how long a server that refused or failed is passed
	// over while another server is available.
	avoidFor = 60 * time.Second
	// queuedSilence is how many retransmission timeouts a server that
	// still has earlier tries to answer may pause before the later ones
	// count as lost: on a busy machine (2 cores, the server and the
	// client sharing them with a CPU hog) the server's read loop was seen
	// descheduled for more than the 20 ms floor, and each pause cost a
	// retransmission of everything queued behind it.
	queuedSilence = 4
)

// nameServer is what the resolver knows about one server.
type nameServer struct {
	addr       netip.AddrPort
	rtt        rttEstimate
	avoidUntil time.Time
	socks      []*udpSocket // UDP sockets in rotation (resolver_socket.go)
	next       int          // the socket the last run went out on
	cur        *udpSocket   // the socket of the current run
	run        int          // tries in the current run; 0 once it is flushed
	// sendSeq numbers the UDP tries sent to the server; ackSeq is the
	// highest of them answered, at lastAnswer. A try whose timer fires
	// while ackSeq is below its number, and answers still come, is
	// queued behind others at a busy server (or here), not lost.
	sendSeq    uint64
	ackSeq     uint64
	lastAnswer time.Time
}

// queued says whether try t, whose retransmission timer fired at now, is
// more likely waiting in a queue than lost: nothing sent after it has been
// answered, and the server answered an earlier try within queuedSilence
// timeouts. A server answers in about the order it receives, so a loss
// shows as answers to later tries (as duplicate acknowledgements do in
// TCP); a server that answers nothing at all gets the usual retransmission.
func (s *nameServer) queued(t try, now time.Time, wait time.Duration) bool {
	return s.ackSeq < t.seq && !s.lastAnswer.IsZero() && now.Sub(s.lastAnswer) < queuedSilence*wait
}

// answer records an answer to try t at now.
func (s *nameServer) answer(t try, now time.Time) {
	s.ackSeq = max(s.ackSeq, t.seq)
	s.lastAnswer = now
}

// sample folds one round trip into the estimate. Each try has its own
// ID, unique on its socket, so a sample is never ambiguous (Karn's
// problem does not arise).
func (s *nameServer) sample(rtt time.Duration) { s.rtt.sample(rtt) }

// rto is the wait before the try-th retransmission (try >= 1 is the
// first send).
func (s *nameServer) rto(try int, floor, ceiling time.Duration) time.Duration {
	base := min(initialRTO, ceiling)
	if s.rtt.measured() {
		// Twice the round trip as well: the variance of a steady server
		// decays to nothing, and a burst then looks like a loss.
		base = max(s.rtt.rto(), 2*s.rtt.srtt)
	}
	d := max(base, floor)
	for i := 1; i < try && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

func (s *nameServer) avoided(now time.Time) bool { return now.Before(s.avoidUntil) }
