package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the collector's target when GOGC is not set: the
// heap may grow to 1.5 times what is live rather than Go's 2 times. A
// list is held in memory whole, recipients and all, so the heap's
// headroom is most of the peak: at 100,000 recipients (feedbench, two
// runs each, smtpfeed's own VmHWM) GOGC=100 peaked at 69-73 MiB RSS, 50
// at 57-58 MiB, for 5-10% more CPU.
const defaultGCPercent = 50

// tuneGC sets defaultGCPercent unless the operator set GOGC; GOMEMLIMIT
// works as in any Go program.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
