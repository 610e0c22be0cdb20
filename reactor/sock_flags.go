//go:build dragonfly || freebsd || linux || netbsd || openbsd

package reactor

import (
	"os"

	"golang.org/x/sys/unix"
)

// newSocket makes a non-blocking, close-on-exec socket in one syscall.
func newSocket(family, typ int) (int, error) {
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	return fd, os.NewSyscallError("socket", err)
}

// newPipe makes a non-blocking, close-on-exec pipe: read end, write end.
func newPipe() (int, int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return -1, -1, os.NewSyscallError("pipe2", err)
	}
	return p[0], p[1], nil
}
