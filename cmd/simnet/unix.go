//go:build unix

package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: a
// thousand hosts with their clients' connections need several thousand
// descriptors.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "simnet: getrlimit:", err)
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "simnet: raising the open file limit:", err)
		}
	}
}

func notifyDump(c chan os.Signal) { signal.Notify(c, syscall.SIGUSR1) }
