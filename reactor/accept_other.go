//go:build darwin || netbsd || openbsd

package reactor

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// accept takes a connection and makes it non-blocking and close-on-exec:
// golang.org/x/sys has no accept4 here. ForkLock keeps a concurrent exec
// from inheriting it in between.
func accept(fd int) (int, error) {
	syscall.ForkLock.RLock()
	nfd, _, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, err
	}
	return nfd, nil
}
