package reactor

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// TLSClient is the client side of TLS over a socket the loop owns. The
// loop moves ciphertext between the socket and the session (Feed,
// Output, Advance); crypto/tls runs over an in-memory transport.
//
// The handshake costs a millisecond or more of CPU (key exchange,
// certificate parsing), so it runs on a worker goroutine, at most
// TLSWorkers.Busy of them computing at once; what it writes and its end
// come back to the loop through the Inbox. Once it is done the session's
// records are sealed and opened on the loop itself (Read, Write): a few
// microseconds per kilobyte, and no goroutine per open session. The
// transport tells a read with nothing buffered by a temporary error,
// which crypto/tls survives (as it does a read deadline), so the loop
// never waits on it.
type TLSClient struct {
	tr      *memTransport
	conn    *tls.Conn
	workers *TLSWorkers
	inbox   *Inbox
	notify  func(now time.Time)
	state   tls.ConnectionState
	hsDone  bool // the loop has seen the handshake's end
	hsErr   error
	// started: its handshake goroutine runs (or ran); freed: its place
	// among the handshakes under way is given back; closed: Close was
	// called. All the loop's.
	started, freed, closed bool
	since                  time.Time
	// HandshakeTime is how long the handshake took, from start to the
	// loop seeing its end; CPU is what the worker spent computing.
	HandshakeTime, CPU time.Duration
}

// TLSWorkers bounds the handshakes computing at once (a handshake
// waiting for the server's bytes does not count), and the handshakes
// under way, each of which holds a goroutine's stack: beyond
// MaxHandshakes, sessions wait on the loop for one to end before theirs
// starts. Its counters of handshakes under way are the loop's.
type TLSWorkers struct {
	busy    chan struct{}
	running int
	waiting []*TLSClient
	// MaxHandshakes bounds the handshakes under way; 0: no bound.
	MaxHandshakes int
}

// DefaultMaxHandshakes bounds the handshakes under way, each holding a
// goroutine's stack until it ends. A core stays busy with one handshake
// computing while the others wait a round trip: at about half a
// millisecond of CPU each (BenchmarkTLSHandshakes), RTT/0.5ms under way
// per core. 256 covers two cores up to 64 ms round trips; beyond, the
// handshakes queue a little rather than the memory grow.
const DefaultMaxHandshakes = 256

// NewTLSWorkers makes room for n handshakes computing at once.
func NewTLSWorkers(n int) *TLSWorkers {
	return &TLSWorkers{busy: make(chan struct{}, max(n, 1)), MaxHandshakes: DefaultMaxHandshakes}
}

// start runs s's handshake now or once a place is free. On the loop.
func (w *TLSWorkers) start(s *TLSClient) {
	if w.MaxHandshakes > 0 && w.running >= w.MaxHandshakes {
		w.waiting = append(w.waiting, s)
		return
	}
	w.running++
	s.started = true
	// A goroutine besides the loop's, the design's planned exception:
	// one TLS handshake's crypto, bounded by w.busy and MaxHandshakes,
	// touching only its session's transport, ended by the handshake's
	// end or Close (see TLSClient).
	go s.handshake()
}

// ended frees s's place and starts the next session waiting. On the loop.
func (w *TLSWorkers) ended(s *TLSClient) {
	if !s.started || s.freed {
		return
	}
	s.freed = true
	w.running--
	for len(w.waiting) > 0 && (w.MaxHandshakes <= 0 || w.running < w.MaxHandshakes) {
		next := w.waiting[0]
		w.waiting = w.waiting[1:]
		if !next.closed {
			w.start(next)
		}
	}
}

func (w *TLSWorkers) acquire() { w.busy <- struct{}{} }
func (w *TLSWorkers) release() { <-w.busy }

// StartTLSClient starts a client handshake with cfg. notify runs on the
// loop whenever the session has ciphertext to write or its handshake
// has ended (HandshakeDone).
func StartTLSClient(inbox *Inbox, workers *TLSWorkers, cfg *tls.Config, now time.Time, notify func(now time.Time)) *TLSClient {
	s := &TLSClient{inbox: inbox, notify: notify, since: now, workers: workers}
	s.tr = &memTransport{wake: make(chan struct{}, 1), workers: workers, blocking: true}
	s.tr.post = func() { inbox.Post(s.posted) }
	s.conn = tls.Client(s.tr, cfg)
	workers.start(s)
	return s
}

// handshake runs on a worker goroutine.
func (s *TLSClient) handshake() {
	workers := s.tr.workers
	workers.acquire()
	s.tr.runSince = time.Now()
	err := s.conn.HandshakeContext(context.Background())
	var state tls.ConnectionState
	if err == nil {
		state = s.conn.ConnectionState()
	}
	s.tr.mu.Lock()
	s.tr.cpu += time.Since(s.tr.runSince)
	s.tr.hsEnded, s.tr.hsErr, s.tr.state = true, err, state
	s.tr.blocking = false
	s.tr.mu.Unlock()
	workers.release()
	s.tr.signal()
}

// posted runs on the loop when the worker has news.
func (s *TLSClient) posted(now time.Time) {
	s.tr.mu.Lock()
	s.tr.postPending = false
	ended := s.tr.hsEnded
	s.tr.mu.Unlock()
	if ended {
		s.workers.ended(s)
	}
	s.notify(now)
}

