//go:build unix

package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"smtpfeed/reactor"
)

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: a
// thousand hosts with their clients' connections need several thousand
// descriptors.
func raiseFileLimit() {
	if _, err := reactor.RaiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "simnet: raising the open file limit:", err)
	}
}

func notifyDump(c chan os.Signal) { signal.Notify(c, syscall.SIGUSR1) }
