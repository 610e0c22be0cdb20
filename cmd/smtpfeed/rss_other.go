//go:build !linux

package main

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// peakRSS is the process's peak resident set in KiB, 0 if unknown, from
// getrusage: kilobytes on the BSDs, bytes on macOS.
func peakRSS() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) / 1024
	}
	return int64(ru.Maxrss)
}
