package smtpfeed

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// DefaultConnectTimeout is the classic TCP connect timeout the paper
// measures its gains against (§3.3): an unreachable host costs this once,
// after which the reachability cache remembers it.
const DefaultConnectTimeout = 75 * time.Second

// DefaultConnLifetime bounds one connection's whole life, however
// busy: a server that answers each command just before its timeout
// would otherwise hold a connection slot for hours. Half an hour is many
// transactions for any live server.
const DefaultConnLifetime = 30 * time.Minute

// readBufferSize bounds one read: a pipelined group's replies for 100
// recipients are a few kilobytes.
const readBufferSize = 16 << 10

// connState is where a connection's socket is.
type connState uint8

const (
	connConnecting connState = iota // non-blocking connect in flight; waiting for writable
	connOpen                        // connected; the SMTP machine runs
	connClosed                      // socket closed
)

func (s connState) String() string {
	switch s {
	case connConnecting:
		return "connecting"
	case connOpen:
		return "open"
	case connClosed:
		return "closed"
	}
	return "invalid"
}

// ConnConfig is what every SMTP connection shares.
type ConnConfig struct {
	SMTP           smtp.Config
	ConnectTimeout time.Duration // 0: DefaultConnectTimeout
	Lifetime       time.Duration // 0: DefaultConnLifetime
	Source         netip.Addr    // local address to connect from; invalid: any
	// ReadBuf, when set, is the buffer reads land in, shared by every
	// connection of the loop: the machine copies what it keeps, so one
	// buffer serves all and a thousand connections do not hold a
	// thousand idle buffers.
	ReadBuf []byte
	// TLS, when set, makes the session STARTTLS where the server offers
	// it, with this configuration (shared: a session that does TLS
	// copies it to name the host for SNI unless it names one); the handshake runs on TLSWorkers and
	// reports through Inbox. SealBuf gathers output to seal, and
	// PlainBuf takes opened records, both shared like ReadBuf.
	TLS        *tls.Config
	TLSWorkers *reactor.TLSWorkers
	Inbox      *reactor.Inbox
	SealBuf    []byte
	PlainBuf   []byte
}

// ConnHandlers are the engine's callbacks, all run on the loop.
type ConnHandlers struct {
	// Results hands over recipients whose fate at this host is known.
	Results func(c *Conn, rs []smtp.Result)
	// Opened: the connect succeeded (the session has not greeted yet).
	Opened func(c *Conn)
	// Idle: every transaction added is done; add another, Quit or Close.
	Idle func(c *Conn)
	// Closed: the socket is gone. err is why the session ended early,
	// nil after QUIT.
	Closed func(c *Conn, err error)
	// Began: n more SMTP transactions began on the connection.
	Began func(c *Conn, n int)
}

// Conn is one SMTP connection: a socket in the loop driving a proto/smtp
// machine, with the connect timeout the machine does not know about.
type Conn struct {
	Host string         // the MX host's name, for errors and logs
	Addr netip.AddrPort // where it connects
	// Opened is when the connect completed; LastUsed when the last
	// transaction on it ended. The pool evicts by LastUsed.
	Opened, LastUsed time.Time

	loop  *reactor.Loop
	fd    int
	st    connState
	m     *smtp.Client
	timer *reactor.Timer
	life  *reactor.Timer // the end of the connection's lifetime
	// ending: the lifetime is over and the connection closes as soon as
	// no final dot's reply is owed.
	ending bool
	h      ConnHandlers
	cfg    ConnConfig
	buf    []byte
	// tls is the session's TLS once STARTTLS was accepted; secure once
	// its handshake succeeded and the session runs inside it.
	tls    *reactor.TLSClient
	secure bool
	plain  []byte // opened records land here; shared (PlainBuf) when given
	// tlsText is the session's TLS for the log, once secure.
	tlsText string
	// checks memoises certificate checks by what was checked: every
	// recipient of a host shares one.
	checks map[certCheck]error
	began  bool // a transaction has begun
}

// certCheck is one check of a session's certificate: of which kind, for
// which MX host name.
type certCheck struct {
	kind uint8 // checkDANE, checkPKIX
	host string
}

const (
	checkDANE uint8 = iota
	checkPKIX
)

// verified runs check once per key on this connection.
func (c *Conn) verified(key certCheck, check func() error) error {
	if err, ok := c.checks[key]; ok {
		return err
	}
	if c.checks == nil {
		c.checks = make(map[certCheck]error)
	}
	err := check()
	c.checks[key] = err
	return err
}

