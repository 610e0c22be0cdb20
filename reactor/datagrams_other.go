//go:build !linux

package reactor

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// mmsg is empty where there is no recvmmsg or sendmmsg: a read or a
// write per datagram.
type mmsg struct{}

func (mmsg) init([][]byte) {}
func (mmsg) grow(int)      {}

func (d *Datagrams) read(fd int) (int, error) {
	n := 0
	for n < len(d.bufs) {
		m, err := unix.Read(fd, d.bufs[n])
		switch {
		case err == nil:
			d.lens[n] = m
			n++
			continue
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
		case n == 0:
			return 0, os.NewSyscallError("read", err)
		}
		break // an error after some datagrams comes again on the next Read
	}
	return n, nil
}

func (w *DatagramWriter) write(fd int, msgs [][]byte) (int, error) {
	sent := 0
	for sent < len(msgs) {
		_, err := unix.Write(fd, msgs[sent])
		switch {
		case err == nil:
			sent++
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return sent, nil
		default:
			return sent, os.NewSyscallError("write", err)
		}
	}
	return sent, nil
}
