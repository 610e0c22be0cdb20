//go:build dragonfly || freebsd || netbsd

package reactor

// WriteSegments writes segs one write at a time, since golang.org/x/sys
// has no writev for these systems, stopping at the first short write.
// It returns (0, nil) when the descriptor cannot take more now.
func WriteSegments(fd int, segs [][]byte) (int, error) {
	total := 0
	for _, seg := range segs {
		if len(seg) == 0 {
			continue
		}
		n, err := Write(fd, seg)
		total += n
		if err != nil {
			if total > 0 {
				return total, nil // report the error on the next call
			}
			return 0, err
		}
		if n < len(seg) {
			break
		}
	}
	return total, nil
}
