package reactor

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDatagramWriterBatches: Write sends every datagram, in order and
// whole, an empty one too, across more than one batch.
func TestDatagramWriterBatches(t *testing.T) {
	fds := newFDSet(t)
	recv, send := udpPair(t, fds)
	msgs := [][]byte{[]byte("one"), []byte("two two"), {}, bytes.Repeat([]byte("x"), 40), []byte("five")}
	w := NewDatagramWriter(2)
	if n, err := w.Write(send, msgs); n != len(msgs) || err != nil {
		t.Fatalf("Write: got (%d, %v), want (%d, nil)", n, err, len(msgs))
	}
	if n, err := w.Write(send, nil); n != 0 || err != nil {
		t.Fatalf("Write(nil): got (%d, %v), want (0, nil)", n, err)
	}
	d := NewDatagrams(8, 64)
	n, err := d.Read(recv)
	if err != nil || n != len(msgs) {
		t.Fatalf("Read: got (%d, %v), want (%d, nil)", n, err, len(msgs))
	}
	for i, p := range msgs {
		if !bytes.Equal(d.At(i), p) {
			t.Errorf("datagram %d: got %q, want %q", i, d.At(i), p)
		}
	}
}

// TestDatagramWriterFull: a socket that takes no more stops the batch
// with a nil error and the count of what went, and those arrive in order.
// A Unix datagram pair stands in for a full UDP socket: on loopback UDP
// the kernel drops at the receiver instead of refusing the sender.
func TestDatagramWriterFull(t *testing.T) {
	fds := newFDSet(t)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	recv, send := fds.add(pair[0]), fds.add(pair[1])
	for _, fd := range pair {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatalf("setnonblock: %v", err)
		}
	}
	msgs := make([][]byte, 10000)
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, "datagram %d", i)
	}
	w := NewDatagramWriter(64)
	sent, err := w.Write(send, msgs)
	if err != nil || sent == 0 || sent == len(msgs) {
		t.Fatalf("Write: got (%d, %v), want some but not all of %d and no error", sent, err, len(msgs))
	}
	if n, err := w.Write(send, msgs[sent:]); n != 0 || err != nil {
		t.Errorf("Write again: got (%d, %v), want (0, nil)", n, err)
	}
	d := NewDatagrams(64, 32)
	got := 0
	for {
		n, err := d.Read(recv)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for i := range n {
			if !bytes.Equal(d.At(i), msgs[got]) {
				t.Fatalf("datagram %d: got %q, want %q", got, d.At(i), msgs[got])
			}
			got++
		}
		if n == 0 {
			break
		}
	}
	if got != sent {
		t.Errorf("received %d datagrams, want the %d sent", got, sent)
	}
}

// TestDatagramWriterRefused: once an ICMP port unreachable has come back
// to a connected UDP socket, Write fails on the first datagram with
// ECONNREFUSED, naming the syscall.
func TestDatagramWriterRefused(t *testing.T) {
	fds := newFDSet(t)
	gone := mustFD(t)(unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0))
	if err := unix.Bind(gone, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := unix.Getsockname(gone)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	unix.Close(gone) // nobody listens on its port now
	port := uint16(sa.(*unix.SockaddrInet4).Port)
	send, err := DialUDP(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), netip.Addr{})
	if err != nil {
		t.Fatalf("DialUDP: %v", err)
	}
	fds.add(send)
	w := NewDatagramWriter(4)
	msgs := [][]byte{[]byte("a"), []byte("b")}
	if n, err := w.Write(send, msgs[:1]); n != 1 || err != nil {
		t.Fatalf("first Write: got (%d, %v), want (1, nil)", n, err)
	}
	// Wait for the ICMP error to reach the socket (it polls as an error).
	pfd := []unix.PollFd{{Fd: int32(send)}}
	if n, err := unix.Poll(pfd, 5000); n != 1 || err != nil || pfd[0].Revents&unix.POLLERR == 0 {
		t.Fatalf("poll: got (%d, %v, revents %#x), want POLLERR", n, err, pfd[0].Revents)
	}
	n, err := w.Write(send, msgs)
	if n != 0 || !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("Write after the ICMP error: got (%d, %v), want (0, ECONNREFUSED)", n, err)
	}
}

// TestDatagramWriterError: a descriptor that is no socket is an error with
// nothing sent.
func TestDatagramWriterError(t *testing.T) {
	w := NewDatagramWriter(4)
	if n, err := w.Write(-1, [][]byte{[]byte("x")}); n != 0 || err == nil {
		t.Errorf("Write(-1): got (%d, %v), want (0, an error)", n, err)
	}
}

// BenchmarkDatagramWriter sends 32 DNS-sized datagrams on a connected
// loopback UDP socket with a write each (write) and with one Write
// (batch), and drains them between rounds; ns/datagram includes the
// receiver's recvmmsg.
func BenchmarkDatagramWriter(b *testing.B) {
	const batch = 32
	msgs := make([][]byte, batch)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{'q'}, 40)
	}
	for _, v := range []struct {
		name string
		send func(w *DatagramWriter, fd int) error
	}{
		{"write", func(_ *DatagramWriter, fd int) error {
			for _, m := range msgs {
				if _, err := Write(fd, m); err != nil {
					return err
				}
			}
			return nil
		}},
		{"batch", func(w *DatagramWriter, fd int) error {
			_, err := w.Write(fd, msgs)
			return err
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			fds := newFDSet(b)
			recv, send := udpPair(b, fds)
			w := NewDatagramWriter(batch)
			d := NewDatagrams(batch, 64)
			for b.Loop() {
				if err := v.send(w, send); err != nil {
					b.Fatalf("send: %v", err)
				}
				if n, err := d.Read(recv); n != batch || err != nil {
					b.Fatalf("Read: got (%d, %v), want (%d, nil)", n, err, batch)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/datagram")
		})
	}
}
