package smtpfeed

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"smtpfeed/cache"
	"smtpfeed/proto/routemap"
	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// Defaults of the engine's knobs.
const (
	// DefaultGrace is how long a host with less than a full transaction
	// waits for lookups still running, once no answer has come for that
	// long, before its connection starts: answers sent at once mostly
	// come back within one round trip of each other, so a short wait lets
	// domains that share the host share its transactions without waiting
	// for the slowest name server (see plan.go for the rest).
	DefaultGrace = 100 * time.Millisecond
	// DefaultGather is the most a host with less than a full transaction
	// waits while lookups are still being answered (each grace period
	// with an answer in it extends the wait; a backlog of queries not yet
	// sent extends it past Gather): a list's lookups end within
	// a second or two of each other, and a host started before its last
	// domain resolved carries the rest in more transactions. At 100,000
	// recipients on 2,000 hosts (feedbench's 100k, a 2-core machine) the
	// lookups took 0.7 s alone and 3.5 s beside the deliveries they let
	// start: hosts starting after 100 ms made 15,471 transactions for an
	// ideal 1,921, and the last delivery came later than with no host
	// starting before the last lookup (4.8 s against 3.6 s).
	DefaultGather = time.Second
	// DefaultIdleTime is how long an idle connection is kept for later
	// messages of the session once nothing pending needs its host.
	DefaultIdleTime = 10 * time.Second
	// DefaultMessageTimeout is the overall deadline of one message, under
	// sendmail's Timeout.datafinal (1 hour), so sendmail hears a 4.4.7
	// from us rather than timing us out.
	DefaultMessageTimeout = 50 * time.Minute
	// DefaultDeadlineGrace is how long an SMTP transaction already begun
	// when its message's deadline passes may still take to its verdict;
	// then its connection is cut (recipients past the final dot 4.4.2,
	// the others 4.4.7). With the 50-minute deadline every answer is out
	// within 55 minutes, under sendmail's Timeout.datafinal (1 hour) and
	// the MTA timeouts README asks for.
	DefaultDeadlineGrace = 5 * time.Minute
	// DefaultRaceDelay is the most a connect may stay unanswered before
	// the recipients waiting on it try their next MX address alongside
	// it (RFC 8305's idea, applied to MX fallback): a dead first MX
	// costs this, not the connect timeout, or less once the connects
	// seen say how long one takes here (connectrtt.go). The preferred
	// host is always tried first, and keeps the recipients if it
	// answers in time; 1.5 s is many round trips on any path a list
	// reaches.
	DefaultRaceDelay = 1500 * time.Millisecond
	// DefaultMaxConns caps connections when the descriptor limit does not
	// say otherwise. Measured at 100,000 recipients on 1,920 hosts: with
	// 1,000 the idle connections evicted for waiting hosts were opened
	// again as later recipients arrived (2,200 to 4,400 connections);
	// with 4,096 every host got one (make bench-feed -args "-n 4000").
	DefaultMaxConns = 4096
)

// Config is the engine's configuration.
type Config struct {
	Resolver       ResolverConfig
	SMTP           smtp.Config // HELO name, recipients per transaction (R), timeouts
	ConnectTimeout time.Duration
	ConnLifetime   time.Duration // see DefaultConnLifetime
	Source         netip.Addr    // local address of SMTP connections (-o)
	Port           uint16        // destination SMTP port; 0 means 25
	MaxConns       int           // connections at once (-n); 0: sized from the descriptor limit
	// HostConcurrency is the most connections to one MX host (-P);
	// 0: DefaultHostConcurrency.
	HostConcurrency int
	// ConnTransactions caps the SMTP transactions of one connection
	// (-reuse-limit); 0: no cap.
	ConnTransactions int
	// HostRate caps the recipients sent to one MX host a minute
	// (-rate); 0: no cap.
	HostRate int
	Backoff  time.Duration // see DefaultBackoff
	// Apart keeps domains in transactions of their own (-2); by default
	// recipients of domains whose current MX is the same host share them.
	Apart bool
	// VERP gives each recipient its own envelope sender, and so a
	// transaction of its own (-F -F); nil: the message's sender.
	VERP *smtp.VERP
	// TraceRcpt puts a Received field naming the recipient before the
	// message in every transaction of one recipient (-F).
	TraceRcpt bool
	// Fallback is a last-resort MX (-m): a host name looked up as a mail
	// domain is, or an address literal in brackets.
	Fallback       string
	Grace          time.Duration // see DefaultGrace
	Gather         time.Duration // see DefaultGather
	RaceDelay      time.Duration // see DefaultRaceDelay
	IdleTime       time.Duration // see DefaultIdleTime
	DownTime       time.Duration // how long an unreachable address is skipped
	MessageTimeout time.Duration // see DefaultMessageTimeout
	DeadlineGrace  time.Duration // see DefaultDeadlineGrace
	DeliverNothing bool          // -d D: resolve nothing, send nothing, answer 4xx
	Family         int           // 4 or 6 (-N): only addresses of that family; 0: both
	Log            Logger        // nil: no log
	// Self is this host's addresses, never connected to (mail to them
	// loops back into the MTA); nil: no address is.
	Self *Self
	TLS  TLSConfig // -T, -tls-policy
	// Routes is the static route map (-M; routes.go): where the mail of
	// the domains it names goes instead of their MX hosts. nil: none.
	Routes *routemap.Map
}

// MaxConnsFor sizes the connection limit from a descriptor limit, less
// the descriptors FDReserve keeps for everything else.
func MaxConnsFor(fdLimit, reserve uint64) int {
	if fdLimit <= reserve+1 {
		return 1
	}
	return int(min(fdLimit-reserve, DefaultMaxConns))
}

