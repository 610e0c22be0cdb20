package reactor

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// signalBridge carries signals into the loop through a self-pipe: the Go
// runtime delivers signals on a channel, and the loop only polls
// descriptors, so one goroutine writes each signal's number into a pipe
// whose read end the loop watches. With the TLS handshake workers
// (tls.go) it is one of the two kinds of goroutine besides the loop's,
// and it touches nothing but the pipe's write end.
type signalBridge struct {
	ch     chan os.Signal
	rfd    int
	wfd    int
	h      func(now time.Time, sig os.Signal)
	buf    [64]byte
	closed chan struct{}
}

// Notify delivers the given signals to h, on the loop's goroutine, as
// events of the loop. It may be called once per loop.
func (l *Loop) Notify(h func(now time.Time, sig os.Signal), sigs ...os.Signal) error {
	if l.signals != nil {
		return fmt.Errorf("notify: signals are already routed to this loop")
	}
	if len(sigs) == 0 {
		// signal.Notify with no signals would relay every one, the
		// runtime's own SIGURG preemption signals included.
		return fmt.Errorf("notify: no signals named")
	}
	rfd, wfd, err := newPipe()
	if err != nil {
		return err
	}
	b := &signalBridge{ch: make(chan os.Signal, 16), rfd: rfd, wfd: wfd, h: h, closed: make(chan struct{})}
	if err := l.Register(rfd, Readable, b.ready); err != nil {
		unix.Close(rfd)
		unix.Close(wfd)
		return err
	}
	l.signals = b
	signal.Notify(b.ch, sigs...)
	go b.forward() // a goroutine besides the loop's: the signal bridge (see signalBridge)
	return nil
}

// forward runs on its own goroutine until the channel is closed.
func (b *signalBridge) forward() {
	defer close(b.closed)
	defer unix.Close(b.wfd)
	for sig := range b.ch {
		n, ok := sig.(syscall.Signal)
		if !ok || n <= 0 || n > 255 {
			continue
		}
		// A full pipe means the loop already has signals to read; the
		// runtime coalesces repeated signals the same way.
		unix.Write(b.wfd, []byte{byte(n)})
	}
}

// ready reads the signal numbers waiting in the pipe and hands each to h.
func (b *signalBridge) ready(now time.Time, _ Events) {
	for {
		n, err := unix.Read(b.rfd, b.buf[:])
		if n <= 0 || err != nil {
			return
		}
		for _, s := range b.buf[:n] {
			b.h(now, syscall.Signal(s))
		}
	}
}

func (b *signalBridge) stop() {
	signal.Stop(b.ch)
	close(b.ch) // no sends after Stop returns: forward drains and exits
	<-b.closed
	unix.Close(b.rfd)
}
