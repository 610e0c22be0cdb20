//go:build linux

package reactor

import (
	"errors"
	"math"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// poller is level-triggered epoll.
type poller struct {
	epfd   int
	events []unix.EpollEvent
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	return &poller{epfd: epfd, events: make([]unix.EpollEvent, 256)}, nil
}

func epollBits(ev Events) uint32 {
	var bits uint32
	if ev&Readable != 0 {
		bits |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if ev&Writable != 0 {
		bits |= unix.EPOLLOUT
	}
	return bits
}

func (p *poller) ctl(op, fd int, ev Events) error {
	e := unix.EpollEvent{Events: epollBits(ev), Fd: int32(fd)}
	return unix.EpollCtl(p.epfd, op, fd, &e)
}

// epoll reports hang-ups and errors even for a descriptor watched for
// nothing, and level-triggered it reports them on every wait: a descriptor
// with no interest is therefore kept out of the epoll set (as kqueue does by
// deleting its filters), or a paused connection whose peer went away would
// turn the loop into a busy poll.

func (p *poller) add(fd int, ev Events) error {
	err := p.ctl(unix.EPOLL_CTL_ADD, fd, ev)
	if errors.Is(err, unix.EPERM) {
		// epoll refuses regular files and directories: they never block.
		return errNotPollable
	}
	if err == nil && ev == 0 {
		// Added only to learn whether fd can be polled.
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	return os.NewSyscallError("epoll_ctl add", err)
}

func (p *poller) modify(fd int, old, ev Events) error {
	switch {
	case ev == 0:
		return p.remove(fd, old)
	case old == 0:
		return os.NewSyscallError("epoll_ctl add", p.ctl(unix.EPOLL_CTL_ADD, fd, ev))
	}
	return os.NewSyscallError("epoll_ctl mod", p.ctl(unix.EPOLL_CTL_MOD, fd, ev))
}

func (p *poller) remove(fd int, old Events) error {
	if old == 0 {
		return nil // not in the epoll set
	}
	return os.NewSyscallError("epoll_ctl del", unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil))
}

func (p *poller) wait(delay time.Duration, out []readiness) ([]readiness, error) {
	ms := -1
	if delay >= 0 {
		// Round up: a timer 300µs away must not turn into a busy poll.
		ms = int(min((delay+time.Millisecond-1)/time.Millisecond, math.MaxInt32))
	}
	n, err := unix.EpollWait(p.epfd, p.events, ms)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return out, nil
		}
		return out, os.NewSyscallError("epoll_wait", err)
	}
	// The one place that reads event bits. Hang-up and error count as both
	// readable and writable, so whichever the handler waits for, its next
	// syscall reports the cause.
	for _, e := range p.events[:n] {
		var ev Events
		if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			ev |= Readable
		}
		if e.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			ev |= Writable
		}
		out = append(out, readiness{fd: int(e.Fd), ev: ev})
	}
	if n == len(p.events) && n < 1<<16 {
		// A full batch: let the next wait collect more at once.
		p.events = make([]unix.EpollEvent, 2*n)
	}
	return out, nil
}

func (p *poller) close() error {
	return os.NewSyscallError("close epoll", unix.Close(p.epfd))
}
