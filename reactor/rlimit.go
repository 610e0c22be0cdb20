package reactor

import (
	"os"

	"golang.org/x/sys/unix"
)

// darwinOpenMax is the most darwin accepts as a soft limit when the hard
// limit is "unlimited" (OPEN_MAX).
const darwinOpenMax = 10240

// RaiseFileLimit raises the soft limit on open descriptors to the hard
// limit, since every SMTP connection and resolver socket is one, and
// reports the limit now in force.
func RaiseFileLimit() (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, os.NewSyscallError("getrlimit", err)
	}
	if lim.Cur >= lim.Max {
		return uint64(lim.Cur), nil
	}
	want := lim
	want.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
		if want.Cur <= darwinOpenMax {
			return uint64(lim.Cur), os.NewSyscallError("setrlimit", err)
		}
		want.Cur = darwinOpenMax
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
			return uint64(lim.Cur), os.NewSyscallError("setrlimit", err)
		}
	}
	return uint64(want.Cur), nil
}
