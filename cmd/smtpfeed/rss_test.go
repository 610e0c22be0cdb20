package main

import (
	"runtime"
	"testing"
)

// TestPeakRSS: the peak grows when the process touches more memory.
func TestPeakRSS(t *testing.T) {
	before := peakRSS()
	if before <= 0 {
		t.Fatalf("peakRSS() = %d KiB, want the process's peak", before)
	}
	const size = 256 << 20
	b := make([]byte, size)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	after := peakRSS()
	runtime.KeepAlive(b)
	// The test process's earlier peak is far below what it holds now
	// plus 256 MiB, so the peak must rise by most of it.
	if after-before < size/1024/2 {
		t.Errorf("peakRSS: %d KiB before touching %d MiB, %d after: want it to grow", before, size>>20, after)
	}
}
