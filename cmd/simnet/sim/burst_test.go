package sim

import (
	"math"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestBurstModel drives the limiter with a fake arrival clock: a burst
// over the limit loses about the share of the excess, a paced stream
// loses nothing.
func TestBurstModel(t *testing.T) {
	cfg := Config{Seed: 1, BurstLimit: 200, BurstWindow: 10 * time.Millisecond, BurstDropShare: 0.5}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		n        int
		gap      time.Duration // between arrivals
		min, max int           // dropped
	}{
		// 2,000 at once: 1,800 over the limit, half of them dropped.
		{"burst", 2000, 0, 800, 1000},
		// 100 per 10 ms, half the limit: none dropped.
		{"paced", 2000, 100 * time.Microsecond, 0, 0},
		// Exactly the limit per window: none dropped.
		{"at the limit", 2000, 50 * time.Microsecond, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBurst(cfg)
			dropped := 0
			for i := range tc.n {
				if b.drop(t0.Add(time.Duration(i) * tc.gap)) {
					dropped++
				}
			}
			if dropped < tc.min || dropped > tc.max {
				t.Errorf("%d queries %v apart: dropped %d, want %d..%d", tc.n, tc.gap, dropped, tc.min, tc.max)
			}
		})
	}
	if newBurst(Config{}) != nil || newBurst(Config{}).drop(t0) {
		t.Errorf("zero Config: want no limiter and no drops")
	}
}

// TestDropBurstServer sends bursts of UDP queries to a world with the
// knob on: a burst beyond the limit loses about the share of its excess
// (counted in the report), a paced stream loses none.
func TestDropBurstServer(t *testing.T) {
	cfg := tinyConfig()
	cfg.Silent, cfg.Truncate = 0, 0
	cfg.BurstLimit, cfg.BurstWindow, cfg.BurstDropShare = 50, 50*time.Millisecond, 0.5
	s := startSim(t, cfg)
	name := s.World.DomainsOf(KindNormal)[0].Name
	t.Run("burst", func(t *testing.T) {
		const n = 450 // 400 beyond the limit: about 200 dropped
		answered := udpBurst(t, s, name, n, 0)
		dropped := s.Report().DNSDropped
		if answered+dropped != n {
			t.Errorf("answered %d + dropped %d, want %d", answered, dropped, n)
		}
		if math.Abs(float64(dropped)-200) > 50 {
			t.Errorf("dropped %d of %d, want about 200", dropped, n)
		}
	})
	t.Run("paced", func(t *testing.T) {
		before := s.Report().DNSDropped
		// One query per 4 ms is 12 or 13 per 50 ms window, a quarter of
		// the limit.
		answered := udpBurst(t, s, name, 100, 4*time.Millisecond)
		if got := s.Report().DNSDropped - before; got != 0 || answered != 100 {
			t.Errorf("paced: answered %d, dropped %d; want 100 and 0", answered, got)
		}
	})
}

// udpBurst sends n MX queries for name from one socket, gap apart, and
// counts the distinct IDs answered until no answer came for 300 ms.
func udpBurst(t *testing.T, s *Sim, name string, n int, gap time.Duration) int {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(s.DNSAddr()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetReadBuffer(1 << 20)
	for i := range n {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeMX)
		m.Id = uint16(i + 1)
		b, _ := m.Pack()
		if _, err := c.Write(b); err != nil {
			t.Fatalf("write: %v", err)
		}
		if gap > 0 {
			time.Sleep(gap) // pacing is what this test is about
		}
	}
	seen := map[uint16]bool{}
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		k, err := c.Read(buf)
		if err != nil {
			return len(seen)
		}
		if k >= 2 {
			seen[uint16(buf[0])<<8|uint16(buf[1])] = true
		}
	}
}
