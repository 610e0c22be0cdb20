package smtp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxRcpts is the number of recipients per transaction RFC 5321
// §4.5.3.1.8 obliges every server to accept.
const DefaultMaxRcpts = 100

// Config is what the client needs to know before it connects.
type Config struct {
	Hostname string // our name in EHLO/HELO
	MaxRcpts int    // recipients per transaction; 0 means DefaultMaxRcpts
	Timeouts Timeouts
	// StartTLS: send STARTTLS when the server offers it, and hand the
	// connection to the caller for the handshake (Handshaking, Secured).
	// A server that refuses it gets the session in plaintext.
	StartTLS bool
}

// expect is one reply the client is owed, in the order the commands went
// out: pipelined replies are matched by position, never by code or text.
type expect struct {
	st   state
	tx   *transaction
	rcpt int   // index into tx.rcpts for stateRcpt
	end  int64 // output offset the command ends at: no reply before it is written
}

// await records that the command just queued is owed a reply.
func (c *Client) await(st state, ch *transaction, rcpt int) {
	c.expects = append(c.expects, expect{st: st, tx: ch, rcpt: rcpt, end: c.out.queued})
}

// Client is the SMTP client machine of one connection. It does no I/O:
// the caller feeds it the server's bytes (Feed), writes what Output
// returns and reports how much went out (Wrote), calls Timeout at the
// Deadline and Lost when the connection breaks, and collects Results.
type Client struct {
	cfg      Config
	limit    int // recipients per transaction, lowered when the server asks
	ext      Extensions
	replies  ReplyReader
	out      output
	expects  []expect
	queue    []*queued
	cur      *transaction   // the transaction whose MAIL/RCPT/DATA replies are owed
	inflight []*transaction // every transaction not yet ended, oldest first
	body     *transaction   // the transaction whose message is being written
	needRset bool           // the last transaction ended without a final dot
	quit     bool           // Quit was called: no new transaction starts
	quitSent bool           // QUIT is queued: the session ends once it is written
	begun    int            // SMTP transactions begun since TakeBegun last looked
	// handshaking: STARTTLS was accepted and the caller's TLS handshake
	// runs; secured: it succeeded and the session restarted inside TLS.
	handshaking, secured bool
	tlsRefused           *Reply // the server's answer when it refused STARTTLS
	admit                func(tx *Envelope, rcpt int) error
	since                time.Time // start of the current wait
	results              []Result
	err                  *ConnError
	closed               bool
}

// NewClient starts the machine on a connection that has just been made:
// it waits for the greeting.
func NewClient(cfg Config, now time.Time) *Client {
	if cfg.MaxRcpts <= 0 {
		cfg.MaxRcpts = DefaultMaxRcpts
	}
	for s := range cfg.Timeouts {
		if cfg.Timeouts[s] <= 0 {
			cfg.Timeouts[s] = DefaultTimeouts[s]
		}
	}
	c := &Client{cfg: cfg, limit: cfg.MaxRcpts, since: now}
	c.await(stateGreeting, nil, 0)
	return c
}

// Extensions reports what the server advertised (zero before EHLO).
func (c *Client) Extensions() Extensions { return c.ext }

// Add queues a transaction. It may be called at any time before the
// connection ends; transactions run in the order added.
func (c *Client) Add(tx *Envelope) {
	j := &queued{tx: tx, pending: make([]int, len(tx.Rcpts))}
	for i := range j.pending {
		j.pending[i] = i
	}
	if c.closed {
		c.queue = append(c.queue, j)
		c.failJobs()
		return
	}
	c.queue = append(c.queue, j)
	if c.state() == stateIdle {
		c.startNext()
	}
}

// Idle reports a connection with nothing outstanding: every transaction
// added so far is done, and the connection can be reused or closed.
func (c *Client) Idle() bool { return c.state() == stateIdle }

// Done reports that the connection is over: failed, or QUIT written. A
// Quit while a transaction runs is not done until that transaction's
// replies are in and QUIT follows them.
func (c *Client) Done() bool { return c.closed || (c.quitSent && c.out.empty()) }

