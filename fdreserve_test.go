package smtpfeed

import "testing"

// TestMaxConnsFor: the connection limit leaves room for the resolver's
// sockets (udpSockets per server, twice while they rotate, and TCP), the
// LMTP sessions and the standard streams.
func TestMaxConnsFor(t *testing.T) {
	tests := []struct {
		name              string
		fdLimit           uint64
		servers, sessions int
		want              int
	}{
		{"1024, one server, stdio", 1024, 1, 0, 1024 - (3 + 128 + 64 + 16)},
		{"1024, three servers, 100 sessions", 1024, 3, 100, 1024 - (3 + 3*128 + 64 + 16 + 100)},
		{"no server given counts as one", 1024, 0, 0, 1024 - (3 + 128 + 64 + 16)},
		{"limit below the reserve", 256, 3, 100, 1},
		{"limit at the reserve", 211, 1, 0, 1},
		{"large limit capped", 1 << 20, 2, 100, DefaultMaxConns},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaxConnsFor(tc.fdLimit, FDReserve(tc.servers, tc.sessions)); got != tc.want {
				t.Errorf("MaxConnsFor(%d, FDReserve(%d, %d)) = %d, want %d", tc.fdLimit, tc.servers, tc.sessions, got, tc.want)
			}
		})
	}
}
