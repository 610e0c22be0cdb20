//go:build dragonfly || freebsd || linux

package reactor

import "golang.org/x/sys/unix"

// accept takes a connection already non-blocking and close-on-exec, in
// one syscall.
func accept(fd int) (int, error) {
	nfd, _, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	return nfd, err
}