// ErrTLSHandshake is why a session whose STARTTLS handshake failed
// ended: its recipients try the host again in plaintext, once.
var ErrTLSHandshake = errors.New("TLS handshake failed")

// DialSMTP starts connecting to addr. Envelopes may be added at once;
// they go out once the session is open.
func DialSMTP(loop *reactor.Loop, host string, addr netip.AddrPort, cfg ConnConfig, h ConnHandlers) (*Conn, error) {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultConnLifetime
	}
	fd, err := reactor.DialTCP(addr, cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("%s[%s]: %w", host, addr.Addr(), err)
	}
	now := loop.Now()
	cfg.SMTP.StartTLS = cfg.TLS != nil && cfg.Inbox != nil && cfg.TLSWorkers != nil
	c := &Conn{Host: host, Addr: addr, loop: loop, fd: fd, h: h, cfg: cfg, m: smtp.NewClient(cfg.SMTP, now)}
	if err := loop.Register(fd, reactor.Writable, c.ready); err != nil {
		loop.Close(fd)
		return nil, fmt.Errorf("%s[%s]: %w", host, addr.Addr(), err)
	}
	c.timer = loop.AddTimer(now.Add(cfg.ConnectTimeout), c.expired)
	c.life = loop.AddTimer(now.Add(cfg.Lifetime), c.lifeOver)
	return c, nil
}

// String names the connection as logs do: host[address]:port.
func (c *Conn) String() string { return fmt.Sprintf("%s[%s]:%d", c.Host, c.Addr.Addr(), c.Addr.Port()) }

// Add queues a transaction on the connection.
func (c *Conn) Add(tx *smtp.Envelope) {
	c.m.Add(tx)
	c.progress(c.loop.Now())
}

// Quit ends the session with QUIT once it is idle.
func (c *Conn) Quit() {
	c.m.Quit()
	c.progress(c.loop.Now())
}

// Connecting reports a connect still in flight.
func (c *Conn) Connecting() bool { return c.st == connConnecting }

// Idle reports a session with nothing outstanding.
func (c *Conn) Idle() bool { return c.st == connOpen && c.m.Idle() }

// Reusable reports whether another transaction may use the connection.
func (c *Conn) Reusable() bool { return c.st != connClosed && c.m.Reusable() }

// Withdraw takes back tx's recipients no SMTP transaction carries yet;
// they come back through Results as next-host with smtp.ErrWithdrawn.
func (c *Conn) Withdraw(tx *smtp.Envelope, why string) {
	c.m.Withdraw(tx, why)
	c.progress(c.loop.Now())
}

// AwaitingDot reports a final dot sent whose reply has not come.
func (c *Conn) AwaitingDot() bool { return c.st == connOpen && c.m.AwaitingDot() }

// TLS is the session's TLS state: nil while it runs in plaintext.
func (c *Conn) TLS() *tls.ConnectionState {
	if !c.secure {
		return nil
	}
	return c.tls.State()
}

// TLSRefused is the server's answer when it refused STARTTLS.
func (c *Conn) TLSRefused() *smtp.Reply { return c.m.TLSRefused() }

// Handshake reports how long the TLS handshake took and the worker time
// it cost; zero without one.
func (c *Conn) Handshake() (took, cpu time.Duration) {
	if c.tls == nil {
		return 0, 0
	}
	return c.tls.HandshakeTime, c.tls.CPU
}

// SetAdmit sets the check each recipient passes as its SMTP transaction
// begins (see smtp.Client.SetAdmit).
func (c *Conn) SetAdmit(f func(tx *smtp.Envelope, rcpt int) error) { c.m.SetAdmit(f) }

// Extensions reports what the server advertised.
func (c *Conn) Extensions() smtp.Extensions { return c.m.Extensions() }

// Close drops the connection at once: the pool's eviction, or shutdown.
// Recipients still in flight are handed back as next-host.
func (c *Conn) Close(why error) {
	if c.st == connClosed {
		return
	}
	if why == nil {
		why = errors.New("connection closed by smtpfeed")
	}
	c.m.Lost(why)
	c.progress(c.loop.Now())
}

