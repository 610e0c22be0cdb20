//go:build !linux

package reactor

import "time"

// ThreadCPU is the calling thread's CPU time where the system says it
// (Linux); elsewhere it reports false.
func ThreadCPU() (time.Duration, bool) { return 0, false }
