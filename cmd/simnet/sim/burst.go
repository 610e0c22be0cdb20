package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// burst models a server whose UDP socket buffer overflows under a burst:
// of the queries that arrive beyond Limit within one Window, a share is
// dropped. A paced stream (at most Limit per Window) loses nothing.
//
// Windows are fixed: the first query after a window has passed opens the
// next one. It belongs to the UDP read loop's goroutine alone.
type burst struct {
	limit  int
	window time.Duration
	share  float64
	rng    *rand.Rand
	start  time.Time // of the current window
	count  int       // queries arrived in it
}

func newBurst(c Config) *burst {
	if c.BurstLimit <= 0 || c.BurstDropShare <= 0 {
		return nil
	}
	return &burst{limit: c.BurstLimit, window: c.BurstWindow, share: c.BurstDropShare,
		rng: rand.New(rand.NewPCG(c.Seed, 0xb0b5))}
}

// drop counts a query arriving at now and says whether to drop it.
func (b *burst) drop(now time.Time) bool {
	if b == nil {
		return false
	}
	if now.Sub(b.start) >= b.window {
		b.start, b.count = now, 0
	}
	b.count++
	return b.count > b.limit && b.rng.Float64() < b.share
}

// DefaultBurstWindow is the window of -drop-burst when none is given.
const DefaultBurstWindow = 10 * time.Millisecond

// ParseDropBurst reads the -drop-burst value "LIMIT[/WINDOW]:SHARE", e.g.
// "200/10ms:0.5": of the UDP queries beyond 200 in any 10 ms, half are
// dropped. "" or "0" turns the knob off.
func ParseDropBurst(s string, c *Config) error {
	c.BurstLimit, c.BurstWindow, c.BurstDropShare = 0, 0, 0
	if s == "" || s == "0" {
		return nil
	}
	rate, share, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("sim: drop-burst %q: want LIMIT[/WINDOW]:SHARE", s)
	}
	limit, win, _ := strings.Cut(rate, "/")
	n, err := strconv.Atoi(limit)
	if err != nil || n < 1 {
		return fmt.Errorf("sim: drop-burst %q: limit %q is not a positive count", s, limit)
	}
	w := DefaultBurstWindow
	if win != "" {
		if w, err = time.ParseDuration(win); err != nil || w <= 0 {
			return fmt.Errorf("sim: drop-burst %q: window %q is not a positive duration", s, win)
		}
	}
	f, err := strconv.ParseFloat(share, 64)
	if err != nil || f <= 0 || f > 1 {
		return fmt.Errorf("sim: drop-burst %q: share %q is not in (0,1]", s, share)
	}
	c.BurstLimit, c.BurstWindow, c.BurstDropShare = n, w, f
	return nil
}
