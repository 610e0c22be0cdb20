package reactor

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// testServerTLS is a self-signed server configuration (simnet's
// certificates, made the same way).
func testServerTLS(t testing.TB) *tls.Config {
	t.Helper()
	c, err := sim.SelfSigned("tls.test")
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}}
}

// echoTLSServer accepts TLS connections and echoes what each sends,
// byte for byte, until EOF.
func echoTLSServer(t testing.TB, cfg *tls.Config) netip.AddrPort {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).AddrPort()
}

// tlsDriver is a client socket in the loop with a TLSClient on it, as
// the SMTP connection drives one: ciphertext between socket and
// session, plaintext read out into got.
type tlsDriver struct {
	loop   *Loop
	fd     int
	s      *TLSClient
	inbox  *Inbox
	w      *TLSWorkers
	cfg    *tls.Config
	buf    []byte
	plain  []byte
	got    []byte
	send   []byte // plaintext to seal once the handshake is done
	done   bool   // handshake over
	err    error
	eof    bool
	closed bool
	wrote  bool // ciphertext went out
}

func dialTLS(t testing.TB, l *Loop, addr netip.AddrPort, inbox *Inbox, w *TLSWorkers, cfg *tls.Config, send []byte) *tlsDriver {
	t.Helper()
	fd, err := DialTCP(addr, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	d := &tlsDriver{loop: l, fd: fd, inbox: inbox, w: w, cfg: cfg, buf: make([]byte, 16<<10), plain: make([]byte, 16<<10), send: send}
	if err := l.Register(fd, Writable, d.ready); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *tlsDriver) ready(now time.Time, ev Events) {
	if d.s == nil {
		if err := ConnectResult(d.fd); err != nil {
			d.err, d.done = err, true
			d.close()
			return
		}
		d.s = StartTLSClient(d.inbox, d.w, d.cfg, now, d.pump)
		d.loop.Modify(d.fd, Readable)
		return
	}
	if ev&Readable != 0 {
		n, err := Read(d.fd, d.buf)
		if n > 0 {
			d.s.Feed(d.buf[:n])
		}
		if err != nil {
			d.s.FeedEOF()
		}
	}
	d.pump(now)
}

func (d *tlsDriver) pump(now time.Time) {
	// Called from a post: the handshake wrote, or ended.
	if d.closed {
		return
	}
	if !d.done {
		if done, err := d.s.HandshakeDone(now); done {
			d.done, d.err = true, err
		}
	}
	if d.done && d.err == nil {
		if len(d.send) > 0 {
			n, err := d.s.Write(d.send)
			d.send = d.send[n:]
			if err != nil {
				d.err = err
			}
		}
		for {
			n, err := d.s.Read(d.plain)
			d.got = append(d.got, d.plain[:n]...)
			if err != nil {
				d.eof = true
				break
			}
			if n == 0 {
				break
			}
		}
	}
	for out := d.s.Output(); len(out) > 0; out = d.s.Output() {
		n, err := Write(d.fd, out)
		if n == 0 || err != nil {
			break
		}
		d.wrote = true
		d.s.Advance(n)
	}
	ev := Readable
	if len(d.s.Output()) > 0 {
		ev |= Writable
	}
	d.loop.Modify(d.fd, ev)
}

func (d *tlsDriver) close() {
	if !d.closed {
		d.closed = true
		if d.s != nil {
			d.s.Close()
		}
		d.loop.Close(d.fd)
	}
}

// TestTLSClientEcho: a handshake on a worker, then 200 kB sealed and
// opened on the loop, echoed back byte for byte, at TLS 1.3 and 1.2.
func TestTLSClientEcho(t *testing.T) {
	for _, max := range []uint16{0, tls.VersionTLS12} {
		t.Run(fmt.Sprintf("max%x", max), func(t *testing.T) {
			srv := testServerTLS(t)
			srv.MaxVersion = max
			addr := echoTLSServer(t, srv)
			l := newLoop(t, nil)
			inbox, err := l.Inbox()
			if err != nil {
				t.Fatal(err)
			}
			msg := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16)
			d := dialTLS(t, l, addr, inbox, NewTLSWorkers(2), &tls.Config{InsecureSkipVerify: true}, msg)
			stepUntil(t, l, 100*time.Millisecond, 10000, "echo", func() bool { return len(d.got) >= len(msg) || d.err != nil })
			if d.err != nil || !bytes.Equal(d.got, msg) {
				t.Fatalf("err %v, got %d bytes back of %d", d.err, len(d.got), len(msg))
			}
			if st := d.s.State(); st.Version == 0 || (max != 0 && st.Version != max) {
				t.Errorf("version %x, want %x", st.Version, max)
			}
			if d.s.HandshakeTime <= 0 || d.s.CPU <= 0 {
				t.Errorf("handshake time %v, worker time %v: want both measured", d.s.HandshakeTime, d.s.CPU)
			}
			d.close()
		})
	}
}