// Reusable reports whether another transaction may go on this connection.
func (c *Client) Reusable() bool { return !c.closed && !c.quit }

// TakeBegun reports how many SMTP transactions began (MAIL went into the
// output) since it was last called.
func (c *Client) TakeBegun() int {
	n := c.begun
	c.begun = 0
	return n
}

// ErrWithdrawn is the Err of the recipients Withdraw hands back.
var ErrWithdrawn = errors.New("withdrawn before its SMTP transaction began")

// Withdraw takes back the recipients of tx that no SMTP transaction has
// begun to carry: they come back as NextHost results with ErrWithdrawn
// (and so do any the server later refuses as too many). The SMTP
// transactions of tx already begun run to their verdict: cutting one
// after its final dot could only make a possible duplicate. The session
// itself goes on for the other transactions.
func (c *Client) Withdraw(tx *Envelope, why string) {
	if tx.withdrawn != nil {
		return
	}
	tx.withdrawn = &ConnError{Doing: why, Err: ErrWithdrawn}
	for k, j := range c.queue {
		if j.tx != tx {
			continue
		}
		c.handBack(tx, j.pending)
		c.queue = append(c.queue[:k:k], c.queue[k+1:]...)
		return
	}
}

// handBack returns recipients of a withdrawn transaction.
func (c *Client) handBack(tx *Envelope, rcpts []int) {
	for _, r := range rcpts {
		c.results = append(c.results, Result{Env: tx, Rcpt: r, Status: NextHost, Err: tx.withdrawn})
	}
}

// AwaitingDot reports a final dot written whose reply has not come: the
// message may already be delivered, so cutting the connection now would
// leave its recipients possible duplicates.
func (c *Client) AwaitingDot() bool {
	for _, ch := range c.inflight {
		if ch.dotSent {
			return true
		}
	}
	return false
}

// Err reports why the connection ended early, nil if it did not.
func (c *Client) Err() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// Results hands over the fates decided since the last call.
func (c *Client) Results() []Result {
	r := c.results
	c.results = nil
	return r
}

// Output is what should be written next; it shares the message's bytes.
func (c *Client) Output() [][]byte { return c.out.segs }

// Wrote reports that n bytes of Output went out.
func (c *Client) Wrote(n int, now time.Time) {
	if n <= 0 {
		return
	}
	c.out.advance(n)
	c.since = now
	if b := c.body; b != nil && c.out.written >= b.dotEnd {
		b.dotSent = true
		c.body = nil
	}
}

// Quit ends the session politely once it is idle: QUIT is written and its
// reply is not waited for.
func (c *Client) Quit() {
	if c.closed || c.quit {
		return
	}
	idle := c.state() == stateIdle
	c.quit = true
	// Transactions not yet begun will not be: their recipients go back.
	if len(c.queue) > 0 {
		why := &ConnError{Doing: "quitting", Err: errQuitting}
		for _, j := range c.queue {
			for _, r := range j.pending {
				c.results = append(c.results, Result{Env: j.tx, Rcpt: r, Status: NextHost, Err: why})
			}
		}
		c.queue = nil
	}
	if idle {
		c.sendQuit()
	}
}

var errQuitting = fmt.Errorf("session ended before the transaction began")

// sendQuit writes QUIT. Its reply is owed but never waited for: Done is
// true once QUIT is written, and a reply that still arrives is dropped.
func (c *Client) sendQuit() {
	c.quitSent = true
	c.out.command("QUIT")
	c.await(stateQuit, nil, 0)
}

// state is what the client waits for now.
func (c *Client) state() state {
	switch {
	case c.closed:
		return stateClosed
	case c.body != nil:
		return stateBody
	case c.handshaking:
		return stateTLS
	case len(c.expects) > 0:
		return c.expects[0].st
	case c.quit:
		return stateQuit
	}
	return stateIdle
}

