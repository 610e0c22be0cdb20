package reactor

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var epoch = time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)

// timerLoop is a loop on a fake clock with nothing registered: Step(0)
// only fires timers.
func timerLoop(t *testing.T) (*Loop, *FakeClock) {
	t.Helper()
	c := NewFakeClock(epoch)
	return newLoop(t, c), c
}

func step(t *testing.T, l *Loop) {
	t.Helper()
	if err := l.Step(0); err != nil {
		t.Fatalf("Step: %v", err)
	}
}

func TestTimerOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		offsets []int // due times of timers 0, 1, ... in seconds, added in this order
		want    []int // firing order
	}{
		{"in order", []int{1, 2, 3}, []int{0, 1, 2}},
		{"reversed", []int{3, 2, 1}, []int{2, 1, 0}},
		{"shuffled", []int{5, 1, 4, 2, 3}, []int{1, 3, 4, 2, 0}},
		{"equal due times in the order set", []int{2, 2, 2, 2}, []int{0, 1, 2, 3}},
		{"equal mixed", []int{2, 1, 2, 1, 0}, []int{4, 1, 3, 0, 2}},
		{"already due", []int{-5, 0, -10}, []int{2, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, c := timerLoop(t)
			var got []int
			var nows []time.Time
			for i, off := range tc.offsets {
				l.AddTimer(l.Now().Add(time.Duration(off)*time.Second), func(now time.Time) {
					got = append(got, i)
					nows = append(nows, now)
				})
			}
			c.Advance(10 * time.Second)
			step(t, l)
			if !slices.Equal(got, tc.want) {
				t.Errorf("firing order: got %v, want %v", got, tc.want)
			}
			for _, n := range nows {
				if !n.Equal(c.Now()) {
					t.Errorf("callback now: got %v, want the pass's %v", n, c.Now())
				}
			}
		})
	}
}

func TestTimerFiresOnlyWhenDue(t *testing.T) {
	l, c := timerLoop(t)
	var fired []int
	for i := 1; i <= 3; i++ {
		l.AddTimer(epoch.Add(time.Duration(i)*time.Second), func(time.Time) { fired = append(fired, i) })
	}
	for _, tc := range []struct {
		advance time.Duration
		want    []int
	}{
		{0, nil},
		{999 * time.Millisecond, nil},
		{time.Millisecond, []int{1}},
		{1500 * time.Millisecond, []int{1, 2}},
		{time.Hour, []int{1, 2, 3}},
	} {
		c.Advance(tc.advance)
		step(t, l)
		if !slices.Equal(fired, tc.want) {
			t.Fatalf("at +%v: fired %v, want %v", c.Now().Sub(epoch), fired, tc.want)
		}
	}
}

func TestStopTimer(t *testing.T) {
	l, c := timerLoop(t)
	var fired []string
	a := l.AddTimer(epoch.Add(time.Second), func(time.Time) { fired = append(fired, "a") })
	b := l.AddTimer(epoch.Add(2*time.Second), func(time.Time) { fired = append(fired, "b") })
	if !a.Pending() {
		t.Errorf("Pending after AddTimer: got false, want true")
	}
	if got := l.StopTimer(a); !got {
		t.Errorf("first StopTimer: got %v, want true", got)
	}
	if got := l.StopTimer(a); got {
		t.Errorf("second StopTimer: got %v, want false", got)
	}
	if a.Pending() {
		t.Errorf("Pending after StopTimer: got true, want false")
	}
	if got := l.StopTimer(nil); got {
		t.Errorf("StopTimer(nil): got %v, want false", got)
	}
	c.Advance(time.Hour)
	step(t, l)
	if want := []string{"b"}; !slices.Equal(fired, want) {
		t.Errorf("fired: got %v, want %v", fired, want)
	}
	if got := l.StopTimer(b); got {
		t.Errorf("StopTimer of a fired timer: got %v, want false", got)
	}
	// A stopped timer can be re-armed.
	l.ResetTimer(a, c.Now())
	step(t, l)
	if want := []string{"b", "a"}; !slices.Equal(fired, want) {
		t.Errorf("fired after re-arming a: got %v, want %v", fired, want)
	}
}

func TestStopTimerFromCallback(t *testing.T) {
	l, c := timerLoop(t)
	var fired []string
	var b *Timer
	l.AddTimer(epoch.Add(time.Second), func(time.Time) {
		fired = append(fired, "a")
		if !l.StopTimer(b) {
			t.Errorf("StopTimer of a due timer from a callback: got false, want true")
		}
	})
	b = l.AddTimer(epoch.Add(time.Second), func(time.Time) { fired = append(fired, "b") })
	c.Advance(time.Second)
	step(t, l)
	if want := []string{"a"}; !slices.Equal(fired, want) {
		t.Errorf("fired: got %v, want %v", fired, want)
	}
}

