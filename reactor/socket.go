package reactor

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// ErrSourceFamily: the source address asked for is not of the
// destination's family, so no socket can connect from it.
var ErrSourceFamily = errors.New("source and destination address families differ")

func sockaddr(ap netip.AddrPort) (unix.Sockaddr, int) {
	a := ap.Addr().Unmap()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}, unix.AF_INET6
}

// dial makes a non-blocking socket, binds it to src when src is valid, and
// starts connecting it to dst.
func dial(typ int, dst netip.AddrPort, src netip.Addr) (int, error) {
	sa, family := sockaddr(dst)
	if src.IsValid() && (src.Unmap().Is4()) != (family == unix.AF_INET) {
		return -1, fmt.Errorf("connect to %v from %v: %w", dst, src, ErrSourceFamily)
	}
	fd, err := newSocket(family, typ)
	if err != nil {
		return -1, fmt.Errorf("connect to %v: %w", dst, err)
	}
	if src.IsValid() {
		local, _ := sockaddr(netip.AddrPortFrom(src, 0))
		if err := unix.Bind(fd, local); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("connect to %v: bind %v: %w", dst, src, os.NewSyscallError("bind", err))
		}
	}
	err = unix.Connect(fd, sa)
	if err != nil && !errors.Is(err, unix.EINPROGRESS) && !errors.Is(err, unix.EINTR) {
		unix.Close(fd)
		return -1, fmt.Errorf("connect to %v: %w", dst, os.NewSyscallError("connect", err))
	}
	return fd, nil
}

// DialTCP starts a non-blocking TCP connect to dst, from src when src is
// valid. The socket comes back at once: the connect has finished when the
// socket is writable, and ConnectResult then tells how. A connect the
// kernel refuses on the spot is an error here.
func DialTCP(dst netip.AddrPort, src netip.Addr) (int, error) {
	return dial(unix.SOCK_STREAM, dst, src)
}

// ConnectResult reports how the connect of a writable socket ended: nil
// when it is connected, otherwise the connect's error (refused,
// unreachable, ...).
func ConnectResult(fd int) error {
	errno, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return os.NewSyscallError("getsockopt", err)
	}
	if errno != 0 {
		return os.NewSyscallError("connect", unix.Errno(errno))
	}
	return nil
}

// DialUDP makes a connected, non-blocking UDP socket to dst: the kernel
// picks a random source port and drops datagrams from anyone but dst.
func DialUDP(dst netip.AddrPort, src netip.Addr) (int, error) {
	return dial(unix.SOCK_DGRAM, dst, src)
}

// Read reads from a non-blocking descriptor. It returns (0, nil) when
// nothing is waiting and (0, io.EOF) at end of file. (On a datagram
// socket an empty datagram reads as io.EOF too; nothing we speak sends one.)
func Read(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, nil
		}
		return 0, os.NewSyscallError("read", err)
	}
}

// Write writes to a non-blocking descriptor. It returns how much was
// written, (0, nil) when the descriptor cannot take more now. A vanished
// peer is an EPIPE error value: the raw write keeps the runtime from
// raising SIGPIPE, even on standard output.
func Write(fd int, p []byte) (int, error) {
	return nonblocking("write", func() (int, error) { return unix.Write(fd, p) })
}

// nonblocking runs one write-like syscall on a non-blocking descriptor:
// EINTR is retried, EAGAIN is (0, nil), anything else names the syscall.
func nonblocking(op string, call func() (int, error)) (int, error) {
	for {
		n, err := call()
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, nil
		}
		return 0, os.NewSyscallError(op, err)
	}
}
