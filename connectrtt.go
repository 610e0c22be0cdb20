package smtpfeed

import "time"

// The race delay adapts to the connects seen: a connect still unanswered
// several times longer than connects take here is most likely to a dead
// host, and its recipients need not wait the whole -t race for their
// next MX. Each completed connect is a sample of an rttEstimate (rtt.go,
// RFC 6298's); the delay is twice its RTO, between MinRaceDelay and
// -t race, which stays the ceiling.

// MinRaceDelay is RFC 8305's connection attempt delay, the shortest it
// advises: the shortest race delay the connects seen can make, and the
// race delay to a host's other family, for a path broken over one
// family only.
const MinRaceDelay = 250 * time.Millisecond

// raceSamples is how many connects the estimate needs before it is
// trusted; until then the race delay is -t race. With RFC 6298's gain
// of 1/8, the first sample weighs less than half the smoothed time
// after eight: one odd connect at the start no longer decides.
const raceSamples = 8

// raceDelayFrom is the race delay connects estimates, within
// [MinRaceDelay, ceiling]; ceiling until raceSamples connects were seen.
func raceDelayFrom(connects *rttEstimate, ceiling time.Duration) time.Duration {
	if connects.n < raceSamples {
		return ceiling
	}
	return min(max(2*connects.rto(), MinRaceDelay), ceiling)
}
