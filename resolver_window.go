package smtpfeed

import "time"

// window is how many queries the resolver lets on the wire at once. It
// adapts as TCP's congestion window does (RFC 5681), with answers in the
// place of acknowledgements and retransmission timeouts in the place of
// losses:
//
//   - slow start: below the threshold each answer adds one query, so the
//     window doubles every round trip while nothing is lost;
//   - congestion avoidance: above it each answer adds 1/size, one query
//     per round trip;
//   - a retransmission timeout halves the window and sets the threshold
//     there, once per round: tries sent before the last cut went out under
//     the old window, and their losses are the same congestion.
//
// The window stays between its floor, where it starts
// (ResolverConfig.InitialWindow, a load measured safe for local
// resolvers), and its ceiling (ResolverConfig.MaxOutstanding). The floor
// is what keeps random loss from collapsing it: a server that drops 30% of
// queries whatever the load (TestLossyServer) would halve a window with no
// floor every round, down to a couple of queries, while each lost query
// holds its place for a retransmission timeout.
type window struct {
	size     float64
	ssthresh float64
	floor    float64
	ceiling  float64
	cut      time.Time // when the window was last halved
	minRTT   time.Duration
}

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

// answered grows the window for one answer received after rtt.
func (w *window) answered(rtt time.Duration) {
	if w.minRTT == 0 || rtt < w.minRTT {
		w.minRTT = rtt
	}
	if w.size < w.ssthresh && rtt > w.minRTT+queueDelay(w.minRTT) {
		w.ssthresh = w.size
	}
	if w.size < w.ssthresh {
		w.size++
	} else {
		w.size += 1 / w.size
	}
	w.size = min(w.size, w.ceiling)
}

// lost shrinks the window for a try sent at sent that timed out at now.
func (w *window) lost(sent, now time.Time) {
	if sent.Before(w.cut) {
		return
	}
	w.ssthresh = max(w.size/2, w.floor)
	w.size = w.ssthresh
	w.cut = now
}