// HandshakeDone reports whether the handshake has ended, and its error.
// Call it on the loop.
func (s *TLSClient) HandshakeDone(now time.Time) (bool, error) {
	if s.hsDone {
		return true, s.hsErr
	}
	s.tr.mu.Lock()
	ended, err, state, cpu := s.tr.hsEnded, s.tr.hsErr, s.tr.state, s.tr.cpu
	s.tr.mu.Unlock()
	if !ended {
		return false, nil
	}
	s.hsDone, s.hsErr, s.state = true, err, state
	s.HandshakeTime, s.CPU = now.Sub(s.since), cpu
	return true, err
}

// State is the session's TLS state once the handshake succeeded.
func (s *TLSClient) State() *tls.ConnectionState { return &s.state }

// Feed hands the session ciphertext read from the socket; the session
// keeps a copy.
func (s *TLSClient) Feed(p []byte) {
	s.tr.mu.Lock()
	s.tr.in = append(s.tr.in, p...)
	s.tr.mu.Unlock()
	s.tr.wakeReader()
}

// FeedEOF reports that the socket reached its end or failed.
func (s *TLSClient) FeedEOF() {
	s.tr.mu.Lock()
	s.tr.eof = true
	s.tr.mu.Unlock()
	s.tr.wakeReader()
}

// Output is the ciphertext waiting to be written to the socket.
func (s *TLSClient) Output() []byte {
	s.tr.mu.Lock()
	defer s.tr.mu.Unlock()
	return s.tr.out
}

// Advance drops n written bytes of Output.
func (s *TLSClient) Advance(n int) {
	s.tr.mu.Lock()
	s.tr.out = s.tr.out[n:]
	if len(s.tr.out) == 0 {
		s.tr.out = nil // an idle session holds no buffer of ours
	}
	s.tr.mu.Unlock()
}

// Read opens the records fed so far into p. It returns (0, nil) when no
// whole record is waiting, io.EOF after the server's close_notify or
// the socket's end. Call it on the loop, after the handshake.
func (s *TLSClient) Read(p []byte) (int, error) {
	n, err := s.conn.Read(p)
	var nb *wouldBlock
	if errors.As(err, &nb) {
		err = nil
	}
	return n, err
}

// Write seals p into records, which Output then holds. Call it on the
// loop, after the handshake.
func (s *TLSClient) Write(p []byte) (int, error) { return s.conn.Write(p) }

// Close ends the session: a handshake still running fails at once and
// its worker exits. Nothing more is written.
func (s *TLSClient) Close() {
	s.closed = true
	s.tr.mu.Lock()
	s.tr.eof, s.tr.closed = true, true
	s.tr.mu.Unlock()
	s.tr.wakeReader()
}

// memTransport is the net.Conn crypto/tls runs over: ciphertext in
// from the loop, ciphertext out to the loop. During the handshake a read
// with nothing buffered waits (on the worker); afterwards it fails with
// the temporary wouldBlock, since the loop calls it.
type memTransport struct {
	// mu guards every field below between the handshake worker and the
	// loop: the one place a session's state is shared, and only until
	// the handshake ends (afterwards only the loop touches it).
	mu          sync.Mutex
	in          []byte
	out         []byte
	eof, closed bool
	blocking    bool
	wake        chan struct{} // one token: input for a waiting worker
	workers     *TLSWorkers
	post        func() // tells the loop there is news
	postPending bool
	hsEnded     bool
	hsErr       error
	state       tls.ConnectionState
	cpu         time.Duration // worker time spent between waits
	runSince    time.Time
}

func (t *memTransport) wakeReader() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// signal posts to the loop unless a post is already on its way.
func (t *memTransport) signal() {
	t.mu.Lock()
	if t.postPending {
		t.mu.Unlock()
		return
	}
	t.postPending = true
	t.mu.Unlock()
	t.post()
}

func (t *memTransport) Read(p []byte) (int, error) {
	t.mu.Lock()
	for len(t.in) == 0 && !t.eof {
		if !t.blocking {
			t.mu.Unlock()
			return 0, &wouldBlock{}
		}
		t.cpu += time.Since(t.runSince)
		t.mu.Unlock()
		// Waiting for the server is not computing: the worker's place
		// goes to another handshake meanwhile.
		t.workers.release()
		<-t.wake
		t.workers.acquire()
		t.mu.Lock()
		t.runSince = time.Now()
	}
	if len(t.in) == 0 {
		t.mu.Unlock()
		return 0, io.EOF
	}
	n := copy(p, t.in)
	t.in = t.in[n:]
	if len(t.in) == 0 {
		t.in = nil
	}
	t.mu.Unlock()
	return n, nil
}

func (t *memTransport) Write(p []byte) (int, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return 0, net.ErrClosed
	}
	t.out = append(t.out, p...)
	worker := t.blocking
	t.mu.Unlock()
	if worker {
		t.signal() // the handshake wrote: the loop sends it
	}
	return len(p), nil
}

func (t *memTransport) Close() error {
	t.mu.Lock()
	t.closed, t.eof = true, true
	t.mu.Unlock()
	t.wakeReader()
	return nil
}

func (t *memTransport) LocalAddr() net.Addr              { return memAddr{} }
func (t *memTransport) RemoteAddr() net.Addr             { return memAddr{} }
func (t *memTransport) SetDeadline(time.Time) error      { return nil }
func (t *memTransport) SetReadDeadline(time.Time) error  { return nil }
func (t *memTransport) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "memory" }

// wouldBlock is the transport's "nothing buffered yet" after the
// handshake: a temporary net.Error, which leaves the tls.Conn usable.
type wouldBlock struct{}

func (*wouldBlock) Error() string   { return "tls transport: no ciphertext buffered" }
func (*wouldBlock) Timeout() bool   { return true }
func (*wouldBlock) Temporary() bool { return true }
