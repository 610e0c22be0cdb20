package smtpfeed

import (
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

func TestRaceDelayFrom(t *testing.T) {
	const ceiling = 1500 * time.Millisecond
	var c rttEstimate
	for range raceSamples - 1 {
		c.sample(time.Millisecond)
	}
	if got := raceDelayFrom(&c, ceiling); got != ceiling {
		t.Errorf("%d connects seen: race delay %v, want the ceiling %v until %d", c.n, got, ceiling, raceSamples)
	}
	c.sample(time.Millisecond)
	if got := raceDelayFrom(&c, ceiling); got != MinRaceDelay {
		t.Errorf("connects of 1ms: race delay %v, want the floor %v", got, MinRaceDelay)
	}
	if got := raceDelayFrom(&c, 100*time.Millisecond); got != 100*time.Millisecond {
		t.Errorf("ceiling under the floor: %v, want the ceiling", got)
	}
	var far rttEstimate
	for _, ms := range []int{80, 120, 100, 90, 110, 100, 95, 105} {
		far.sample(time.Duration(ms) * time.Millisecond)
	}
	// About 100 ms with a deviation of some 10-20 ms: twice their
	// RTO-like sum is 0.3-0.4 s.
	if got := raceDelayFrom(&far, ceiling); got < 300*time.Millisecond || got > 450*time.Millisecond {
		t.Errorf("connects of about 100ms: race delay %v, want 0.3-0.45s", got)
	}
	var slow rttEstimate
	for range raceSamples {
		slow.sample(2 * time.Second)
	}
	if got := raceDelayFrom(&slow, ceiling); got != ceiling {
		t.Errorf("connects of 2s: race delay %v, want the ceiling", got)
	}
}

// Once connects here are seen to take a millisecond, a dead first MX
// costs MinRaceDelay, not -t race.
func TestEngineRaceAdapts(t *testing.T) {
	s := startWorld(t, sim.Config{Seed: 5, Domains: 40, Hosts: 16, Users: 1, DeadFirst: 1, DeadHosts: 1})
	ceiling := 5 * time.Second
	r := newEngineRun(t, s, func(c *Config) { c.ConnectTimeout, c.RaceDelay, c.IdleTime = 10*time.Second, ceiling, 5*time.Second })
	var live, dead []string
	for _, rc := range s.World.Recipients {
		if rc.Domain.Kind == sim.KindDeadFirst {
			dead = append(dead, rc.Addr)
		} else {
			live = append(live, rc.Addr)
		}
	}
	if len(dead) == 0 {
		t.Fatal("no dead-first domain in the world")
	}
	r.deliver(live, 30*time.Second)
	if got := raceDelayFrom(&r.e.connects, ceiling); got != MinRaceDelay {
		t.Fatalf("after %d connects race delay %v, want %v", r.e.connects.n, got, MinRaceDelay)
	}
	r.answers = map[int][]Outcome{}
	start := time.Now()
	r.deliver(dead, 30*time.Second)
	took := time.Since(start)
	r.check(dead)
	if r.e.Stats().Raced != 1 || took >= ceiling/2 {
		t.Errorf("dead first MX: %d raced, delivered after %v; want one race, well before -t race %v", r.e.Stats().Raced, took, ceiling)
	}
}
