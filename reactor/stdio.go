package reactor

import (
	"os"

	"golang.org/x/sys/unix"
)

// Standard input and output as loop descriptors.
const (
	Stdin  = 0
	Stdout = 1
)

// PrepareStdio makes standard input and output usable by the loop: pipes,
// sockets and terminals become non-blocking (they are polled like any
// socket); a regular file is left as it is, since it never blocks and the
// loop treats it as always ready.
func PrepareStdio() error {
	for _, fd := range []int{Stdin, Stdout} {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return os.NewSyscallError("fstat", err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			continue
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			return os.NewSyscallError("setnonblock", err)
		}
	}
	return nil
}
