//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package reactor

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// poller is kqueue with one read and one write filter per descriptor;
// kqueue filters are level-triggered unless EV_CLEAR is asked for.
type poller struct {
	kq      int
	events  []unix.Kevent_t
	changes []unix.Kevent_t
}

func newPoller() (*poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, os.NewSyscallError("kqueue", err)
	}
	unix.CloseOnExec(kq)
	return &poller{kq: kq, events: make([]unix.Kevent_t, 256)}, nil
}

// change submits filter changes for fd: adds for what is in add, deletes
// for what is in del.
func (p *poller) change(fd int, add, del Events) error {
	p.changes = p.changes[:0]
	var k unix.Kevent_t
	if add&Readable != 0 {
		unix.SetKevent(&k, fd, unix.EVFILT_READ, unix.EV_ADD)
		p.changes = append(p.changes, k)
	}
	if add&Writable != 0 {
		unix.SetKevent(&k, fd, unix.EVFILT_WRITE, unix.EV_ADD)
		p.changes = append(p.changes, k)
	}
	if del&Readable != 0 {
		unix.SetKevent(&k, fd, unix.EVFILT_READ, unix.EV_DELETE)
		p.changes = append(p.changes, k)
	}
	if del&Writable != 0 {
		unix.SetKevent(&k, fd, unix.EVFILT_WRITE, unix.EV_DELETE)
		p.changes = append(p.changes, k)
	}
	if len(p.changes) == 0 {
		return nil
	}
	_, err := unix.Kevent(p.kq, p.changes, nil, nil)
	if errors.Is(err, unix.ENOENT) && add == 0 {
		return nil // the filter was already gone (closed descriptor)
	}
	return os.NewSyscallError("kevent", err)
}

func (p *poller) add(fd int, ev Events) error {
	// kqueue accepts a regular file, but its read filter never fires at end
	// of file, so a regular-file stdin would never show EOF. Treat it as
	// epoll must: not pollable, always ready.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		return errNotPollable
	}
	return p.change(fd, ev, 0)
}

func (p *poller) modify(fd int, old, ev Events) error {
	return p.change(fd, ev&^old, old&^ev)
}

func (p *poller) remove(fd int, old Events) error { return p.change(fd, 0, old) }

func (p *poller) wait(delay time.Duration, out []readiness) ([]readiness, error) {
	var ts *unix.Timespec
	if delay >= 0 {
		t := unix.NsecToTimespec(int64(delay))
		ts = &t
	}
	n, err := unix.Kevent(p.kq, nil, p.events, ts)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return out, nil
		}
		return out, os.NewSyscallError("kevent", err)
	}
	// The one place that reads event bits. EOF or an error on either filter
	// counts as both readable and writable, so whichever the handler waits
	// for, its next syscall reports the cause.
	for _, e := range p.events[:n] {
		var ev Events
		switch {
		case e.Flags&(unix.EV_EOF|unix.EV_ERROR) != 0:
			ev = Readable | Writable
		case e.Filter == unix.EVFILT_READ:
			ev = Readable
		case e.Filter == unix.EVFILT_WRITE:
			ev = Writable
		}
		out = append(out, readiness{fd: int(e.Ident), ev: ev})
	}
	if n == len(p.events) && n < 1<<16 {
		p.events = make([]unix.Kevent_t, 2*n)
	}
	return out, nil
}

func (p *poller) close() error {
	return os.NewSyscallError("close kqueue", unix.Close(p.kq))
}
