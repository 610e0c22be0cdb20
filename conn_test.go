package smtpfeed

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"golang.org/x/sys/unix"

	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// received is one message a go-smtp test server took.
type received struct {
	from  string
	rcpts []string
	data  []byte
	tls   string // the TLS version it came under; "" in plaintext
}

// goSMTPBackend records every message; recipients whose local part starts
// with "bounce" are refused with 550, "defer" with 451.
type goSMTPBackend struct {
	mu    sync.Mutex
	msgs  []received
	conns int
	// refused counts the RCPTs refused by policy (policy* recipients:
	// 450 4.7.1, which reads as a throttle).
	refused int
}

func (b *goSMTPBackend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	b.mu.Lock()
	b.conns++
	b.mu.Unlock()
	return &goSMTPSession{b: b, conn: c}, nil
}

func (b *goSMTPBackend) received() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type goSMTPSession struct {
	b    *goSMTPBackend
	conn *gosmtp.Conn
	cur  received
}

func (s *goSMTPSession) Reset()        { s.cur = received{} }
func (s *goSMTPSession) Logout() error { return nil }
func (s *goSMTPSession) Mail(from string, _ *gosmtp.MailOptions) error {
	s.cur.from = from
	return nil
}

func (s *goSMTPSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "bounce"):
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	case strings.HasPrefix(to, "defer"):
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 2, 0}, Message: "mailbox busy"}
	case strings.HasPrefix(to, "policy"):
		s.b.mu.Lock()
		s.b.refused++
		s.b.mu.Unlock()
		return &gosmtp.SMTPError{Code: 450, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "client host rejected: cannot find your hostname"}
	}
	s.cur.rcpts = append(s.cur.rcpts, to)
	return nil
}

