//go:build darwin

package reactor

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// newSocket makes a non-blocking, close-on-exec socket. Darwin has no
// SOCK_NONBLOCK, so the flags are set after; ForkLock keeps a concurrent
// exec from inheriting the socket in between.
func newSocket(family, typ int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setnonblock", err)
	}
	// Writes to a vanished peer return EPIPE instead of raising SIGPIPE.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
	return fd, nil
}

// newPipe makes a non-blocking, close-on-exec pipe: read end, write end.
func newPipe() (int, int, error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err := unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, -1, os.NewSyscallError("pipe", err)
	}
	for _, fd := range p {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return -1, -1, os.NewSyscallError("setnonblock", err)
		}
	}
	return p[0], p[1], nil
}
