package reactor

// maxSendBatch bounds one sendmmsg(2): Linux takes at most UIO_MAXIOV
// (1024) messages a call.
const maxSendBatch = 1024

// DatagramWriter sends a batch of datagrams on one socket at a time: on
// Linux with one sendmmsg(2) per batch, elsewhere with a write per
// datagram. A resolver sending a clump of queries to one server spent a
// write(2) on each; one call for the clump costs less than half as much
// per datagram.
type DatagramWriter struct {
	sys mmsg // the sendmmsg headers, on Linux, reused by every Write
}

// NewDatagramWriter makes a writer that hands the kernel up to count
// datagrams a syscall.
func NewDatagramWriter(count int) *DatagramWriter {
	w := &DatagramWriter{}
	w.sys.grow(min(max(count, 1), maxSendBatch))
	return w
}

// Write sends msgs on fd in order, each as one datagram, and returns how
// many went out: the first sent of msgs. Fewer than len(msgs) with a nil
// error means the socket took no more now; an error says why msgs[sent]
// did not go (the ones before it did).
func (w *DatagramWriter) Write(fd int, msgs [][]byte) (sent int, err error) {
	return w.write(fd, msgs)
}