func (s *goSMTPSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = data
	if st, ok := s.conn.TLSConnectionState(); ok {
		s.cur.tls = tls.VersionName(st.Version)
	}
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

// startGoSMTP serves a go-smtp server on a loopback port until the test ends.
func startGoSMTP(t *testing.T, maxRcpts int) (*goSMTPBackend, netip.AddrPort) {
	t.Helper()
	be := &goSMTPBackend{}
	return be, serveSMTP(t, be, "gosmtp.test", maxRcpts)
}

// serveSMTP serves a go-smtp server for be on a loopback port until the
// test ends (maxRcpts 0: no limit).
func serveSMTP(t *testing.T, be gosmtp.Backend, domain string, maxRcpts int) netip.AddrPort {
	t.Helper()
	return serveSMTPTLS(t, be, domain, maxRcpts, nil)
}

// serveSMTPTLS is serveSMTP offering STARTTLS with cfg (nil: no TLS).
func serveSMTPTLS(t *testing.T, be gosmtp.Backend, domain string, maxRcpts int, cfg *tls.Config) netip.AddrPort {
	t.Helper()
	return serveSMTPAt(t, be, domain, "127.0.0.1:0", maxRcpts, cfg)
}

// serveSMTPAt is serveSMTPTLS listening on addr.
func serveSMTPAt(t *testing.T, be gosmtp.Backend, domain, addr string, maxRcpts int, cfg *tls.Config) netip.AddrPort {
	t.Helper()
	srv := gosmtp.NewServer(be)
	srv.TLSConfig = cfg
	srv.Domain = domain
	srv.MaxRecipients = maxRcpts
	srv.MaxMessageBytes = 10 << 20
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("a go-smtp server on %s: %v", addr, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return l.Addr().(*net.TCPAddr).AddrPort()
}

// connRun collects what a Conn reports.
type connRun struct {
	results []smtp.Result
	closed  bool
	err     error
	idle    int
}

func (r *connRun) handlers(quitWhenIdle bool) ConnHandlers {
	return ConnHandlers{
		Results: func(_ *Conn, rs []smtp.Result) { r.results = append(r.results, rs...) },
		Idle: func(c *Conn) {
			r.idle++
			if quitWhenIdle {
				c.Quit()
			}
		},
		Closed: func(_ *Conn, err error) { r.closed, r.err = true, err },
	}
}

// stepUntil runs the loop until cond holds, failing after limit of real time.
func stepUntil(t *testing.T, loop *reactor.Loop, cond func() bool, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached within %v", limit)
		}
		if err := loop.Step(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

func newLoop(t *testing.T, clock reactor.Clock) *reactor.Loop {
	t.Helper()
	loop, err := reactor.New(clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loop.Shutdown() })
	return loop
}

// deliverOnce runs tx on a fresh connection to addr through the loop,
// QUITs when it is done, and fails the test unless the session ended
// cleanly.
func deliverOnce(t *testing.T, loop *reactor.Loop, host string, addr netip.AddrPort, tx *smtp.Envelope) (*Conn, *connRun) {
	t.Helper()
	run := &connRun{}
	c, err := DialSMTP(loop, host, addr, ConnConfig{SMTP: smtp.Config{Hostname: "feed.test"}}, run.handlers(true))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(tx)
	stepUntil(t, loop, func() bool { return run.closed }, 30*time.Second)
	if run.err != nil {
		t.Fatalf("connection to %s ended with %v, want a clean QUIT", host, run.err)
	}
	return c, run
}

func listTx(raw []byte, addrs ...string) *smtp.Envelope {
	tx := &smtp.Envelope{From: "list-bounces@lists.test", Msg: smtp.NewMessage(raw)}
	for _, a := range addrs {
		tx.Rcpts = append(tx.Rcpts, smtp.Recipient{Addr: a})
	}
	return tx
}

// testMessage has a line starting with a dot, 8-bit text, a long body
// (larger than a socket buffer, so writes come back partial) and CRLF
// line ends throughout, so what the server hands its backend must equal
// it byte for byte.
func testMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: list@lists.test\r\nTo: members@lists.test\r\nSubject: interop caf\xc3\xa9\r\n\r\n")
	b.WriteString(".a line that starts with a dot\r\n..and two\r\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "line %06d of the body, long enough to take some room in the socket\r\n", i)
	}
	b.WriteString(".\r\nlast line\r\n")
	return b.Bytes()
}

func TestConnGoSMTPInterop(t *testing.T) {
	be, addr := startGoSMTP(t, 60)
	loop := newLoop(t, nil)
	raw := testMessage(2 << 20)
	var addrs []string
	for i := range 150 {
		switch i % 50 {
		case 7:
			addrs = append(addrs, fmt.Sprintf("bounce%d@a.test", i))
		case 8:
			addrs = append(addrs, fmt.Sprintf("defer%d@a.test", i))
		default:
			addrs = append(addrs, fmt.Sprintf("user%d@a.test", i))
		}
	}
	tx := listTx(raw, addrs...)
	c, run := deliverOnce(t, loop, "gosmtp.test", addr, tx)
	if !c.Extensions().Pipelining {
		t.Fatal("go-smtp did not advertise PIPELINING")
	}
	want := map[string]smtp.Status{}
	for _, a := range addrs {
		switch {
		case strings.HasPrefix(a, "bounce"):
			want[a] = smtp.Bounced
		case strings.HasPrefix(a, "defer"):
			want[a] = smtp.Deferred
		default:
			want[a] = smtp.Delivered
		}
	}
	if len(run.results) != len(addrs) {
		t.Fatalf("%d results for %d recipients", len(run.results), len(addrs))
	}
	for _, r := range run.results {
		a := tx.Rcpts[r.Rcpt].Addr
		if r.Status != want[a] {
			t.Errorf("%s: %v, want %v", a, r, want[a])
		}
	}
	got := map[string]int{}
	for _, m := range be.received() {
		if !bytes.Equal(m.data, raw) {
			t.Fatalf("message to %d recipients differs from what was handed in (%d vs %d bytes)", len(m.rcpts), len(m.data), len(raw))
		}
		if len(m.rcpts) > 60 {
			t.Errorf("a transaction carried %d recipients past the server's limit of 60", len(m.rcpts))
		}
		for _, r := range m.rcpts {
			got[r]++
		}
	}
	for a, st := range want {
		if n := got[a]; (st == smtp.Delivered) != (n == 1) || n > 1 {
			t.Errorf("%s received %d times, want status %v", a, n, st)
		}
	}
	if n := len(be.received()); n < 3 {
		t.Errorf("%d transactions for 144 deliverable recipients at 60 a time, want at least 3", n)
	}
	t.Logf("%d transactions on %d connection(s)", len(be.received()), be.conns)
	if be.conns != 1 {
		t.Errorf("%d connections, want 1", be.conns)
	}
}

func TestConnRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr).AddrPort()
	l.Close()
	loop := newLoop(t, nil)
	var run connRun
	c, err := DialSMTP(loop, "refuser.test", addr, ConnConfig{SMTP: smtp.Config{Hostname: "feed.test"}}, run.handlers(true))
	if err != nil {
		// Refused on the spot: the error must say so and name the host.
		if !errors.Is(err, unix.ECONNREFUSED) || !strings.Contains(err.Error(), "refuser.test") {
			t.Fatalf("DialSMTP = %v, want connection refused naming the host", err)
		}
		return
	}
	c.Add(listTx([]byte("x\r\n"), "a@b.test", "c@d.test"))
	stepUntil(t, loop, func() bool { return run.closed }, 10*time.Second)
	if !errors.Is(run.err, unix.ECONNREFUSED) {
		t.Fatalf("Closed with %v, want ECONNREFUSED", run.err)
	}
	if len(run.results) != 2 {
		t.Fatalf("%d results, want 2", len(run.results))
	}
	for _, r := range run.results {
		if r.Status != smtp.NextHost || !strings.Contains(r.Err.Error(), "refuser.test[127.0.0.1]") {
			t.Errorf("%v: want next-host naming the host", r)
		}
	}
}

