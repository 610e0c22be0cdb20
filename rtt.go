package smtpfeed

import "time"

// rttEstimate is RFC 6298's estimate of a round trip: a smoothed time
// and its mean deviation, from samples. The resolver keeps one per name
// server, the engine one for its connects (connectrtt.go).
type rttEstimate struct {
	n            int // samples taken
	srtt, rttvar time.Duration
}

// sample folds one round trip into the estimate (RFC 6298 §2).
func (e *rttEstimate) sample(rtt time.Duration) {
	e.n++
	if e.n == 1 {
		e.srtt, e.rttvar = rtt, rtt/2
		return
	}
	d := e.srtt - rtt
	if d < 0 {
		d = -d
	}
	e.rttvar = (3*e.rttvar + d) / 4
	e.srtt = (7*e.srtt + rtt) / 8
}

// measured reports a sample taken.
func (e *rttEstimate) measured() bool { return e.n > 0 }

// rto is RFC 6298's srtt + 4·rttvar.
func (e *rttEstimate) rto() time.Duration { return e.srtt + 4*e.rttvar }
