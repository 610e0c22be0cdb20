package reactor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRegularFile registers a regular file, which the poller may refuse
// (epoll does): the loop treats it as always ready.
func TestRegularFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString("HELO example.org\r\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatalf("seek: %v", err)
	}
	fd := int(f.Fd())

	l := newLoop(t, nil)
	var calls int
	var last Events
	if err := l.Register(fd, Readable, func(_ time.Time, ev Events) { calls++; last = ev }); err != nil {
		t.Fatalf("Register of a regular file: %v", err)
	}
	if got := l.Len(); got != 1 {
		t.Errorf("Len: got %d, want 1", got)
	}
	// No timers, nothing else registered: Step(-1) must not block, and the
	// handler runs on every pass (nothing is read: level-triggered).
	for pass := 1; pass <= 3; pass++ {
		stepBlocking(t, l)
		if calls != pass {
			t.Fatalf("after %d passes: handler called %d times, want %d", pass, calls, pass)
		}
		if last != Readable {
			t.Errorf("event: got %v, want %v", last, Readable)
		}
	}
	// With no interest the file is not "always ready" any more.
	if err := l.Modify(fd, 0); err != nil {
		t.Fatalf("Modify: %v", err)
	}
	if got := l.waitDelay(-1); got != -1 {
		t.Errorf("wait with the file's interest off: got %v, want -1 (block)", got)
	}
	if err := l.Modify(fd, Writable); err != nil {
		t.Fatalf("Modify: %v", err)
	}
	stepBlocking(t, l)
	if calls != 4 || last != Writable {
		t.Errorf("after Modify(Writable): calls %d, event %v, want 4 and %v", calls, last, Writable)
	}
	if err := l.Remove(fd); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := l.Step(0); err != nil {
		t.Fatalf("Step: %v", err)
	}
	if calls != 4 {
		t.Errorf("handler called after Remove: %d calls, want 4", calls)
	}
	if got := l.waitDelay(-1); got != -1 {
		t.Errorf("wait after Remove: got %v, want -1 (block)", got)
	}
	if got := l.Len(); got != 0 {
		t.Errorf("Len after Remove: got %d, want 0", got)
	}
}

// TestWriteEPIPE: a write to a pipe nobody reads is an EPIPE error value,
// and the process survives it.
func TestWriteEPIPE(t *testing.T) {
	r, w, err := newPipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	defer unix.Close(w)
	unix.Close(r)
	for range 3 {
		n, err := Write(w, []byte("250 ok\r\n"))
		if n != 0 || !errors.Is(err, unix.EPIPE) {
			t.Fatalf("write to a pipe without reader: got (%d, %v), want (0, EPIPE)", n, err)
		}
	}
}

func TestReadWriteNonBlocking(t *testing.T) {
	fds := newFDSet(t)
	a, b := socketpair(t, fds)
	buf := make([]byte, 16)
	if n, err := Read(a, buf); n != 0 || err != nil {
		t.Errorf("read with nothing waiting: got (%d, %v), want (0, nil)", n, err)
	}
	if n, err := Write(b, []byte("hi")); n != 2 || err != nil {
		t.Errorf("write: got (%d, %v), want (2, nil)", n, err)
	}
	if n, err := Read(a, buf); n != 2 || err != nil || string(buf[:n]) != "hi" {
		t.Errorf("read: got (%d, %v, %q), want (2, nil, \"hi\")", n, err, buf[:n])
	}
	if n, err := Read(a, nil); n != 0 || err != nil {
		t.Errorf("read into an empty buffer: got (%d, %v), want (0, nil)", n, err)
	}
	fds.close(b)
	if _, err := Read(a, buf); err != io.EOF {
		t.Errorf("read after the peer closed: got %v, want io.EOF", err)
	}
	if _, err := Read(-1, buf); !errors.Is(err, unix.EBADF) {
		t.Errorf("read of a bad fd: got %v, want EBADF", err)
	}
}

const helperEnv = "REACTOR_TEST_HELPER"

// Exit codes of the stdout helper.
const (
	helperGotEPIPE = 3
	helperNoHangup = 4
	helperWriteOK  = 5
	helperOtherErr = 6
	helperBadPrep  = 7
	helperBadSetup = 8
)

// TestHelperProcess is not a test: it is the child of TestStdoutEPIPE.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "stdout-epipe" {
		return
	}
	os.Exit(stdoutEPIPEChild())
}

func stdoutEPIPEChild() int {
	// Wait until the parent has closed the read end of our stdout: a pipe's
	// write end reports POLLERR then, asked for or not. Asking for nothing
	// makes this a wait, not a busy poll.
	fds := []unix.PollFd{{Fd: int32(Stdout), Events: 0}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.Poll(fds, 1000)
		if err != nil && !errors.Is(err, unix.EINTR) {
			fmt.Fprintf(os.Stderr, "poll: %v\n", err)
			return helperBadSetup
		}
		if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "reader of stdout never went away")
			return helperNoHangup
		}
	}
	if err := PrepareStdio(); err != nil {
		fmt.Fprintf(os.Stderr, "PrepareStdio: %v\n", err)
		return helperBadPrep
	}
	if fl, err := unix.FcntlInt(uintptr(Stdout), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
		fmt.Fprintf(os.Stderr, "stdout not non-blocking after PrepareStdio: flags %#x, %v\n", fl, err)
		return helperBadPrep
	}
	n, err := Write(Stdout, []byte("220 ready\r\n"))
	switch {
	case errors.Is(err, unix.EPIPE):
		fmt.Fprintf(os.Stderr, "got EPIPE: %v\n", err)
		return helperGotEPIPE
	case err != nil:
		fmt.Fprintf(os.Stderr, "write: %v\n", err)
		return helperOtherErr
	}
	fmt.Fprintf(os.Stderr, "write succeeded: %d bytes\n", n)
	return helperWriteOK
}

// TestStdoutEPIPE runs a child whose standard output is a pipe nobody
// reads: its write must be an EPIPE value, not a death by SIGPIPE.
func TestStdoutEPIPE(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	var stderr strings.Builder
	cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=stdout-epipe")
	cmd.Stdout = w
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Fatalf("start: %v", err)
	}
	// The child now holds the only write end; with the read end gone too,
	// its writes have nobody to go to.
	w.Close()
	r.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("child did not finish; stderr: %s", stderr.String())
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		t.Fatalf("child killed by %v, want exit %d; stderr: %s", ws.Signal(), helperGotEPIPE, stderr.String())
	}
	if got := ws.ExitStatus(); got != helperGotEPIPE {
		t.Fatalf("child exit status: got %d, want %d (EPIPE as a value); stderr: %s", got, helperGotEPIPE, stderr.String())
	}
	if !strings.Contains(stderr.String(), "broken pipe") {
		t.Errorf("child's report: got %q, want it to name the broken pipe", stderr.String())
	}
}