func TestResetTimer(t *testing.T) {
	l, c := timerLoop(t)
	var fired []string
	mk := func(name string, d time.Duration) *Timer {
		return l.AddTimer(epoch.Add(d), func(time.Time) { fired = append(fired, name) })
	}
	a := mk("a", 10*time.Second)
	mk("b", 5*time.Second)
	d := mk("d", 7*time.Second)

	l.ResetTimer(a, epoch.Add(time.Second)) // earlier
	l.ResetTimer(d, epoch.Add(20*time.Second))
	if got, want := a.When(), epoch.Add(time.Second); !got.Equal(want) {
		t.Errorf("When after reset: got %v, want %v", got, want)
	}
	if when, ok := l.nextDeadline(); !ok || !when.Equal(epoch.Add(time.Second)) {
		t.Errorf("next deadline: got %v %v, want %v", when, ok, epoch.Add(time.Second))
	}
	c.Advance(time.Second)
	step(t, l)
	if want := []string{"a"}; !slices.Equal(fired, want) {
		t.Fatalf("after 1s: fired %v, want %v", fired, want)
	}
	c.Advance(9 * time.Second) // +10s: d was moved later, past this
	step(t, l)
	if want := []string{"a", "b"}; !slices.Equal(fired, want) {
		t.Fatalf("after 10s: fired %v, want %v", fired, want)
	}
	c.Advance(10 * time.Second)
	step(t, l)
	if want := []string{"a", "b", "d"}; !slices.Equal(fired, want) {
		t.Fatalf("after 20s: fired %v, want %v", fired, want)
	}

	// Resetting to the same time as another timer puts it after that one:
	// the order is the order the due times were set.
	x := mk("x", 30*time.Second)
	mk("y", 30*time.Second)
	l.ResetTimer(x, epoch.Add(30*time.Second))
	c.Advance(10 * time.Second)
	step(t, l)
	if want := []string{"a", "b", "d", "y", "x"}; !slices.Equal(fired, want) {
		t.Fatalf("after re-setting x: fired %v, want %v", fired, want)
	}
}

func TestTimerAddedFromCallback(t *testing.T) {
	l, c := timerLoop(t)
	var fired []string
	var passNow time.Time
	l.AddTimer(epoch.Add(time.Second), func(now time.Time) {
		passNow = now
		fired = append(fired, "outer")
		// Already due (earlier than now, and exactly now): same pass.
		l.AddTimer(now.Add(-time.Minute), func(time.Time) { fired = append(fired, "past") })
		l.AddTimer(now, func(time.Time) { fired = append(fired, "now") })
		// Not due yet: a later pass.
		l.AddTimer(now.Add(time.Nanosecond), func(time.Time) { fired = append(fired, "later") })
	})
	c.Advance(time.Second)
	step(t, l)
	if want := []string{"outer", "past", "now"}; !slices.Equal(fired, want) {
		t.Fatalf("first pass: fired %v, want %v", fired, want)
	}
	step(t, l)
	if want := []string{"outer", "past", "now"}; !slices.Equal(fired, want) {
		t.Fatalf("second pass without advancing: fired %v, want %v", fired, want)
	}
	c.Advance(time.Nanosecond)
	step(t, l)
	if want := []string{"outer", "past", "now", "later"}; !slices.Equal(fired, want) {
		t.Fatalf("after +1ns: fired %v, want %v", fired, want)
	}
	if !passNow.Equal(epoch.Add(time.Second)) {
		t.Errorf("callback now: got %v, want %v", passNow, epoch.Add(time.Second))
	}
}

// TestTimerWait: with the real clock, a pass with nothing but a timer 20 ms
// ahead waits for it.
func TestTimerWait(t *testing.T) {
	l := newLoop(t, nil)
	const ahead = 20 * time.Millisecond
	start := time.Now()
	due := l.Now().Add(ahead)
	var firedAt time.Time
	l.AddTimer(due, func(now time.Time) { firedAt = now })
	// One pass should do; a signal may interrupt the wait (EINTR), so allow
	// a few, bounded.
	for pass := 0; firedAt.IsZero(); pass++ {
		if pass == 10 {
			t.Fatalf("timer not fired after %d passes (%v)", pass, time.Since(start))
		}
		stepBlocking(t, l)
	}
	if elapsed := time.Since(start); elapsed < ahead {
		t.Errorf("Step(-1) returned after %v, want >= %v", elapsed, ahead)
	}
	if firedAt.Before(due) {
		t.Errorf("timer's now: got %v, want >= %v", firedAt, due)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("a 20 ms timer took %v", elapsed)
	}
}

