//go:build darwin || linux || openbsd

package reactor

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// maxIovecs bounds one writev: IOV_MAX is 1024 on every system we build for.
const maxIovecs = 1024

// WriteSegments writes as much of segs as the descriptor takes in one
// writev, so a command group and a shared message go out in one syscall.
// It returns (0, nil) when the descriptor cannot take more now.
func WriteSegments(fd int, segs [][]byte) (int, error) {
	if len(segs) > maxIovecs {
		segs = segs[:maxIovecs]
	}
	for {
		n, err := unix.Writev(fd, segs)
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, nil
		}
		return 0, os.NewSyscallError("writev", err)
	}
}