// ready is the loop's handler for the socket.
func (c *Conn) ready(now time.Time, ev reactor.Events) {
	switch c.st {
	case connConnecting:
		if err := reactor.ConnectResult(c.fd); err != nil {
			c.m.ConnectFailed(fmt.Errorf("connect to %s: %w", c, err))
			break
		}
		c.st = connOpen
		c.Opened, c.LastUsed = now, now
		c.buf = c.cfg.ReadBuf
		if c.buf == nil {
			c.buf = make([]byte, readBufferSize)
		}
		c.m.Connected(now)
		if c.h.Opened != nil {
			c.h.Opened(c)
		}
	case connOpen:
		if ev&reactor.Readable != 0 {
			c.read(now)
		}
	}
	c.progress(now)
}

func (c *Conn) read(now time.Time) {
	n, err := reactor.Read(c.fd, c.buf)
	if c.tls != nil {
		if n > 0 {
			c.tls.Feed(c.buf[:n])
		}
		if err != nil {
			c.tls.FeedEOF()
		}
		if c.secure {
			c.open(now)
		}
		return
	}
	if n > 0 {
		c.m.Feed(c.buf[:n], now)
	}
	if err != nil {
		c.m.Lost(err)
	}
}

// startTLS starts the handshake once the server accepted STARTTLS.
func (c *Conn) startTLS(now time.Time) {
	cfg := c.cfg.TLS
	if cfg.ServerName == "" && !strings.HasPrefix(c.Host, "[") {
		// SNI: the MX host's name (RFC 7672 §8.1). The shared
		// configuration is copied only for a session that does TLS.
		cfg = cfg.Clone()
		cfg.ServerName = c.Host
	}
	c.tls = reactor.StartTLSClient(c.cfg.Inbox, c.cfg.TLSWorkers, cfg, now, c.tlsNews)
}

// tlsNews: the handshake wrote, or ended.
func (c *Conn) tlsNews(now time.Time) {
	if c.st == connClosed {
		return
	}
	if !c.secure {
		done, err := c.tls.HandshakeDone(now)
		switch {
		case done && err != nil:
			c.flush(now) // the alert, if the socket takes it
			c.m.Lost(fmt.Errorf("%w: %v", ErrTLSHandshake, err))
		case done:
			c.secure = true
			c.tlsText = sessionText(c.tls.State())
			c.plain = c.cfg.PlainBuf
			if c.plain == nil {
				c.plain = make([]byte, readBufferSize)
			}
			c.m.Secured(now)
			c.open(now) // records that came with the handshake's end
		}
	}
	c.progress(now)
}

// open opens the records received so far and feeds the machine.
func (c *Conn) open(now time.Time) {
	for !c.m.Done() {
		n, err := c.tls.Read(c.plain)
		if n > 0 {
			c.m.Feed(c.plain[:n], now)
		}
		if err != nil {
			c.m.Lost(err)
			return
		}
		if n == 0 {
			return
		}
	}
}

// progress writes what the machine has to say, passes on results, and
// sets the socket's interest and the timer from the machine's state. It
// writes at once rather than waiting for writability: the socket almost
// always takes a command group whole, which saves a poll per round trip.
func (c *Conn) progress(now time.Time) {
	if c.st == connOpen && c.tls == nil && c.m.Handshaking() {
		c.startTLS(now)
	}
	if c.st == connOpen && !c.m.Done() {
		c.flush(now)
	}
	if c.ending && c.st != connClosed && !c.m.Done() && !c.m.AwaitingDot() {
		c.m.Lost(fmt.Errorf("%s: %w", c, errLifetime))
	}
	if n := c.m.TakeBegun(); n > 0 && c.h.Began != nil {
		c.h.Began(c, n)
	}
	if rs := c.m.Results(); len(rs) > 0 && c.h.Results != nil {
		c.h.Results(c, rs)
	}
	if c.st == connClosed {
		return
	}
	if c.m.Done() {
		if c.tls != nil && c.m.Err() == nil && len(c.tls.Output()) > 0 {
			// QUIT was sealed but its record not yet written: one try,
			// since a server that cannot take a few bytes is not reading.
			if n, _ := reactor.Write(c.fd, c.tls.Output()); n > 0 {
				c.tls.Advance(n)
			}
		}
		c.close(c.m.Err())
		return
	}
	if c.st == connOpen && c.m.Idle() {
		c.LastUsed = now
		if c.h.Idle != nil {
			c.h.Idle(c)
			if c.st == connClosed || c.m.Done() {
				c.progress(now)
				return
			}
		}
	}
	c.arm()
}

