package smtp

// output is the client's pending writes: command text it owns and the
// message's shared bytes, in order, without copying the message.
type output struct {
	segs    [][]byte
	owned   bool  // the last segment is command text that may grow
	queued  int64 // bytes ever queued
	written int64 // bytes ever written
}

func (o *output) empty() bool { return len(o.segs) == 0 }

// command queues one command line and its CRLF.
func (o *output) command(line string) {
	if o.owned {
		last := len(o.segs) - 1
		o.segs[last] = append(o.segs[last], line...)
		o.segs[last] = append(o.segs[last], '\r', '\n')
	} else {
		seg := make([]byte, 0, max(len(line)+2, 256))
		seg = append(append(seg, line...), '\r', '\n')
		o.segs = append(o.segs, seg)
		o.owned = true
	}
	o.queued += int64(len(line) + 2)
}

// shared queues bytes the caller keeps ownership of.
func (o *output) shared(b []byte) {
	if len(b) == 0 {
		return
	}
	o.segs = append(o.segs, b)
	o.owned = false
	o.queued += int64(len(b))
}

// advance drops n written bytes from the front.
func (o *output) advance(n int) {
	o.written += int64(n)
	for n > 0 && len(o.segs) > 0 {
		if n < len(o.segs[0]) {
			o.segs[0] = o.segs[0][n:]
			return
		}
		n -= len(o.segs[0])
		o.segs[0] = nil
		o.segs = o.segs[1:]
	}
	if len(o.segs) == 0 {
		o.segs = nil
		o.owned = false
	}
}

func (o *output) reset() {
	o.segs = nil
	o.owned = false
}
