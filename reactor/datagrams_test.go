package reactor

import (
	"bytes"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// udpPair is a bound UDP socket on loopback and a socket connected to it.
func udpPair(t testing.TB, fds *fdSet) (recv, send int) {
	t.Helper()
	recv = fds.add(mustFD(t)(unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)))
	if err := unix.SetNonblock(recv, true); err != nil {
		t.Fatalf("setnonblock: %v", err)
	}
	if err := unix.Bind(recv, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := unix.Getsockname(recv)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	send, err = DialUDP(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), netip.Addr{})
	if err != nil {
		t.Fatalf("DialUDP: %v", err)
	}
	fds.add(send)
	return recv, send
}

func mustFD(t testing.TB) func(int, error) int {
	return func(fd int, err error) int {
		t.Helper()
		if err != nil {
			t.Fatalf("socket: %v", err)
		}
		return fd
	}
}

// TestDatagramsBatches: a Read takes up to Cap datagrams in order, each
// whole (cut at the buffer's size), fewer than Cap when the socket runs
// dry, and (0, nil) from an empty socket.
func TestDatagramsBatches(t *testing.T) {
	fds := newFDSet(t)
	recv, send := udpPair(t, fds)
	sent := [][]byte{[]byte("one"), []byte("two two"), {}, bytes.Repeat([]byte("x"), 40), []byte("five")}
	for _, p := range sent {
		if _, err := unix.Write(send, p); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	d := NewDatagrams(3, 32)
	var got [][]byte
	for _, want := range []int{3, 2, 0} {
		n, err := d.Read(recv)
		if err != nil || n != want {
			t.Fatalf("Read: got (%d, %v), want (%d, nil)", n, err, want)
		}
		for i := range n {
			got = append(got, append([]byte(nil), d.At(i)...))
		}
	}
	for i, p := range sent {
		if len(p) > 32 {
			p = p[:32] // cut at the buffer's size
		}
		if !bytes.Equal(got[i], p) {
			t.Errorf("datagram %d: got %q, want %q", i, got[i], p)
		}
	}
	if d.Cap() != 3 {
		t.Errorf("Cap: got %d, want 3", d.Cap())
	}
}

// TestDatagramsError: a socket that cannot be read is an error naming the
// syscall, with no datagrams.
func TestDatagramsError(t *testing.T) {
	d := NewDatagrams(4, 16)
	if n, err := d.Read(-1); err == nil || n != 0 {
		t.Errorf("Read(-1): got (%d, %v), want an error", n, err)
	}
}
