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

// connectedAt is when the kernel completed c's handshake, from
// TCP_INFO's time since the last ACK received (the handshake's last,
// since a client says nothing before the greeting), or accepted when it
// cannot tell. Accept runs late when the world's goroutines wait for a
// CPU the client under test holds: a connect the client made before a
// 421 must not read as one made after it.
func connectedAt(c net.Conn, accepted time.Time) time.Time {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return accepted
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return accepted
	}
	at := accepted
	rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err == nil {
			at = accepted.Add(-time.Duration(info.Last_ack_recv) * time.Millisecond)
		}
	})
	return at
}