func TestWaitDelay(t *testing.T) {
	l, c := timerLoop(t)
	for _, tc := range []struct {
		name  string
		timer time.Duration // -1: no timer
		limit time.Duration
		want  time.Duration
	}{
		{"no timer, block", -1, -1, -1},
		{"no timer, limit", -1, 5 * time.Second, 5 * time.Second},
		{"timer, block", 3 * time.Second, -1, 3 * time.Second},
		{"timer before limit", 3 * time.Second, 5 * time.Second, 3 * time.Second},
		{"limit before timer", 3 * time.Second, time.Second, time.Second},
		{"zero limit", 3 * time.Second, 0, 0},
		{"timer overdue", -time.Minute, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tm *Timer
			if tc.timer != -1 {
				tm = l.AddTimer(c.Now().Add(tc.timer), func(time.Time) {})
			}
			if got := l.waitDelay(tc.limit); got != tc.want {
				t.Errorf("waitDelay(%v): got %v, want %v", tc.limit, got, tc.want)
			}
			l.StopTimer(tm)
		})
	}
}

// checkHeap verifies the heap order and every timer's index.
func checkHeap(t *testing.T, h timerHeap) {
	t.Helper()
	for i, tm := range h {
		if tm.index != i {
			t.Fatalf("timer at %d has index %d", i, tm.index)
		}
		if i > 0 && h.less(i, (i-1)/2) {
			t.Fatalf("heap order broken at %d", i)
		}
	}
}

// TestTimerHeapRandom applies many random add/reset/stop operations and
// clock advances and checks each pass fires exactly what a sorted
// reference says, in its order.
func TestTimerHeapRandom(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			l, c := timerLoop(t)
			type ref struct {
				id   int
				when time.Time
				seq  int
			}
			var (
				timers  []*Timer
				pending = map[int]ref{} // by id
				seq     int
				fired   []int
			)
			arm := func(id int, when time.Time) {
				seq++
				pending[id] = ref{id, when, seq}
			}
			randWhen := func() time.Time {
				// Coarse times so that many are equal.
				return c.Now().Add(time.Duration(rng.IntN(200)-20) * 10 * time.Millisecond)
			}
			for op := range 5000 {
				switch r := rng.IntN(10); {
				case r < 4 || len(timers) == 0:
					id := len(timers)
					when := randWhen()
					timers = append(timers, l.AddTimer(when, func(time.Time) { fired = append(fired, id) }))
					arm(id, when)
				case r < 6:
					id := rng.IntN(len(timers))
					when := randWhen()
					l.ResetTimer(timers[id], when)
					arm(id, when)
				case r < 8:
					id := rng.IntN(len(timers))
					_, was := pending[id]
					if got := l.StopTimer(timers[id]); got != was {
						t.Fatalf("op %d: StopTimer(%d): got %v, want %v", op, id, got, was)
					}
					delete(pending, id)
				default:
					c.Advance(time.Duration(rng.IntN(300)) * time.Millisecond)
					var want []ref
					for _, r := range pending {
						if !r.when.After(c.Now()) {
							want = append(want, r)
						}
					}
					slices.SortFunc(want, func(a, b ref) int {
						return cmp.Or(a.when.Compare(b.when), cmp.Compare(a.seq, b.seq))
					})
					fired = fired[:0]
					step(t, l)
					wantIDs := make([]int, len(want))
					for i, r := range want {
						wantIDs[i] = r.id
						delete(pending, r.id)
					}
					if !slices.Equal(fired, wantIDs) {
						t.Fatalf("op %d: fired %v, want %v", op, fired, wantIDs)
					}
				}
				checkHeap(t, l.timers)
				if got, want := len(l.timers), len(pending); got != want {
					t.Fatalf("op %d: %d timers pending, want %d", op, got, want)
				}
				if op%50 != 0 {
					continue
				}
				for id, tm := range timers {
					if _, ok := pending[id]; tm.Pending() != ok {
						t.Fatalf("op %d: timer %d Pending() = %v, want %v", op, id, tm.Pending(), ok)
					}
				}
			}
		})
	}
}

// TestLater: work put off with Later runs in the same pass, after the
// handler that asked for it, without the clock moving; a stopped one
// does not run.
func TestLater(t *testing.T) {
	l, c := timerLoop(t)
	var got []string
	l.AddTimer(c.Now(), func(time.Time) {
		l.Later(func(time.Time) { got = append(got, "later") })
		stopped := l.Later(func(time.Time) { got = append(got, "stopped") })
		l.StopTimer(stopped)
		got = append(got, "handler")
	})
	step(t, l)
	step(t, l) // a pass of its own at most, never a wait
	if want := []string{"handler", "later"}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
}
