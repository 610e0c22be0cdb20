package sim

import (
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rxTimeOOB is room for one SCM_TIMESTAMPNS control message.
var rxTimeOOB = unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))

// enableRxTime asks the kernel to stamp each datagram with the time it
// reached the socket (SO_TIMESTAMPNS). The burst model counts arrivals at
// the socket, not reads: the server shares the CPUs with the client under
// test, and when its read loop is descheduled for a few milliseconds the
// queries that queued meanwhile, paced as they were, would read as a burst.
func enableRxTime(c *net.UDPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	})
}

// rxTime is the arrival time in oob, or fallback when there is none.
func rxTime(oob []byte, fallback time.Time) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return fallback
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(ts.Unix())
		}
	}
	return fallback
}