func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = 25
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.Gather <= 0 {
		c.Gather = DefaultGather
	}
	if c.HostConcurrency <= 0 {
		c.HostConcurrency = DefaultHostConcurrency
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.RaceDelay <= 0 {
		c.RaceDelay = DefaultRaceDelay
	}
	if c.IdleTime <= 0 {
		c.IdleTime = DefaultIdleTime
	}
	if c.MessageTimeout <= 0 {
		c.MessageTimeout = DefaultMessageTimeout
	}
	if c.DeadlineGrace <= 0 {
		c.DeadlineGrace = DefaultDeadlineGrace
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.SMTP.MaxRcpts <= 0 {
		c.SMTP.MaxRcpts = smtp.DefaultMaxRcpts
	}
	if c.Log == nil {
		c.Log = nopLogger{}
	}
	return c
}

// Engine delivers messages: it owns the resolver, the destinations (one
// per MX host), the connection pool and the reachability cache, all on
// the loop's goroutine. It outlives messages, so later messages of a
// session find the caches warm and connections open.
type Engine struct {
	loop       *reactor.Loop
	cfg        Config
	res        *Resolver
	down       *cache.Hosts
	tls        *tlsState
	dests      map[netip.Addr]*dest
	flows      map[string]*flow // by MX host name
	rand       *rand.Rand       // back-off jitter
	pool       pool
	plan       plan // the routing rules' counters (plan.go)
	deliveries map[*delivery]struct{}
	nextID     int
	fallback   *MXResult
	stopping   bool   // USR1 or TERM: nothing new starts
	readBuf    []byte // shared by every SMTP connection's reads
	stats      EngineStats
	connects   rttEstimate // how long connects take: the race delay (connectrtt.go)
	// notedPrivate are the private addresses already logged.
	notedPrivate map[netip.Addr]bool
}

// EngineStats counts what the engine did, for the per-message summary and the
// benchmarks.
type EngineStats struct {
	Connections int // connects started
	// Envelopes counts the envelopes (one message for the recipients
	// that share a host) handed to connections; each goes out as one or
	// more SMTP transactions of at most -R recipients.
	Envelopes    int
	Reused       int // envelopes put on a connection that had carried one before
	Transactions int // SMTP transactions begun (MAIL sent)
	Unreachable  int // addresses marked down
	Raced        int // connects still unanswered after the race delay
	// Throttled counts the throttling replies (throttle.go), Retried
	// the recipients they sent back to wait out a back-off;
	// PeakHostLanes is the most connections one MX host had at once.
	Throttled, Retried, PeakHostLanes int
	// TLS and Plaintext count the connections whose first transaction
	// began inside TLS, or without it; TLSBroken the handshakes that
	// failed (the host then got plaintext).
	TLS, Plaintext, TLSBroken int
	// HandshakeCPU is the worker time the TLS connections' handshakes
	// took, HandshakeTime their wall time (round trips included).
	HandshakeCPU, HandshakeTime time.Duration
}

// NewEngine makes an engine on loop.
func NewEngine(loop *reactor.Loop, cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	e := &Engine{
		loop: loop, cfg: cfg,
		down:       cache.NewHosts(cfg.DownTime),
		dests:      make(map[netip.Addr]*dest),
		flows:      make(map[string]*flow),
		rand:       cfg.Resolver.Rand,
		deliveries: make(map[*delivery]struct{}),
	}
	if e.rand == nil {
		var seed [32]byte
		crand.Read(seed[:])
		e.rand = rand.New(rand.NewChaCha8(seed))
	}
	e.pool.e, e.pool.limit = e, cfg.MaxConns
	e.tls = newTLSState(cfg.TLS, cfg.DownTime)
	e.plan = newPlan(e)
	e.readBuf = make([]byte, readBufferSize)
	if !cfg.DeliverNothing {
		res, err := NewResolver(loop, cfg.Resolver)
		if err != nil {
			return nil, err
		}
		e.res = res
		res.SetStallHook(e.plan.lookupsStalled)
	}
	return e, nil
}

// Resolver is the engine's resolver (nil when delivering nothing).
func (e *Engine) Resolver() *Resolver { return e.res }

// dnsStats is the resolver's counters; zero with -d D, which makes no
// resolver.
func (e *Engine) dnsStats() Stats {
	if e.res == nil {
		return Stats{}
	}
	return e.res.Stats()
}

// Stats reports the engine's counters.
func (e *Engine) Stats() EngineStats { return e.stats }

// Message is one message to deliver.
type Message struct {
	From     string   // reverse path, "" for <>
	Rcpts    []string // forward paths, local@domain; read until the last answer, so unchanged till then
	Data     []byte   // content as the caller gave it
	SMTPUTF8 bool
	// EightBit: the caller said BODY=8BITMIME. A server with 8BITMIME is
	// told so; one without gets the 7-bit form (see smtp.Message.SevenBit).
	EightBit bool
	// DSN (RFC 3461), passed on as given to servers that offer DSN:
	// RET= and ENVID= (xtext), "" for none; each recipient's NOTIFY= and
	// ORCPT=, by index as Rcpts, nil when no recipient has any (see
	// dsn.go).
	Ret, EnvID string
	RcptDSN    []smtp.RecipientDSN
}

// Delivery is a message in hand.
type Delivery struct{ j *delivery }

// Deliver starts delivering m. answer is called once per recipient, from
// the loop, as soon as its fate is known; done once all are answered.
func (e *Engine) Deliver(m *Message, answer func(i int, o Outcome), done func()) *Delivery {
	e.nextID++
	j := newDelivery(e, e.nextID, m, answer, done)
	e.deliveries[j] = struct{}{}
	j.start(e.loop.Now())
	return &Delivery{j: j}
}

// Cancel stops a delivery whose caller is gone: recipients not yet handed
// to a connection are answered 451 4.3.2 at once (nobody reads it) and
// never sent; transactions already under way run to their verdict, since
// a message half sent cannot be recalled.
func (d *Delivery) Cancel() {
	j := d.j
	if _, live := j.e.deliveries[j]; !live {
		return
	}
	j.cancel()
}

// Idle reports whether no message is in progress.
func (e *Engine) Idle() bool { return len(e.deliveries) == 0 }

// Drain stops the engine taking on work (USR1): every recipient not yet
// handed to a connection is answered 451 4.3.2 now, transactions in
// progress run to their verdict, connections QUIT once idle, and later
// messages are answered 4.3.2 at once.
func (e *Engine) Drain() {
	e.stopping = true
	for _, f := range e.flows {
		f.stop()
	}
	for _, d := range e.dests {
		if d.grace != nil {
			e.loop.StopTimer(d.grace)
			d.grace = nil
		}
		d.waiting = nil
	}
	e.pool.wanting = nil
	for j := range e.deliveries {
		j.cancel()
	}
	e.Shutdown()
}

// Shutdown quits every connection (idle ones at once, busy ones once
// their transactions end) and stops the resolver.
func (e *Engine) Shutdown() {
	for _, d := range e.dests {
		for _, l := range slices.Clone(d.lanes) { // a Quit may close, and take its lane off
			l.conn.Quit()
		}
	}
	if e.res != nil {
		e.res.Close()
	}
}

// Terminate is TERM: Drain, and close at once every connection that is
// not waiting for a final dot's reply, its recipients answered 451 4.3.2
// as they go back. A connection whose dot is out keeps going to that
// reply (bounded by the dot timeout), then QUITs: cutting it would leave
// its recipients possible duplicates, which the caller would send again.
func (e *Engine) Terminate(why string) {
	e.Drain()
	for _, d := range e.dests {
		for _, l := range slices.Clone(d.lanes) {
			if !l.conn.AwaitingDot() {
				l.conn.Close(errors.New(why))
			}
		}
	}
}

// Abort drains the engine and closes every connection at once (a second
// TERM, or the caller gone):
// recipients in flight are answered as their connections fail, 451 4.3.2,
// or 451 4.4.2 where the message may already have arrived.
func (e *Engine) Abort(why string) {
	e.stopping = true
	e.Drain()
	for _, d := range e.dests {
		for _, l := range slices.Clone(d.lanes) {
			l.conn.Close(errors.New(why))
		}
	}
}

// dest returns the destination for an address, making it when new.
func (e *Engine) dest(name string, addr netip.Addr) *dest {
	d := e.dests[addr]
	if d == nil {
		d = &dest{e: e, name: name, addr: addr, flow: e.flowFor(name)}
		d.flow.dests = append(d.flow.dests, d)
		e.dests[addr] = d
		e.notePrivate(name, addr)
	}
	return d
}

// markDown records an unreachable address in the reachability cache.
func (e *Engine) markDown(addr netip.Addr, why string) {
	e.stats.Unreachable++
	e.down.MarkDown(addr, why, e.loop.Now())
}

func (e *Engine) isDown(addr netip.Addr) bool {
	_, down := e.down.IsDown(addr, e.loop.Now())
	return down
}

// Open reports the connections open or being opened.
func (e *Engine) Open() int { return e.pool.open }

// Dump describes the engine's state for the log (SIGINT).
func (e *Engine) Dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "smtpfeed state: %d messages in hand, %d lookups running, %d destinations, %d connections (%d at most, %d waiting for one), %d addresses marked down; %+v",
		len(e.deliveries), e.plan.lookups, len(e.dests), e.pool.open, e.pool.limit, len(e.pool.wanting), e.down.Len(), e.stats)
	for j := range e.deliveries {
		fmt.Fprintf(&b, "\n  %s: %d recipients, %d unanswered, %d lookups running", j.ID(), len(j.rcpts), j.left, j.lookups)
	}
	for _, d := range e.dests {
		if len(d.lanes) == 0 && len(d.waiting) == 0 {
			continue
		}
		var connecting, idle, busy, txns int
		for _, l := range d.lanes {
			switch {
			case l.conn.Connecting():
				connecting++
			case l.conn.Idle():
				idle++
			default:
				busy++
			}
			txns += len(l.inflight)
		}
		fmt.Fprintf(&b, "\n  %s[%s]: %d connections (%d connecting, %d idle, %d busy; %s), %d waiting, %d envelopes in flight",
			d.name, d.addr, len(d.lanes), connecting, idle, busy, d.flow.String(), len(d.waiting), txns)
	}
	return b.String()
}
