package smtpfeed

import (
	"testing"
	"time"
)

// grown is a window past slow start at size, with every answer after rtt.
func grown(size float64, rtt time.Duration) window {
	w := newWindow(256, 4096)
	w.answered(rtt)
	w.size, w.ssthresh = size, size
	return w
}

func TestWindowLost(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		delivered int // answers while the lost try was out, 100 ms
		want      float64
	}{
		{"to the delivery rate", 1600, 800}, // 16,000/s × 50 ms
		{"not below cutFloor", 200, 750},
		{"never grown by a loss", 4000, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := grown(1000, 50*time.Millisecond)
			d0 := w.delivered
			w.delivered += tc.delivered
			w.lost(t0, d0, t0.Add(100*time.Millisecond))
			if w.size != tc.want || w.ssthresh != tc.want {
				t.Errorf("after a loss: size %v ssthresh %v, want %v", w.size, w.ssthresh, tc.want)
			}
			// A try sent before the cut is the same congestion.
			w.lost(t0.Add(50*time.Millisecond), d0, t0.Add(150*time.Millisecond))
			if w.size != tc.want {
				t.Errorf("second loss of the round: size %v, want %v", w.size, tc.want)
			}
		})
	}
	w := grown(300, 50*time.Millisecond)
	w.lost(t0, w.delivered, t0.Add(100*time.Millisecond))
	if w.size != 256 {
		t.Errorf("loss at 300: size %v, want the floor 256", w.size)
	}
}

// TestWindowPacing: a window of 100 over 10 ms goes out at one datagram
// per 100 us, with at most paceBurst of catching up.
func TestWindowPacing(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	w := newWindow(100, 100)
	if !w.mayPace(now) {
		t.Fatalf("before any round trip: paced, want not")
	}
	w.answered(10 * time.Millisecond)
	w.ssthresh = w.size // avoidance: gain avoidanceGain
	sent := 0
	for w.mayPace(now) {
		w.paced(now)
		sent++
	}
	if want := int(paceBurst/(100*time.Microsecond)) + 1; sent != want {
		t.Errorf("at once after idling: %d sent, want %d", sent, want)
	}
	now = now.Add(time.Millisecond)
	sent = 0
	for w.mayPace(now) {
		w.paced(now)
		sent++
	}
	if sent != 10 {
		t.Errorf("1 ms later: %d sent, want 10", sent)
	}
}

func TestNameServerQueued(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	const wait = 100 * time.Millisecond
	tests := []struct {
		name       string
		ackSeq     uint64
		lastAnswer time.Duration // before now; 0: never answered
		want       bool
	}{
		{"earlier tries still answered", 5, 10 * time.Millisecond, true},
		{"a later try answered: lost", 11, 10 * time.Millisecond, false},
		{"never answered", 0, 0, false},
		{"silent too long", 5, queuedSilence * wait, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(time.Second)
			s := &nameServer{ackSeq: tc.ackSeq}
			if tc.lastAnswer > 0 {
				s.lastAnswer = now.Add(-tc.lastAnswer)
			}
			if got := s.queued(try{seq: 10}, now, wait); got != tc.want {
				t.Errorf("queued(seq 10) with ackSeq %d = %v, want %v", tc.ackSeq, got, tc.want)
			}
		})
	}
}
