//go:build unix

package sim

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// A dead host is a listening socket with the smallest backlog whose accept
// queue simnet fills with its own connections at start and never accepts.
// From then on the kernel drops every further SYN (Linux with the default
// net.ipv4.tcp_abort_on_overflow=0; the BSDs likewise drop when the queue
// is full), so a client's connect hangs until its own timeout, exactly like
// a host that is down behind a silent firewall, without root or packet
// filters. net.Listen cannot be used: it asks for the system maximum
// backlog.
type deadHost struct {
	host    *Host
	addr    netip.Addr // the host's address, or a dual-stack host's IPv6 one (Kind6)
	fd      int
	fillers []net.Conn
}

// fillTimeout is how long a filler connect may take before the queue is
// taken as full. A loopback handshake to a socket with room takes
// microseconds, so 100 ms is a wide margin even on a loaded machine.
const fillTimeout = 100 * time.Millisecond

// listenDead binds a backlog-0 listener on ap.
func listenDead(h *Host, ap netip.AddrPort) (*deadHost, error) {
	var family int
	var sa syscall.Sockaddr
	if a := ap.Addr(); a.Is4() {
		family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	} else {
		family, sa = syscall.AF_INET6, &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, fmt.Errorf("sim: dead host %s: socket: %w", h.Name, err)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("sim: dead host %s: SO_REUSEADDR: %w", h.Name, err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("sim: dead host %s: bind %v: %w", h.Name, ap, os.NewSyscallError("bind", err))
	}
	if err := syscall.Listen(fd, 0); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("sim: dead host %s: listen %v: %w", h.Name, ap, err)
	}
	return &deadHost{host: h, addr: ap.Addr(), fd: fd}, nil
}

// fill connects to the dead host until a connect does not complete in
// fillTimeout: the accept queue is then full and stays full, since nobody
// accepts. The timed-out connect also proves that a connect now hangs.
func (d *deadHost) fill(ap netip.AddrPort) error {
	for range 64 {
		c, err := net.DialTimeout("tcp", ap.String(), fillTimeout)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil
			}
			return fmt.Errorf("sim: dead host %s: filling the accept queue of %v: %w", d.host.Name, ap, err)
		}
		d.fillers = append(d.fillers, c)
	}
	return fmt.Errorf("sim: dead host %s: %v accepted 64 connections with backlog 0; cannot make it hang", d.host.Name, ap)
}

// port is the port the kernel bound.
func (d *deadHost) port() (uint16, error) {
	sa, err := syscall.Getsockname(d.fd)
	if err != nil {
		return 0, fmt.Errorf("sim: dead host %s: getsockname: %w", d.host.Name, err)
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return uint16(sa.Port), nil
	case *syscall.SockaddrInet6:
		return uint16(sa.Port), nil
	}
	return 0, fmt.Errorf("sim: dead host %s: getsockname: address %v of no IP family", d.host.Name, sa)
}

func (d *deadHost) close() {
	for _, c := range d.fillers {
		c.Close()
	}
	syscall.Close(d.fd)
}
