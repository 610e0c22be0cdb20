package reactor

// The per-OS files (datagrams_linux.go, datagrams_other.go) each define
// the same names:
//
//	type mmsg struct{ ... }
//	func (m *mmsg) init(bufs [][]byte)  // headers pointing at bufs, to receive into
//	func (m *mmsg) grow(count int)      // room for count headers, to send from
//	func (d *Datagrams) read(fd int) (int, error)
//	func (w *DatagramWriter) write(fd int, msgs [][]byte) (int, error)

// Datagrams receives a batch of datagrams from one socket at a time: on
// Linux with one recvmmsg(2), elsewhere with a read per datagram. The
// resolver's answers arrive in clumps on a few sockets, and a read per
// datagram, plus the one that finds the socket empty, was most of their
// syscalls.
type Datagrams struct {
	bufs [][]byte
	lens []int
	sys  mmsg // the recvmmsg headers, on Linux
}

// NewDatagrams makes room for count datagrams of up to size bytes each.
func NewDatagrams(count, size int) *Datagrams {
	count = max(count, 1)
	d := &Datagrams{bufs: make([][]byte, count), lens: make([]int, count)}
	mem := make([]byte, count*size)
	for i := range d.bufs {
		d.bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
	}
	d.sys.init(d.bufs)
	return d
}

// Read receives what fd has waiting, up to the batch's size. It returns
// how many datagrams came: 0 with a nil error when nothing is waiting.
// Fewer than Cap means the socket was emptied. An error comes only when
// no datagram did; a datagram longer than the buffer is cut short.
func (d *Datagrams) Read(fd int) (int, error) {
	return d.read(fd)
}

// Cap is the most datagrams one Read takes.
func (d *Datagrams) Cap() int { return len(d.bufs) }

// At is the i-th datagram of the last Read, valid until the next one.
func (d *Datagrams) At(i int) []byte { return d.bufs[i][:d.lens[i]] }
