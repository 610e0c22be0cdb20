package reactor

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func listenTCP(t *testing.T) (*net.TCPListener, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	tl := ln.(*net.TCPListener)
	tl.SetDeadline(time.Now().Add(5 * time.Second))
	return tl, tl.Addr().(*net.TCPAddr).AddrPort()
}

// connectThroughLoop dials dst from src, waits for the socket to become
// writable and reports ConnectResult (or DialTCP's own error).
func connectThroughLoop(t *testing.T, l *Loop, fds *fdSet, dst netip.AddrPort, src netip.Addr) (int, error) {
	t.Helper()
	fd, err := DialTCP(dst, src)
	if err != nil {
		return -1, err
	}
	fds.add(fd)
	var (
		done bool
		res  error
		got  Events
	)
	if err := l.Register(fd, Writable, func(_ time.Time, ev Events) {
		got = ev
		done = true
		res = ConnectResult(fd)
		l.Remove(fd)
	}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	stepUntil(t, l, 100*time.Millisecond, 50, "connect", func() bool { return done })
	if got != Writable {
		t.Errorf("connect event: got %v, want %v", got, Writable)
	}
	return fd, res
}

func TestDialTCP(t *testing.T) {
	t.Run("connected", func(t *testing.T) {
		fds := newFDSet(t)
		l := newLoop(t, nil)
		ln, addr := listenTCP(t)
		fd, err := connectThroughLoop(t, l, fds, addr, netip.Addr{})
		if err != nil {
			t.Fatalf("ConnectResult: got %v, want nil", err)
		}
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		defer c.Close()
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatalf("getsockname: %v", err)
		}
		if got, want := c.RemoteAddr().(*net.TCPAddr).Port, sa.(*unix.SockaddrInet4).Port; got != want {
			t.Errorf("accepted peer port: got %d, want %d", got, want)
		}
	})

	t.Run("refused", func(t *testing.T) {
		fds := newFDSet(t)
		l := newLoop(t, nil)
		ln, addr := listenTCP(t)
		ln.Close() // nothing listens on addr now
		_, err := connectThroughLoop(t, l, fds, addr, netip.Addr{})
		if !errors.Is(err, unix.ECONNREFUSED) {
			t.Fatalf("connect to a closed port: got %v, want ECONNREFUSED", err)
		}
	})

	t.Run("source address", func(t *testing.T) {
		fds := newFDSet(t)
		l := newLoop(t, nil)
		ln, addr := listenTCP(t)
		src := netip.MustParseAddr("127.0.0.2")
		fd, err := connectThroughLoop(t, l, fds, addr, src)
		if err != nil {
			if runtime.GOOS != "linux" && errors.Is(err, unix.EADDRNOTAVAIL) {
				t.Skipf("127.0.0.2 is not a local address on %s", runtime.GOOS)
			}
			t.Fatalf("connect from %v: %v", src, err)
		}
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		defer c.Close()
		if got := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); got != src {
			t.Errorf("accepted RemoteAddr: got %v, want %v", got, src)
		}
		sa, _ := unix.Getsockname(fd)
		if got := netip.AddrFrom4(sa.(*unix.SockaddrInet4).Addr); got != src {
			t.Errorf("getsockname: got %v, want %v", got, src)
		}
	})

	t.Run("family mismatch", func(t *testing.T) {
		fd, err := DialTCP(netip.MustParseAddrPort("127.0.0.1:9"), netip.MustParseAddr("::1"))
		if err == nil {
			unix.Close(fd)
			t.Fatalf("IPv4 destination with IPv6 source: got nil error, want one")
		}
	})
}

