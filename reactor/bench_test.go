package reactor

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The echo benchmarks compare the cost of one echoed message on the server
// side of benchConns unix socketpairs: the reactor (one goroutine, one
// Loop, a handler per connection) against a goroutine per connection doing
// net.Conn Read and Write on Go's netpoller. The client side is the same
// code for both: one goroutine writes a message to every client end with
// blocking syscalls, then reads every reply. One event is one message
// echoed by the server.
const (
	benchConns = 64
	benchMsg   = 32
)

// echoClients drives the client ends of the pairs.
type echoClients struct {
	fds   []int // blocking
	msg   []byte
	reply []byte
}

func (c *echoClients) round() error {
	for _, fd := range c.fds {
		if err := writeFull(fd, c.msg); err != nil {
			return err
		}
	}
	for _, fd := range c.fds {
		if err := readFull(fd, c.reply); err != nil {
			return err
		}
		if string(c.reply) != string(c.msg) {
			return fmt.Errorf("fd %d echoed %q, want %q", fd, c.reply, c.msg)
		}
	}
	return nil
}

func writeFull(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func readFull(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.Read(fd, p)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("unexpected EOF")
		}
		p = p[n:]
	}
	return nil
}

// echoPairs makes the socketpairs: non-blocking server ends, blocking
// client ends.
func echoPairs(b *testing.B) (servers []int, clients *echoClients) {
	b.Helper()
	c := &echoClients{msg: make([]byte, benchMsg), reply: make([]byte, benchMsg)}
	for i := range c.msg {
		c.msg[i] = 'a' + byte(i%26)
	}
	for range benchConns {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			b.Fatalf("socketpair: %v", err)
		}
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
		if err := unix.SetNonblock(p[0], true); err != nil {
			b.Fatalf("setnonblock: %v", err)
		}
		servers = append(servers, p[0])
		c.fds = append(c.fds, p[1])
	}
	b.Cleanup(func() {
		for _, fd := range c.fds {
			unix.Close(fd)
		}
	})
	return servers, c
}

// reactorEcho serves the server ends from a Loop running on its own
// goroutine. The returned stop waits for the loop to finish.
func reactorEcho(b *testing.B, servers []int) (stop func()) {
	b.Helper()
	l, err := New(nil)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	var failed error
	for _, fd := range servers {
		buf := make([]byte, 4096)
		var pending []byte
		if err := l.Register(fd, Readable, func(_ time.Time, ev Events) {
			if ev&Readable != 0 && len(pending) == 0 {
				n, err := Read(fd, buf)
				if err != nil {
					if err != io.EOF {
						failed = err
					}
					l.Close(fd)
					return
				}
				pending = buf[:n]
			}
			n, err := Write(fd, pending)
			if err != nil {
				failed = err
				l.Close(fd)
				return
			}
			pending = pending[n:]
			if len(pending) > 0 {
				l.Modify(fd, Writable)
			} else {
				l.Modify(fd, Readable)
			}
		}); err != nil {
			b.Fatalf("Register: %v", err)
		}
	}
	wr, ww, err := newPipe()
	if err != nil {
		b.Fatalf("pipe: %v", err)
	}
	l.Register(wr, Readable, func(time.Time, Events) { l.Stop() })
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	return func() {
		unix.Write(ww, []byte{1})
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
		if failed != nil {
			b.Errorf("reactor echo: %v", failed)
		}
		for _, fd := range servers {
			l.Close(fd)
		}
		l.Close(wr)
		unix.Close(ww)
		l.Shutdown()
	}
}

// goroutineEcho serves each server end from its own goroutine through a
// net.Conn. stop closes the connections and waits for the goroutines.
func goroutineEcho(b *testing.B, servers []int) (stop func()) {
	b.Helper()
	var wg sync.WaitGroup
	conns := make([]net.Conn, 0, len(servers))
	for _, fd := range servers {
		f := os.NewFile(uintptr(fd), "echo")
		c, err := net.FileConn(f) // dups fd
		f.Close()
		if err != nil {
			b.Fatalf("FileConn: %v", err)
		}
		conns = append(conns, c)
		wg.Go(func() {
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		})
	}
	return func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	}
}

type echoVariant struct {
	name  string
	start func(*testing.B, []int) func()
}

var echoVariants = []echoVariant{
	{"reactor", reactorEcho},
	{"goroutines", goroutineEcho},
}

func BenchmarkEcho(b *testing.B) {
	for _, v := range echoVariants {
		b.Run(v.name, func(b *testing.B) {
			servers, clients := echoPairs(b)
			stop := v.start(b, servers)
			defer stop()
			if err := clients.round(); err != nil { // warm up
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if err := clients.round(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchConns), "ns/event")
		})
	}
}

// BenchmarkEchoRatio runs both variants side by side for the same number of
// rounds, alternating, and reports the reactor's time over the goroutines'.
func BenchmarkEchoRatio(b *testing.B) {
	const (
		reps   = 4  // alternations per iteration
		rounds = 50 // rounds per variant per alternation
	)
	clients := make([]*echoClients, len(echoVariants))
	for i, v := range echoVariants {
		servers, c := echoPairs(b)
		defer v.start(b, servers)()
		if err := c.round(); err != nil { // warm up
			b.Fatal(err)
		}
		clients[i] = c
	}
	spent := make([]time.Duration, len(echoVariants))
	b.ResetTimer()
	for range b.N {
		for range reps {
			for i, c := range clients {
				start := time.Now()
				for range rounds {
					if err := c.round(); err != nil {
						b.Fatal(err)
					}
				}
				spent[i] += time.Since(start)
			}
		}
	}
	b.StopTimer()
	events := float64(b.N * reps * rounds * benchConns)
	for i, v := range echoVariants {
		b.ReportMetric(float64(spent[i].Nanoseconds())/events, v.name+"-ns/event")
	}
	b.ReportMetric(float64(spent[0])/float64(spent[1]), "reactor/goroutines")
}
