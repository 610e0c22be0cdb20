package reactor

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsg holds recvmmsg's headers, one per buffer, pointing at the buffers
// for the life of the Datagrams.
type mmsg struct {
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
}

func (m *mmsg) init(bufs [][]byte) {
	m.hdrs = make([]unix.Mmsghdr, len(bufs))
	m.iovs = make([]unix.Iovec, len(bufs))
	for i, b := range bufs {
		m.iovs[i].Base = unsafe.SliceData(b)
		m.iovs[i].SetLen(cap(b))
		m.hdrs[i].Hdr.Iov = &m.iovs[i]
		m.hdrs[i].Hdr.SetIovlen(1)
	}
}

func (d *Datagrams) read(fd int) (int, error) {
	for {
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd),
			uintptr(unsafe.Pointer(&d.sys.hdrs[0])), uintptr(len(d.sys.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			n := int(r)
			for i := range n {
				d.lens[i] = int(d.sys.hdrs[i].Len)
			}
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		}
		return 0, os.NewSyscallError("recvmmsg", errno)
	}
}
