package smtpfeed

import "time"

// The race delay adapts to the connects seen: a connect still unanswered
// several times longer than connects take here is most likely to a dead
// host, and its recipients need not wait the whole -t race for their
// next MX. The estimate is TCP's (RFC 6298): a smoothed time and its
// mean deviation; the delay is twice their RTO-like sum, between
// MinRaceDelay and -t race, which stays the ceiling.

// MinRaceDelay is the shortest race delay the connects seen can make:
// RFC 8305's connection attempt delay, the shortest it advises.
const MinRaceDelay = 250 * time.Millisecond

// raceSamples is how many connects the estimate needs before it is
// trusted; until then the race delay is -t race.
const raceSamples = 8

// connectRTT estimates how long a connect takes from this host.
type connectRTT struct {
	n            int
	srtt, rttvar time.Duration
}

// sample takes one connect's time, from dial to established.
func (c *connectRTT) sample(took time.Duration) {
	c.n++
	if c.n == 1 {
		c.srtt, c.rttvar = took, took/2
		return
	}
	dev := c.srtt - took
	if dev < 0 {
		dev = -dev
	}
	c.rttvar += (dev - c.rttvar) / 4
	c.srtt += (took - c.srtt) / 8
}

// delay is the race delay the estimate gives, within [MinRaceDelay,
// ceiling]; ceiling until raceSamples connects were seen.
func (c *connectRTT) delay(ceiling time.Duration) time.Duration {
	if c.n < raceSamples {
		return ceiling
	}
	return min(max(2*(c.srtt+4*c.rttvar), MinRaceDelay), ceiling)
}
