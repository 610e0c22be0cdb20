package reactor

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsg holds recvmmsg's or sendmmsg's headers. For Datagrams they point
// at its buffers for its whole life; for a DatagramWriter at the
// datagrams of the current Write only.
type mmsg struct {
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
}

func (m *mmsg) init(bufs [][]byte) {
	m.grow(len(bufs))
	for i, b := range bufs {
		m.iovs[i].Base = unsafe.SliceData(b)
		m.iovs[i].SetLen(cap(b))
	}
}

func (m *mmsg) grow(count int) {
	m.hdrs = make([]unix.Mmsghdr, count)
	m.iovs = make([]unix.Iovec, count)
	for i := range m.hdrs {
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

func (w *DatagramWriter) write(fd int, msgs [][]byte) (int, error) {
	m := &w.sys
	sent := 0
	for sent < len(msgs) {
		batch := msgs[sent:min(len(msgs), sent+len(m.hdrs))]
		for i, b := range batch {
			m.iovs[i].Base = unsafe.SliceData(b)
			m.iovs[i].SetLen(len(b))
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd),
			uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(len(batch)), unix.MSG_DONTWAIT, 0, 0)
		for i := range batch {
			m.iovs[i].Base = nil // hold no caller's buffer past the call
		}
		switch errno {
		case 0:
			if r == 0 {
				return sent, nil
			}
			// Fewer than the batch: the socket is full, or failed after
			// some. The kernel keeps that error for the next call, so the
			// next round fetches it (or EAGAIN) for the caller now, not
			// on its next batch.
			sent += int(r)
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return sent, nil
		}
		return sent, os.NewSyscallError("sendmmsg", errno)
	}
	return sent, nil
}
