package smtpfeed

import "time"

// window is how many queries the resolver lets on the wire at once, and
// how fast it sends them. It adapts as TCP's congestion window does (RFC
// 5681), with answers in the place of acknowledgements and retransmission
// timeouts in the place of losses:
//
//   - slow start: below the threshold each answer adds one query, so the
//     window doubles every round trip while nothing is lost;
//   - congestion avoidance: above it each answer adds caGrowth (or 1/size
//     if more), so a cut window regrows in a few round trips;
//   - a retransmission timeout that is a loss (resolver_server.go's queued
//     tells a try merely waiting behind others at a busy server) cuts the
//     window to what the server answered per round trip while the lost try
//     was out (its delivery rate times the round trip, as BBR measures
//     it), by at most 1-cutFloor, once per round: tries sent before the
//     last cut went out under the old window, and their losses are the
//     same congestion.
//
// Sends are paced, not only counted (as Linux paces TCP): at most gain ×
// size/srtt, retransmissions included, so a window opened by a clump of
// answers does not go out as a clump. A server that drops what arrives
// faster than a rate (a socket buffer overflowing, sim's DropBurst) loses
// nothing from a stream paced under it; unpaced, each round trip's burst
// lost a share.
//
// Measured with BenchmarkResolveLoss (10,000 domains, 50 ms, a server
// dropping half of what exceeds 200 queries per 10 ms; 2 cores shared with
// the simulated server), lossy run in ms, runs of 3: halving and Reno's
// growth, unpaced, 1,820-2,180 (6 runs); this window 783-824 (6 runs);
// with a cut to half instead of cutFloor 887-934; with Reno's 1/size
// growth 826-852; with avoidanceGain 1.1 811-839 (3 runs each). The same
// server without drops took 380-440, the CPU's limit: at 20,000 queries
// a second, 10,000 cannot pass a server dropping beyond that rate in
// under 550 ms unless it is overrun.
//
// The window stays between its floor, where it starts
// (ResolverConfig.InitialWindow, a load measured safe for local
// resolvers), and its ceiling (ResolverConfig.MaxOutstanding). The floor
// is what keeps random loss from collapsing it: a server that drops 30% of
// queries whatever the load (TestLossyServer) would halve a window with no
// floor every round, down to a couple of queries, while each lost query
// holds its place for a retransmission timeout.
type window struct {
	size      float64
	ssthresh  float64
	floor     float64
	ceiling   float64
	cut       time.Time // when the window was last cut
	minRTT    time.Duration
	srtt      time.Duration // smoothed over every server's answers: the pacing interval
	delivered int           // answers so far, for delivery rates
	next      time.Time     // pacing: when the next datagram may go
}

const (
	// caGrowth is what each answer adds above the threshold: the window
	// grows by 1/16 a round trip. Reno's 1/size, one query a round trip,
	// took hundreds of round trips to regrow a window of 800 cut by a
	// loss.
	caGrowth = 1.0 / 16
	// cutFloor is the least share of the window a loss leaves: a delivery
	// rate taken while the window was still opening reads low.
	cutFloor = 0.75
	// paceBurst is how far behind its schedule the pacer may fall and
	// catch up at once: the loop wakes at millisecond granularity and a
	// pass handling a clump of answers can be long, so sends go in small
	// bursts. 5 ms and 10 ms sent faster but lost more to DropBurst.
	paceBurst = 2 * time.Millisecond
	// Pacing gains: twice the window a round trip in slow start (Linux's),
	// where the window must be free to double; the window itself above
	// the threshold. Linux's 1.2 there let the catch-up after a clump of
	// answers exceed the rate the window stands for.
	slowStartGain = 2.0
	avoidanceGain = 1.0
)

// queueDelay is how far above the smallest round trip an answer may come
// before slow start ends (as HyStart does, RFC 9406): the extra is a queue
// building at the server or here, and growing further only lengthens it
// until answers come after their retransmission timers.
func queueDelay(minRTT time.Duration) time.Duration {
	return max(minRTT/2, 5*time.Millisecond)
}

func newWindow(initial, ceiling int) window {
	c := float64(max(ceiling, 1))
	f := min(float64(max(initial, 1)), c)
	return window{size: f, ssthresh: c, floor: f, ceiling: c}
}

// limit is the number of queries allowed on the wire now.
func (w *window) limit() int { return int(w.size) }

// mayPace says whether the pacer lets a datagram go at now. Until a round
// trip is measured nothing is paced: the first window goes at once.
func (w *window) mayPace(now time.Time) bool {
	return w.srtt == 0 || !w.next.After(now)
}

// paced accounts for a datagram sent at now, a retransmission too.
func (w *window) paced(now time.Time) {
	if w.srtt == 0 {
		return
	}
	gain := avoidanceGain
	if w.size < w.ssthresh {
		gain = slowStartGain
	}
	if earliest := now.Add(-paceBurst); w.next.Before(earliest) {
		w.next = earliest
	}
	w.next = w.next.Add(time.Duration(float64(w.srtt) / (gain * w.size)))
}

// answered grows the window for one answer received after rtt.
func (w *window) answered(rtt time.Duration) {
	if w.minRTT == 0 || rtt < w.minRTT {
		w.minRTT = rtt
	}
	if w.srtt == 0 {
		w.srtt = rtt
	} else {
		w.srtt += (rtt - w.srtt) / 8
	}
	w.delivered++
	if w.size < w.ssthresh && rtt > w.minRTT+queueDelay(w.minRTT) {
		w.ssthresh = w.size
	}
	if w.size < w.ssthresh {
		w.size++
	} else {
		w.size += max(1/w.size, caGrowth)
	}
	w.size = min(w.size, w.ceiling)
}

// lost shrinks the window for a try sent at sent, when delivered answers
// had arrived, that timed out at now: to what the server answered in one
// round trip while the try was out (its delivery rate times the round
// trip), between cutFloor of the window and the window, and not below the floor.
// The server's rate, not a fixed fraction: halving a window of 1,000 sent
// to a server that answers 900 a round trip wasted half its capacity for
// the many round trips of regrowth.
func (w *window) lost(sent time.Time, delivered int, now time.Time) {
	if sent.Before(w.cut) {
		return
	}
	target := w.size * cutFloor
	if d := now.Sub(sent); d > 0 && w.srtt > 0 {
		rate := float64(w.delivered-delivered) / d.Seconds()
		target = min(max(rate*w.srtt.Seconds(), target), w.size)
	}
	w.ssthresh = max(target, w.floor)
	w.size = w.ssthresh
	w.cut = now
}