func (c *Conn) flush(now time.Time) {
	if c.tls != nil {
		c.flushTLS(now)
		return
	}
	out := c.m.Output()
	if len(out) == 0 {
		return
	}
	n, err := reactor.WriteSegments(c.fd, out)
	if n > 0 {
		c.m.Wrote(n, now)
	}
	if err != nil {
		c.m.Lost(err)
	}
}

// maxSealed bounds the records sealed in one pass for one connection:
// a large message to a fast host does not hold up the loop's other
// sockets.
const maxSealed = 256 << 10

// flushTLS seals the machine's output into records while the socket
// takes them whole, and writes the ciphertext waiting. Sealing waits
// for the socket: a large message is never held sealed in memory.
func (c *Conn) flushTLS(now time.Time) {
	for sealed := 0; ; {
		if ct := c.tls.Output(); len(ct) > 0 {
			n, err := reactor.Write(c.fd, ct)
			if n > 0 {
				c.tls.Advance(n)
			}
			if err != nil {
				c.m.Lost(err)
				return
			}
			if n < len(ct) {
				return // the socket is full; writable says when
			}
		}
		out := c.m.Output()
		if !c.secure || len(out) == 0 || sealed >= maxSealed {
			return
		}
		p := c.gather(out)
		n, err := c.tls.Write(p)
		sealed += n
		if n > 0 {
			c.m.Wrote(n, now)
		}
		if err != nil {
			c.m.Lost(err)
			return
		}
	}
}

// gather is the next up to 16 KiB (one record) of output, copied only
// when it spans segments.
func (c *Conn) gather(out [][]byte) []byte {
	const record = 16 << 10
	if len(out[0]) >= record || len(out) == 1 {
		return out[0][:min(len(out[0]), record)]
	}
	if c.cfg.SealBuf == nil {
		c.cfg.SealBuf = make([]byte, record)
	}
	buf := c.cfg.SealBuf[:0]
	for _, seg := range out {
		take := min(len(seg), record-len(buf))
		buf = append(buf, seg[:take]...)
		if len(buf) == record {
			break
		}
	}
	return buf
}

// arm sets what the socket is watched for and when the timer fires.
func (c *Conn) arm() {
	ev := reactor.Readable
	if c.st == connConnecting || c.wantsWrite() {
		ev |= reactor.Writable
	}
	c.loop.Modify(c.fd, ev)
	if c.st == connConnecting {
		return // the connect timer stands
	}
	if d := c.m.Deadline(); !d.IsZero() {
		c.loop.ResetTimer(c.timer, d)
	} else {
		c.loop.StopTimer(c.timer)
	}
}

// wantsWrite reports output the socket has not taken: ciphertext, or
// plaintext to seal or write.
func (c *Conn) wantsWrite() bool {
	if c.tls != nil {
		return len(c.tls.Output()) > 0 || (c.secure && len(c.m.Output()) > 0)
	}
	return len(c.m.Output()) > 0
}

func (c *Conn) expired(now time.Time) {
	if c.m.Handshaking() && !now.Before(c.m.Deadline()) {
		// A server that accepts STARTTLS and then stalls is as broken
		// for TLS as one that fails the handshake.
		c.m.Lost(fmt.Errorf("%w: %w", ErrTLSHandshake, smtp.ErrTimeout))
		c.progress(now)
		return
	}
	if c.st == connConnecting {
		c.m.ConnectFailed(fmt.Errorf("connect to %s: %w", c, errConnectTimeout))
	} else {
		c.m.Timeout(now)
	}
	c.progress(now)
}

var errConnectTimeout = errors.New("connection timed out")

// errLifetime ends a connection that outlived Lifetime.
var errLifetime = errors.New("connection lifetime exceeded")

// lifeOver ends the connection's life: no new transaction starts (those
// queued go back, as at Quit); one whose final dot is out gets its reply,
// within the dot timeout, since cutting it could make a duplicate; any
// other is cut, its recipients handed back to go elsewhere.
func (c *Conn) lifeOver(now time.Time) {
	if c.st == connClosed {
		return
	}
	c.ending = true
	c.m.Quit()
	c.progress(now)
}

func (c *Conn) close(err error) {
	c.st = connClosed
	c.loop.StopTimer(c.timer)
	c.loop.StopTimer(c.life)
	c.loop.Close(c.fd)
	if c.tls != nil {
		c.tls.Close()
	}
	c.buf, c.plain = nil, nil
	if c.h.Closed != nil {
		c.h.Closed(c, err)
	}
}
