package lmtp

// rcptList gathers a transaction's addresses as RCPT accepts them. There
// may be DefaultMaxRcpts of them, each kept until the message is
// delivered, so they are packed: the addresses are copied back to back
// into a block, and each full block becomes one string they are all cut
// from. A kept address holds at most addrBlock octets, never a command
// line or the input buffer, and costs its length plus a string header
// instead of a rounded-up allocation of its own. The headers go in
// chunks that are never copied to grow; take joins them once.
type rcptList struct {
	n      int
	chunks [][]string // addresses of sealed blocks, in RCPT order
	block  []byte     // addresses not yet sealed, back to back
	ends   []int      // where each of those ends in block
}

const (
	// addrBlock is the octets of addresses per string: a little over
	// what the largest address (MaxPath) takes, and a small share of
	// what 100,000 recipients take.
	addrBlock = 4096
	// headerChunk is the addresses per chunk of string headers.
	headerChunk = 1024
)

func (l *rcptList) add(addr string) {
	if len(l.block)+len(addr) > addrBlock {
		l.seal()
	}
	l.block = append(l.block, addr...)
	l.ends = append(l.ends, len(l.block))
	l.n++
}

// seal turns the block into one string and cuts its addresses from it.
func (l *rcptList) seal() {
	s := string(l.block)
	start := 0
	for _, end := range l.ends {
		k := len(l.chunks) - 1
		if k < 0 || len(l.chunks[k]) == cap(l.chunks[k]) {
			l.chunks = append(l.chunks, make([]string, 0, min(headerChunk, l.n)))
			k++
		}
		l.chunks[k] = append(l.chunks[k], s[start:end])
		start = end
	}
	l.block, l.ends = l.block[:0], l.ends[:0] // s is a copy: the block can be reused
}

// take hands out every address, in RCPT order, in a slice of its own,
// and empties the list, so the chunks need not stay beside the slice.
func (l *rcptList) take() []string {
	l.seal()
	all := make([]string, 0, l.n)
	for _, c := range l.chunks {
		all = append(all, c...)
	}
	*l = rcptList{}
	return all
}