// TestDialTCPTimeout makes a connect that cannot complete (the listener's
// accept queue is full) and times it out after 75 fake seconds.
func TestDialTCPTimeout(t *testing.T) {
	start := time.Now()
	fds := newFDSet(t)
	clock := NewFakeClock(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	l := newLoop(t, clock)

	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	fds.add(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if err := unix.Listen(lfd, 0); err != nil {
		t.Fatalf("listen: %v", err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	dst := netip.AddrPortFrom(netip.AddrFrom4(sa.(*unix.SockaddrInet4).Addr), uint16(sa.(*unix.SockaddrInet4).Port))

	// Fill the accept queue with connections nobody accepts.
	for range 4 {
		fd, err := DialTCP(dst, netip.Addr{})
		if err != nil {
			t.Fatalf("filler connect: %v", err)
		}
		fds.add(fd)
	}

	fd, err := DialTCP(dst, netip.Addr{})
	if err != nil {
		t.Fatalf("DialTCP: %v", err)
	}
	fds.add(fd)
	var connected, timedOut int
	var firedAt time.Time
	if err := l.Register(fd, Writable, func(time.Time, Events) { connected++ }); err != nil {
		t.Fatalf("Register: %v", err)
	}
	deadline := l.Now().Add(75 * time.Second)
	l.AddTimer(deadline, func(now time.Time) {
		timedOut++
		firedAt = now
		if connected == 0 {
			l.Close(fd)
			fds.forget(fd)
		}
	})
	// The connect does not become writable (each pass waits 20 ms of real
	// time: the pending 75 s timer caps nothing, the limit does).
	for range 5 {
		if err := l.Step(20 * time.Millisecond); err != nil {
			t.Fatalf("Step: %v", err)
		}
	}
	if connected != 0 || timedOut != 0 {
		t.Fatalf("before the timeout: connect handler ran %d times, timer %d times, want 0 and 0", connected, timedOut)
	}

	clock.Advance(75*time.Second - time.Nanosecond)
	if err := l.Step(0); err != nil {
		t.Fatalf("Step: %v", err)
	}
	if timedOut != 0 {
		t.Fatalf("timer fired 1ns before its deadline")
	}
	clock.Advance(time.Nanosecond)
	if err := l.Step(0); err != nil {
		t.Fatalf("Step: %v", err)
	}
	if timedOut != 1 {
		t.Fatalf("timer fired %d times in the pass at its deadline, want 1", timedOut)
	}
	if !firedAt.Equal(deadline) {
		t.Errorf("timer's now: got %v, want %v", firedAt, deadline)
	}
	if connected != 0 {
		t.Errorf("connect handler ran %d times, want 0", connected)
	}
	if got := l.Len(); got != 0 {
		t.Errorf("Len after the timeout closed the socket: got %d, want 0", got)
	}
	if isOpen(fd) {
		t.Errorf("timed-out socket %d still open after the pass", fd)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("a 75 s fake timeout took %v of real time", elapsed)
	}
}

// TestDialUDP does a datagram round trip through the loop with a connected
// UDP socket, and checks that two sockets get different source ports.
func TestDialUDP(t *testing.T) {
	fds := newFDSet(t)
	l := newLoop(t, nil)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer pc.Close()
	pc.SetDeadline(time.Now().Add(5 * time.Second))
	srvDone := make(chan error, 1)
	from := make(chan netip.AddrPort, 1)
	go func() {
		buf := make([]byte, 512)
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			srvDone <- err
			return
		}
		from <- addr.(*net.UDPAddr).AddrPort()
		_, err = pc.WriteTo(append([]byte("echo:"), buf[:n]...), addr)
		srvDone <- err
	}()
	dst := pc.LocalAddr().(*net.UDPAddr).AddrPort()

	fd, err := DialUDP(dst, netip.Addr{})
	if err != nil {
		t.Fatalf("DialUDP: %v", err)
	}
	fds.add(fd)
	fd2, err := DialUDP(dst, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatalf("DialUDP with source: %v", err)
	}
	fds.add(fd2)
	port := func(fd int) int {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatalf("getsockname: %v", err)
		}
		return sa.(*unix.SockaddrInet4).Port
	}
	p1, p2 := port(fd), port(fd2)
	if p1 == 0 || p1 == p2 {
		t.Errorf("source ports of two DialUDP sockets: got %d and %d, want two different non-zero ports", p1, p2)
	}

	var reply []byte
	var readErr error
	if err := l.Register(fd, Readable, func(_ time.Time, ev Events) {
		buf := make([]byte, 512)
		n, err := Read(fd, buf)
		reply, readErr = buf[:n], err
	}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if n, err := Write(fd, []byte("ping")); n != 4 || err != nil {
		t.Fatalf("Write: got (%d, %v), want (4, nil)", n, err)
	}
	stepUntil(t, l, 100*time.Millisecond, 50, "UDP reply", func() bool { return reply != nil || readErr != nil })
	if readErr != nil {
		t.Fatalf("Read: %v", readErr)
	}
	if got, want := string(reply), "echo:ping"; got != want {
		t.Errorf("reply: got %q, want %q", got, want)
	}
	if err := <-srvDone; err != nil {
		t.Fatalf("echo server: %v", err)
	}
	if got := (<-from).Port(); int(got) != p1 {
		t.Errorf("datagram came from port %d, want %d", got, p1)
	}
}