// Deadline is when Timeout must be called; zero when nothing is awaited.
func (c *Client) Deadline() time.Time {
	s := c.state()
	switch s {
	case stateIdle, stateClosed:
		return time.Time{}
	case stateQuit:
		if c.out.empty() {
			return time.Time{}
		}
		return c.since.Add(c.cfg.Timeouts[s])
	}
	if !c.out.empty() && s != stateBody {
		// Commands still queued behind a full socket: the wait is a write.
		s = stateBody
	}
	return c.since.Add(c.cfg.Timeouts[s])
}

// Timeout ends the connection if its deadline has passed.
func (c *Client) Timeout(now time.Time) {
	d := c.Deadline()
	if d.IsZero() || now.Before(d) {
		return
	}
	c.fail(&ConnError{Doing: stateDoing[c.state()], Err: ErrTimeout})
}

// Connected restarts the greeting wait when the machine was made before
// the connect finished.
func (c *Client) Connected(now time.Time) { c.since = now }

// ConnectFailed ends a connection that never opened: every recipient goes
// back to the caller.
func (c *Client) ConnectFailed(err error) {
	c.fail(&ConnError{Doing: "connecting", Err: err})
}

// Lost reports that the connection broke or the server closed it.
func (c *Client) Lost(err error) {
	if c.closed {
		return
	}
	if c.Done() {
		c.closed = true
		return
	}
	if err == nil {
		err = errLost
	}
	c.fail(&ConnError{Doing: stateDoing[c.state()], Err: err})
}

var errLost = fmt.Errorf("connection closed by server")

// Feed takes bytes from the server.
func (c *Client) Feed(p []byte, now time.Time) {
	if c.closed {
		return
	}
	err := c.replies.Feed(p)
	for rep, ok := c.replies.Next(); ok && !c.closed; rep, ok = c.replies.Next() {
		c.since = now
		c.step(rep)
	}
	if err != nil && !c.closed {
		c.fail(&ConnError{Doing: stateDoing[c.state()], Err: err})
	}
}

// step is the transition function: one reply, matched to the oldest
// command still owed one.
func (c *Client) step(rep Reply) {
	if len(c.expects) == 0 {
		c.fail(&ConnError{Doing: stateDoing[c.state()], Err: protocolError("reply to no command", []byte(rep.String()))})
		return
	}
	e := c.expects[0]
	if e.end > c.out.written {
		// A server cannot answer what it has not received: a reply that
		// comes early belongs to nothing we sent.
		c.fail(&ConnError{Doing: stateDoing[e.st], Err: protocolError("reply to a command not yet sent", []byte(rep.String()))})
		return
	}
	c.expects = c.expects[1:]
	if rep.Code == 421 && e.st != stateQuit {
		// The server is closing the session, whatever it was asked.
		c.fail(&ConnError{Doing: stateDoing[e.st], Reply: rep})
		return
	}
	switch e.st {
	case stateGreeting:
		if rep.Code != 220 {
			c.fail(&ConnError{Doing: stateDoing[e.st], Reply: rep})
			return
		}
		c.out.command("EHLO " + c.cfg.Hostname)
		c.await(stateEHLO, nil, 0)
	case stateEHLO:
		switch {
		case rep.Code == 250:
			c.ext = ParseExtensions(rep)
			if c.cfg.StartTLS && c.ext.StartTLS && !c.secured {
				c.out.command("STARTTLS")
				c.await(stateStartTLS, nil, 0)
				return
			}
			c.ready()
		case rep.Permanent():
			c.out.command("HELO " + c.cfg.Hostname)
			c.await(stateHELO, nil, 0)
		default:
			c.fail(&ConnError{Doing: stateDoing[e.st], Reply: rep})
		}
	case stateHELO:
		if rep.Code != 250 {
			c.fail(&ConnError{Doing: stateDoing[e.st], Reply: rep})
			return
		}
		c.ready()
	case stateStartTLS:
		c.startTLSReply(rep)
	case stateMail:
		c.mailReply(e.tx, rep)
	case stateRcpt:
		c.rcptReply(e.tx, e.rcpt, rep)
	case stateData:
		c.dataReply(e.tx, rep)
	case stateDot:
		c.dotReply(e.tx, rep)
	case stateQuit:
		// Whatever the server says to QUIT changes nothing.
	case stateRset:
		if !rep.Positive() {
			c.fail(&ConnError{Doing: stateDoing[e.st], Reply: rep})
			return
		}
		c.afterTransaction()
	}
}