// deadListener is a loopback listener that never accepts, with its accept
// queue filled, so that further connects get no answer at all.
func deadListener(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	// Fill the queue: connects that complete are never accepted; once one
	// hangs, the queue is full.
	for range 8 {
		c, err := net.DialTimeout("tcp", addr.String(), 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("could not fill the accept queue of the dead listener")
	return addr
}

func TestConnConnectTimeout(t *testing.T) {
	addr := deadListener(t)
	clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	loop := newLoop(t, clock)
	var run connRun
	c, err := DialSMTP(loop, "dead.test", addr, ConnConfig{SMTP: smtp.Config{Hostname: "feed.test"}}, run.handlers(true))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(listTx([]byte("x\r\n"), "a@b.test"))
	for range 3 {
		loop.Step(10 * time.Millisecond)
	}
	if run.closed {
		t.Fatalf("dead host answered: %v", run.err)
	}
	clock.Advance(DefaultConnectTimeout - time.Nanosecond)
	loop.Step(0)
	if run.closed {
		t.Fatal("connect timed out before 75 s")
	}
	clock.Advance(time.Nanosecond)
	loop.Step(0)
	if !run.closed || run.err == nil || !strings.Contains(run.err.Error(), "connection timed out") {
		t.Fatalf("after 75 s: closed=%v err=%v, want a connect timeout", run.closed, run.err)
	}
	if len(run.results) != 1 || run.results[0].Status != smtp.NextHost {
		t.Fatalf("results %v, want one next-host", run.results)
	}
}

// TestConnGreetingTimeout: a server that accepts and says nothing costs the
// greeting timeout, on the fake clock.
func TestConnGreetingTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	loop := newLoop(t, clock)
	var run connRun
	c, err := DialSMTP(loop, "mute.test", l.Addr().(*net.TCPAddr).AddrPort(), ConnConfig{SMTP: smtp.Config{Hostname: "feed.test"}}, run.handlers(true))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(listTx([]byte("x\r\n"), "a@b.test"))
	stepUntil(t, loop, func() bool { return c.st == connOpen }, 10*time.Second)
	srv := <-accepted
	defer srv.Close()
	clock.Advance(5 * time.Minute)
	loop.Step(0)
	if !run.closed || !errors.Is(run.err, smtp.ErrTimeout) || !strings.Contains(run.err.Error(), "greeting") {
		t.Fatalf("closed=%v err=%v, want a greeting timeout", run.closed, run.err)
	}
}
