package reactor

import "time"

// Clock is where the loop reads the time, once per pass. Tests inject a
// FakeClock so that long timeouts pass instantly.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

// FakeClock is a Clock that moves only when told. It belongs to the loop's
// goroutine like everything else the loop touches.
type FakeClock struct {
	now time.Time
}

// NewFakeClock starts a fake clock at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now reports the fake time.
func (c *FakeClock) Now() time.Time { return c.now }

// Advance moves the fake time forward by d.
func (c *FakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }
