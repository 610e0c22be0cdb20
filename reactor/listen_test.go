package reactor

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestListenAccept: TCP and unix listeners in the loop accept a
// connection as a readable event; Accept with nothing waiting says so.
func TestListenAccept(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	tcp, err := ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tcp)
	sa, _ := unix.Getsockname(tcp)
	tcpAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*unix.SockaddrInet4).Port))
	// A stale socket file is replaced; a regular file is not.
	os.WriteFile(sock+".file", nil, 0o600)
	if _, err := ListenUnix(sock+".file", 0o660); err == nil {
		t.Fatal("ListenUnix over a regular file succeeded")
	}
	first, err := ListenUnix(sock, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(first)
	ux, err := ListenUnix(sock, 0o660)
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	defer unix.Close(ux)

	for _, c := range []struct {
		name    string
		fd      int
		network string
		addr    string
	}{{"tcp", tcp, "tcp", tcpAddr.String()}, {"unix", ux, "unix", sock}} {
		t.Run(c.name, func(t *testing.T) {
			if nfd, err := Accept(c.fd); nfd != -1 || err != nil {
				t.Fatalf("Accept with nothing waiting = %d, %v; want -1, nil", nfd, err)
			}
			l, err := New(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Shutdown()
			got := -1
			l.Register(c.fd, Readable, func(time.Time, Events) {
				nfd, err := Accept(c.fd)
				if err != nil {
					t.Errorf("Accept: %v", err)
				}
				got = nfd
			})
			conn, err := net.Dial(c.network, c.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for i := 0; got < 0 && i < 100; i++ {
				l.Step(50 * time.Millisecond)
			}
			if got < 0 {
				t.Fatal("no connection accepted")
			}
			defer unix.Close(got)
			flags, _ := unix.FcntlInt(uintptr(got), unix.F_GETFL, 0)
			if flags&unix.O_NONBLOCK == 0 {
				t.Error("accepted socket is blocking")
			}
			l.Remove(c.fd)
		})
	}
}

// TestListenUnixMode: the socket gets the mode asked for whatever the
// umask, so who may connect (and hand over mail) is the operator's say.
func TestListenUnixMode(t *testing.T) {
	for _, tc := range []struct {
		umask int
		mode  os.FileMode
	}{
		{0o000, 0o660},
		{0o077, 0o660},
		{0o022, 0o600},
		{0o077, 0o666},
	} {
		path := filepath.Join(t.TempDir(), "lmtp.sock")
		old := unix.Umask(tc.umask)
		fd, err := ListenUnix(path, tc.mode)
		unix.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != tc.mode {
			t.Errorf("umask %03o, mode %03o: the socket has %03o", tc.umask, tc.mode, got)
		}
	}
}
