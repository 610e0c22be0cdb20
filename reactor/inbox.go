package reactor

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Inbox carries work from other goroutines into the loop, as the signal
// bridge carries signals: Post queues a function and wakes the loop
// through a self-pipe, and the loop runs what was queued, in order, on
// its own goroutine. Only the first Post after the loop has emptied the
// queue writes to the pipe, so a burst of posts costs one wakeup.
type Inbox struct {
	// mu guards the queue between the posting goroutines (the TLS
	// handshake workers, the design's one planned exception to a
	// single goroutine) and the loop; nothing else in here is shared.
	mu     sync.Mutex
	queue  []func(now time.Time)
	woken  bool // a byte is in the pipe, or about to be
	closed bool
	rfd    int
	wfd    int
	run    []func(now time.Time) // the batch being run, reused
	buf    [64]byte
}

// Inbox is the loop's inbox, made on first use. Call it on the loop's
// goroutine; the Inbox it returns may be posted to from any goroutine.
func (l *Loop) Inbox() (*Inbox, error) {
	if l.inbox != nil {
		return l.inbox, nil
	}
	rfd, wfd, err := newPipe()
	if err != nil {
		return nil, err
	}
	b := &Inbox{rfd: rfd, wfd: wfd}
	if err := l.Register(rfd, Readable, b.ready); err != nil {
		unix.Close(rfd)
		unix.Close(wfd)
		return nil, err
	}
	l.inbox = b
	return b, nil
}

// Post queues f to run on the loop. It never blocks on the loop. A post
// after the loop has shut down is dropped.
func (b *Inbox) Post(f func(now time.Time)) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.queue = append(b.queue, f)
	wake := !b.woken
	b.woken = true
	b.mu.Unlock()
	if wake {
		// A full pipe already holds a wakeup the loop has not read.
		unix.Write(b.wfd, []byte{1})
	}
}

// ready drains the pipe and runs the queued functions.
func (b *Inbox) ready(now time.Time, _ Events) {
	for {
		n, err := unix.Read(b.rfd, b.buf[:])
		if n <= 0 || err != nil {
			break
		}
	}
	b.mu.Lock()
	b.run, b.queue = b.queue, b.run[:0]
	b.woken = false
	b.mu.Unlock()
	for i, f := range b.run {
		f(now)
		b.run[i] = nil
	}
}

func (b *Inbox) stop() {
	b.mu.Lock()
	b.closed = true
	b.queue = nil
	b.mu.Unlock()
	unix.Close(b.rfd)
	unix.Close(b.wfd)
}
