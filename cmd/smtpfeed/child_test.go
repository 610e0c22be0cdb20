package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// child is a running smtpfeed (the test binary standing in, see TestMain)
// with pipes on its standard streams.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	lines  chan string // stdout, line by line
	mu     sync.Mutex
	stderr bytes.Buffer
	logged chan struct{} // poked on every write to stderr
	exited chan error
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{t: t, lines: make(chan string, 4096), exited: make(chan error, 1), logged: make(chan struct{}, 1)}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), "SMTPFEED_TEST_MAIN="+strings.Join(args, " "))
	c.cmd.Stderr = lockedWriter{&c.mu, &c.stderr, c.logged}
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdout = out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.exited <- c.cmd.Wait()
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.stdin.Close()
	})
	return c
}

type lockedWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	logged chan struct{}
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	n, err := l.w.Write(p)
	l.mu.Unlock()
	select {
	case l.logged <- struct{}{}:
	default:
	}
	return n, err
}

func (c *child) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

func (c *child) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, s); err != nil {
		c.t.Fatalf("writing to smtpfeed: %v", err)
	}
}

// expect reads reply lines until one starts with prefix (skipping
// continuation lines), failing after limit.
func (c *child) expect(prefix string, limit time.Duration) string {
	c.t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("smtpfeed closed its output waiting for %q; log:\n%s", prefix, c.log())
			}
			if len(l) > 3 && l[3] == '-' {
				continue
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
			c.t.Fatalf("got %q waiting for %q; log:\n%s", l, prefix, c.log())
		case <-deadline:
			c.t.Fatalf("no %q within %v; log:\n%s", prefix, limit, c.log())
		}
	}
}

// next reads the next reply line (the last line of a multi-line reply).
func (c *child) next(limit time.Duration) string {
	c.t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("smtpfeed closed its output; log:\n%s", c.log())
			}
			if len(l) > 3 && l[3] == '-' {
				continue
			}
			return l
		case <-deadline:
			c.t.Fatalf("no reply within %v; log:\n%s", limit, c.log())
		}
	}
}

// wait returns the exit status, failing after limit.
func (c *child) wait(limit time.Duration) int {
	c.t.Helper()
	for range c.lines {
	}
	select {
	case err := <-c.exited:
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				c.t.Fatalf("smtpfeed killed by %v; log:\n%s", ws.Signal(), c.log())
			}
			return ee.ExitCode()
		}
		c.t.Fatal(err)
	case <-time.After(limit):
		c.t.Fatalf("smtpfeed did not exit within %v; log:\n%s", limit, c.log())
	}
	return -1
}

// quit ends the LMTP session and fails unless smtpfeed then exits 0.
func (c *child) quit() {
	c.t.Helper()
	c.send("QUIT\r\n")
	c.expect("221", 10*time.Second)
	if code := c.wait(20 * time.Second); code != 0 {
		c.t.Fatalf("exit %d, want 0; log:\n%s", code, c.log())
	}
}

func (c *child) signal(sig os.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatal(err)
	}
}
