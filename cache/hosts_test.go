package cache

import (
	"net/netip"
	"testing"
	"time"
)

func TestHosts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	h := NewHosts(time.Minute)
	if _, down := h.IsDown(a, t0); down {
		t.Fatal("IsDown of an unknown address = true")
	}
	h.MarkDown(a, "connect: connection timed out", t0)
	if d, down := h.IsDown(a, t0.Add(59*time.Second)); !down || d.Why != "connect: connection timed out" {
		t.Fatalf("IsDown after 59s = %v, %v; want down with the reason", d, down)
	}
	if _, down := h.IsDown(b, t0); down {
		t.Fatal("another address is down too")
	}
	if _, down := h.IsDown(a, t0.Add(time.Minute)); down {
		t.Fatal("still down after its time")
	}
	if h.Len() != 0 {
		t.Fatalf("Len() = %d after expiry, want 0", h.Len())
	}
}

func TestHostsBounded(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := NewHosts(time.Hour)
	for i := range maxHosts + 10 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		h.MarkDown(a, "x", t0.Add(time.Duration(i)*time.Millisecond))
	}
	if h.Len() > maxHosts {
		t.Fatalf("Len() = %d, want at most %d", h.Len(), maxHosts)
	}
	// The oldest entries were the ones to go.
	if _, down := h.IsDown(netip.AddrFrom4([4]byte{10, 0, 0, 0}), t0); down {
		t.Fatal("the entry closest to expiry survived eviction")
	}
	last := maxHosts + 9
	if _, down := h.IsDown(netip.AddrFrom4([4]byte{10, byte(last >> 16), byte(last >> 8), byte(last)}), t0); !down {
		t.Fatal("the newest entry was evicted")
	}
}
