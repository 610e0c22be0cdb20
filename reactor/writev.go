//go:build darwin || linux || openbsd

package reactor

import "golang.org/x/sys/unix"

// maxIovecs bounds one writev: IOV_MAX is 1024 on every system we build for.
const maxIovecs = 1024

// WriteSegments writes as much of segs as the descriptor takes in one
// writev, so a command group and a shared message go out in one syscall.
// It returns (0, nil) when the descriptor cannot take more now.
func WriteSegments(fd int, segs [][]byte) (int, error) {
	if len(segs) > maxIovecs {
		segs = segs[:maxIovecs]
	}
	return nonblocking("writev", func() (int, error) { return unix.Writev(fd, segs) })
}