// startTLSReply: 220 hands the connection to the caller's handshake;
// any other answer leaves the session in plaintext, which the caller's
// policy (Admit) may not accept for every recipient.
func (c *Client) startTLSReply(rep Reply) {
	if rep.Code != 220 {
		c.tlsRefused = &rep
		c.ready()
		return
	}
	if c.replies.Buffered() {
		// Bytes sent before the handshake would be taken as if they came
		// inside it (RFC 3207 §4.2: the STARTTLS injection attack).
		c.fail(&ConnError{Doing: stateDoing[stateStartTLS], Err: protocolError("data after the STARTTLS reply", []byte(rep.String()))})
		return
	}
	c.handshaking = true
}

// Handshaking reports that STARTTLS was accepted: the caller now runs
// the TLS handshake on the connection, then calls Secured, or Lost with
// the handshake's error.
func (c *Client) Handshaking() bool { return c.handshaking && !c.closed }

// Secured reports the handshake done: the session starts again inside
// TLS with a new EHLO, forgetting what the server said before it (RFC
// 3207 §4.2).
func (c *Client) Secured(now time.Time) {
	if !c.Handshaking() {
		return
	}
	c.handshaking, c.secured = false, true
	c.ext = Extensions{}
	c.replies = ReplyReader{}
	c.since = now
	c.out.command("EHLO " + c.cfg.Hostname)
	c.await(stateEHLO, nil, 0)
}

// TLSRefused is the server's answer to STARTTLS when it was not 220.
func (c *Client) TLSRefused() *Reply { return c.tlsRefused }

// SetAdmit sets the check every recipient passes when its SMTP
// transaction is about to begin: one it fails comes back as a NextHost
// result with the check's error and is not sent (a TLS policy the
// session does not meet).
func (c *Client) SetAdmit(f func(tx *Envelope, rcpt int) error) { c.admit = f }

// ready: the session is open. A server that states its recipient limit
// (RFC 9422) gets transactions of that size from the start.
func (c *Client) ready() {
	if c.ext.RcptMax > 0 {
		c.limit = min(c.limit, c.ext.RcptMax)
	}
	c.afterTransaction()
}

// afterTransaction starts whatever comes next once nothing is owed.
func (c *Client) afterTransaction() {
	if len(c.expects) > 0 || c.closed {
		return
	}
	switch {
	case c.startNext():
	case c.quit:
		c.sendQuit()
	case c.needRset:
		// Leave the session clean for the next transaction, and learn now
		// rather than at reuse whether the server is still there.
		c.rset()
	}
}

// startNext puts the next transaction on the wire. It reports whether
// there was one.
func (c *Client) startNext() bool {
	if c.cur != nil || c.closed || c.quit {
		return false
	}
	for len(c.queue) > 0 && len(c.queue[0].pending) == 0 {
		c.queue = c.queue[1:]
	}
	if len(c.queue) == 0 {
		return false
	}
	if c.needRset {
		c.rset()
		if !c.ext.Pipelining {
			return true // lock-step: MAIL waits for RSET's reply
		}
	}
	j := c.queue[0]
	if c.admit != nil && !j.admitted {
		c.admitPending(j)
		if len(j.pending) == 0 {
			return c.startNext()
		}
	}
	n := min(c.limit, len(j.pending))
	if j.tx.VERP != nil {
		n = 1
	}
	ch := &transaction{tx: j.tx, rcpts: j.pending[:n:n], decided: make([]bool, n)}
	j.pending = j.pending[n:]
	if j.tx.Trace != nil && n == 1 {
		ch.trace = j.tx.Trace.field(j.tx.Rcpts[ch.rcpts[0]].Addr)
	}
	if rep, reason := c.refuseLocally(j.tx); reason != nil {
		for i := range ch.rcpts {
			c.decide(ch, i, Bounced, rep, reason)
		}
		return c.startNext()
	}
	c.cur = ch
	c.begun++
	c.inflight = append(c.inflight, ch)
	c.out.command(c.mailCommand(ch))
	c.await(stateMail, ch, 0)
	if c.ext.Pipelining {
		for i := range ch.rcpts {
			c.sendRcpt(ch, i)
		}
		c.out.command("DATA")
		c.await(stateData, ch, 0)
	}
	return true
}

