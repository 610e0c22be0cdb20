package reactor

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// listenBacklog is the accept queue asked for; the kernel caps it at
// somaxconn. LMTP callers are a few MTA processes, but a burst of queue
// runners should not be refused.
const listenBacklog = 128

// ListenTCP makes a non-blocking listening TCP socket on addr.
func ListenTCP(addr netip.AddrPort) (int, error) {
	sa, family := sockaddr(addr)
	fd, err := newSocket(family, unix.SOCK_STREAM)
	if err != nil {
		return -1, fmt.Errorf("listen on %v: %w", addr, err)
	}
	// A restarted listener must not wait out TIME_WAIT on its port.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen on %v: %w", addr, os.NewSyscallError("bind", err))
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen on %v: %w", addr, os.NewSyscallError("listen", err))
	}
	return fd, nil
}

// ListenUnix makes a non-blocking listening unix socket at path with the
// permission bits mode, whatever the umask: connecting takes write
// permission, so the mode is who may hand us mail. A stale socket file
// left by an earlier run is replaced; any other file is not.
func ListenUnix(path string, mode os.FileMode) (int, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return -1, fmt.Errorf("listen on %s: exists and is not a socket", path)
		}
		os.Remove(path)
	}
	fd, err := newSocket(unix.AF_UNIX, unix.SOCK_STREAM)
	if err != nil {
		return -1, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The socket is made with mode from the start (bind applies the
	// umask), so no caller can connect in a moment of wider permissions;
	// the chmod then sets it exactly.
	old := unix.Umask(int(0o777 &^ mode.Perm()))
	err = unix.Bind(fd, &unix.SockaddrUnix{Name: path})
	unix.Umask(old)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen on %s: %w", path, os.NewSyscallError("bind", err))
	}
	if err := os.Chmod(path, mode.Perm()); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen on %s: %w", path, os.NewSyscallError("listen", err))
	}
	return fd, nil
}

// Accept takes one connection from a listening socket, non-blocking and
// close-on-exec. It returns -1 and no error when none is waiting.
func Accept(fd int) (int, error) {
	for {
		nfd, err := accept(fd)
		switch {
		case err == nil:
			return nfd, nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
			continue
		case errors.Is(err, unix.EAGAIN):
			return -1, nil
		}
		return -1, os.NewSyscallError("accept", err)
	}
}

// PeerAddr reports the address a connected TCP socket's peer has; false
// for a socket with no IP peer (unix).
func PeerAddr(fd int) (netip.Addr, bool) {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return netip.Addr{}, false
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), true
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap(), true
	}
	return netip.Addr{}, false
}