// TestTLSClientCloseMidHandshake: closing a session whose server never
// answers ends its worker: the handshake reports an error.
func TestTLSClientCloseMidHandshake(t *testing.T) {
	l := newLoop(t, nil)
	inbox, err := l.Inbox()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := dialTLS(t, l, ln.Addr().(*net.TCPAddr).AddrPort(), inbox, NewTLSWorkers(1), &tls.Config{InsecureSkipVerify: true}, nil)
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	stepUntil(t, l, 100*time.Millisecond, 1000, "ClientHello sent", func() bool { return d.wrote && len(d.s.Output()) == 0 })
	before := runtime.NumGoroutine()
	d.s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := d.s
		s.tr.mu.Lock()
		ended, err := s.tr.hsEnded, s.tr.hsErr
		s.tr.mu.Unlock()
		if ended {
			if err == nil {
				t.Fatal("handshake succeeded with a silent server")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker still in the handshake 5s after Close (%d goroutines before)", before)
		}
		runtime.Gosched()
	}
}

// TestInbox: posts from many goroutines all run on the loop, each
// goroutine's in order, and a burst costs few wakeups.
func TestInbox(t *testing.T) {
	l := newLoop(t, nil)
	b, err := l.Inbox()
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := l.Inbox(); b2 != b {
		t.Fatal("a second Inbox call made another inbox")
	}
	const senders, each = 8, 500
	last := make([]int, senders)
	got := 0
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= each; i++ {
				b.Post(func(time.Time) {
					if last[s] != i-1 {
						t.Errorf("sender %d: post %d after %d", s, i, last[s])
					}
					last[s] = i
					got++
				})
			}
		}()
	}
	passes := stepUntil(t, l, 100*time.Millisecond, senders*each, "posts", func() bool { return got == senders*each })
	wg.Wait()
	if passes >= senders*each {
		t.Errorf("%d passes for %d posts: wakeups not coalesced", passes, senders*each)
	}
	l.Shutdown()
	b.Post(func(time.Time) { t.Error("a post after Shutdown ran") })
	if len(b.queue) != 0 {
		t.Error("a post after Shutdown was queued; want it dropped")
	}
}

// BenchmarkTLSHandshakes: handshakes through the loop, 32 at a time,
// against an in-process server on loopback, with one worker and with
// GOMAXPROCS. loop-cpu-µs/hs is the loop thread's CPU per handshake
// (Linux), loop-µs/hs its passes' wall time (preemption by the workers
// and the server included): what every other socket waits for;
// worker-µs/hs the handshake's time on a worker, which would stall the
// loop if it ran there.
func BenchmarkTLSHandshakes(b *testing.B) {
	addr := echoTLSServer(b, testServerTLS(b))
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			l := newLoop(b, nil)
			inbox, err := l.Inbox()
			if err != nil {
				b.Fatal(err)
			}
			w := NewTLSWorkers(workers)
			cfg := &tls.Config{InsecureSkipVerify: true}
			var cpu time.Duration
			runtime.LockOSThread() // the thread's CPU time is the loop's
			defer runtime.UnlockOSThread()
			busy0, _ := l.Busy()
			thread0, threadOK := ThreadCPU()
			b.ResetTimer()
			for done := 0; done < b.N; {
				batch := min(32, b.N-done)
				ds := make([]*tlsDriver, batch)
				for i := range ds {
					ds[i] = dialTLS(b, l, addr, inbox, w, cfg, nil)
				}
				for _, d := range ds {
					for !d.done {
						if err := l.Step(time.Second); err != nil {
							b.Fatal(err)
						}
					}
					if d.err != nil {
						b.Fatal(d.err)
					}
					cpu += d.s.CPU
					d.close()
				}
				done += batch
			}
			b.StopTimer()
			busy, longest := l.Busy()
			if thread, ok := ThreadCPU(); ok && threadOK {
				b.ReportMetric(float64((thread-thread0).Microseconds())/float64(b.N), "loop-cpu-µs/hs")
			}
			b.ReportMetric(float64((busy-busy0).Microseconds())/float64(b.N), "loop-µs/hs")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "worker-µs/hs")
			b.ReportMetric(float64(longest.Microseconds()), "longest-pass-µs")
		})
	}
}