// admitPending hands back the recipients of j the admit check refuses.
func (c *Client) admitPending(j *queued) {
	kept := j.pending[:0]
	for _, r := range j.pending {
		if err := c.admit(j.tx, r); err != nil {
			c.results = append(c.results, Result{Env: j.tx, Rcpt: r, Status: NextHost, Err: err})
			continue
		}
		kept = append(kept, r)
	}
	j.pending = kept
	j.admitted = true
}

func (c *Client) rset() {
	c.needRset = false
	c.out.command("RSET")
	c.await(stateRset, nil, 0)
}

func (c *Client) sendRcpt(ch *transaction, i int) {
	c.out.command(c.rcptCommand(ch.tx.Rcpts[ch.rcpts[i]]))
	c.await(stateRcpt, ch, i)
	ch.next = i + 1
}

// refuseLocally decides a transaction this server cannot take without
// asking it: an 8-bit message that cannot be made 7-bit for a server
// without 8BITMIME, a message over its SIZE limit (in the form it would
// get), or one that needs SMTPUTF8.
func (c *Client) refuseLocally(tx *Envelope) (Reply, error) {
	if rep, err := c.refuseEightBit(tx); err != nil {
		return rep, err
	}
	if size := c.outgoing(tx).Size; c.ext.MaxSize > 0 && size > c.ext.MaxSize {
		return Reply{Code: 552, Enhanced: EnhancedCode{5, 3, 4}, Lines: []string{"5.3.4 message too big for server"}},
			fmt.Errorf("message of %d octets is over the server's limit of %d", size, c.ext.MaxSize)
	}
	if tx.SMTPUTF8 && !c.ext.SMTPUTF8 {
		return Reply{Code: 553, Enhanced: EnhancedCode{5, 6, 7}, Lines: []string{"5.6.7 server does not support SMTPUTF8"}},
			fmt.Errorf("message needs SMTPUTF8 and the server does not offer it")
	}
	return Reply{}, nil
}

func (c *Client) mailCommand(ch *transaction) string {
	tx := ch.tx
	var b strings.Builder
	b.WriteString("MAIL FROM:<")
	if tx.VERP != nil {
		b.WriteString(tx.VERP.Sender(tx.From, tx.Rcpts[ch.rcpts[0]].Addr))
	} else {
		b.WriteString(tx.From)
	}
	b.WriteByte('>')
	if c.ext.Size {
		size := c.outgoing(tx).Size
		if ch.trace != nil {
			size += int64(len(ch.trace))
		}
		b.WriteString(" SIZE=")
		b.WriteString(strconv.FormatInt(size, 10))
	}
	if c.ext.EightBitMIME && (tx.Msg.EightBit || tx.Msg.Declared8Bit) {
		b.WriteString(" BODY=8BITMIME")
	}
	if c.ext.SMTPUTF8 && tx.SMTPUTF8 {
		b.WriteString(" SMTPUTF8")
	}
	if c.ext.DSN {
		if tx.Ret != "" {
			b.WriteString(" RET=" + tx.Ret)
		}
		if tx.EnvID != "" {
			b.WriteString(" ENVID=" + tx.EnvID)
		}
	}
	return b.String()
}

func (c *Client) rcptCommand(r Recipient) string {
	s := "RCPT TO:<" + r.Addr + ">"
	if c.ext.DSN && r.DSN != nil {
		if r.DSN.Notify != "" {
			s += " NOTIFY=" + r.DSN.Notify
		}
		if r.DSN.ORcpt != "" {
			s += " ORCPT=" + r.DSN.ORcpt
		}
	}
	return s
}
