package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The SMTP receiver.
//
// It is written here instead of using go-smtp because of the delay rule:
// a reply must leave no earlier than (arrival of the command's bytes + the
// host's RTT), and all commands that arrived in one write must get their
// replies together after one RTT. go-smtp reads one command at a time and
// writes its reply at once, so it can neither timestamp the bytes as they
// arrive nor hold back a pipelined group's replies as one. Here a reader
// goroutine stamps every read, and the session answers everything in that
// read with one write at stamp + RTT.

// chunk is the bytes of one read and when they arrived.
type chunk struct {
	b  []byte
	at time.Time
}

const (
	maxCommandLine = 4096    // longer command lines get 500
	maxDataLine    = 1 << 20 // longer data lines make the message too big
	idleTimeout    = 5 * time.Minute
	// readBuffer is one read's most. A session's reader reuses it and
	// passes on a copy of what came: a fresh buffer per read, cleared by
	// the runtime, cost a world of 100,000 recipients a fifth of its
	// CPU, most reads being a few commands long.
	readBuffer = 32 << 10
)

type session struct {
	srv  *hosts
	h    *Host
	addr netip.Addr // the host's address the client connected to
	c    net.Conn
	w    io.Writer // c, or the TLS session over it
	done chan struct{}
	// tlsVersion is set once a STARTTLS handshake succeeded.
	tlsVersion string
	id         uint64
	rtt        time.Duration
	out        []byte
	quit       bool
	// starting: STARTTLS was accepted; the 220 goes out, then the
	// handshake.
	starting bool
	// gate is the host's throttle gate while the session holds a slot
	// in it; nil once given back (release).
	gate *gate
	// closing is the kind of 421 the session ends with, "" for none.
	closing string

	greeted, esmtp bool
	inTx           bool
	from           string
	rcpts          []string
	txn            int
	data           bool
	hash           hash.Hash
	size           int64
	tooBig         bool

	// mailParams is MAIL's parameters as received; rcptParams each
	// accepted RCPT's, by index as rcpts, nil while all are "".
	mailParams string
	rcptParams []string
}

func newSession(s *hosts, h *Host, c net.Conn, id uint64, addr netip.Addr) *session {
	return &session{srv: s, h: h, addr: addr, c: c, w: c, id: id, rtt: h.RTT, done: make(chan struct{})}
}

// run serves the connection until QUIT, EOF, an idle timeout or Close.
func (ss *session) run(accepted time.Time) {
	chunks := make(chan chunk, 16)
	done := ss.done
	defer close(done)
	go func() {
		defer close(chunks)
		buf := make([]byte, readBuffer)
		for {
			ss.c.SetReadDeadline(time.Now().Add(idleTimeout))
			n, err := ss.c.Read(buf)
			if n > 0 {
				select {
				case chunks <- chunk{bytes.Clone(buf[:n]), time.Now()}:
				case <-done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	ss.reply(220, "", ss.h.Name+" ESMTP simnet")
	if !ss.flush(accepted) {
		return
	}
	ss.srv.stats.mark(PhaseGreeting, time.Now())
	var partial []byte
	in := (<-chan chunk)(chunks)
	for {
		ch, ok := <-in // not range: STARTTLS replaces in
		if !ok {
			return
		}
		partial = append(partial, ch.b...)
		for !ss.quit && !ss.starting {
			i := bytes.IndexByte(partial, '\n')
			if i < 0 {
				break
			}
			ss.line(partial[:i+1])
			partial = partial[i+1:]
		}
		if ss.starting {
			// Whatever came after STARTTLS is dropped (RFC 3207 §4.2);
			// the raw chunks now feed the handshake.
			ss.starting = false
			if !ss.flush(ch.at) {
				return
			}
			partial = partial[:0]
			in = ss.startTLS(chunks)
			go func() { // the TLS reader ends when the session does
				<-done
				ss.c.Close()
			}()
			continue
		}
		if !ss.quit && ss.lineTooLong(len(partial)) {
			partial = partial[:0]
		}
		if len(ss.out) > 0 && !ss.flush(ch.at) {
			return
		}
		if ss.closing != "" {
			ss.srv.stats.sent421(ss.h, ss.closing, time.Now())
		}
		if ss.quit {
			return
		}
		partial = append([]byte(nil), partial...) // do not pin the old read buffers
	}
}

// refuse sends a connection beyond the host's MaxConns its 421 greeting,
// at the same delay as a 220, and ends it.
func (ss *session) refuse(accepted time.Time) {
	enh := ""
	if ss.h.Enhanced {
		enh = "4.7.0 "
	}
	ss.out = fmt.Appendf(ss.out, "421 %s%s too many connections, try again later\r\n", enh, ss.h.Name)
	if ss.flush(accepted) {
		ss.srv.stats.sent421(ss.h, TooManyConnections, time.Now())
	}
}

// release gives the session's slot in its host's gate back, once.
func (ss *session) release() {
	if ss.gate != nil {
		ss.gate.leave()
		ss.gate = nil
		ss.srv.stats.leave()
	}
}

// lineTooLong handles an unfinished line that is already too long.
func (ss *session) lineTooLong(n int) bool {
	if ss.data {
		if n > maxDataLine {
			ss.tooBig = true
			return true
		}
		return false
	}
	if n > maxCommandLine {
		ss.reply(500, "5.5.2", "Line too long")
		return true
	}
	return false
}

// flush writes the pending replies at arrival + RTT.
func (ss *session) flush(arrived time.Time) bool {
	if d := time.Until(arrived.Add(ss.rtt)); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ss.srv.stop:
			t.Stop()
			return false
		}
	}
	ss.c.SetWriteDeadline(time.Now().Add(time.Minute))
	_, err := ss.w.Write(ss.out)
	ss.out = ss.out[:0]
	return err == nil
}

// reply queues one reply line; the enhanced code is dropped on hosts that
// do not advertise ENHANCEDSTATUSCODES.
func (ss *session) reply(code int, enh, text string) {
	ss.out = strconv.AppendInt(ss.out, int64(code), 10)
	ss.out = append(ss.out, ' ')
	if enh != "" && ss.h.Enhanced && ss.esmtp {
		ss.out = append(ss.out, enh...)
		ss.out = append(ss.out, ' ')
	}
	ss.out = append(ss.out, text...)
	ss.out = append(ss.out, '\r', '\n')
}

// line handles one line, LF included.
func (ss *session) line(l []byte) {
	l = bytes.TrimSuffix(bytes.TrimSuffix(l, []byte("\n")), []byte("\r"))
	if ss.data {
		ss.dataLine(l)
		return
	}
	ss.command(string(l))
}

// dataLine un-dot-stuffs a message line and hashes it with CRLF.
func (ss *session) dataLine(l []byte) {
	if len(l) == 1 && l[0] == '.' {
		ss.endData()
		return
	}
	if len(l) > 0 && l[0] == '.' {
		l = l[1:]
	}
	ss.size += int64(len(l)) + 2
	if ss.size > ss.srv.world.Config.MaxSize {
		ss.tooBig = true
	}
	if !ss.tooBig {
		ss.hash.Write(l)
		ss.hash.Write([]byte("\r\n"))
	}
}

func (ss *session) endData() {
	ss.data = false
	if ss.tooBig {
		ss.reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
	} else {
		sum := hex.EncodeToString(ss.hash.Sum(nil))
		d := Delivery{From: ss.from, Host: ss.h.Name, Addr: ss.addr, Conn: ss.id, Txn: ss.txn, Hash: sum, TLS: ss.tlsVersion, MailParams: ss.mailParams}
		ss.srv.stats.txn(d, ss.rcpts, ss.rcptParams, time.Now())
		ss.reply(250, "2.0.0", fmt.Sprintf("Ok: queued as %X%04X", ss.id, ss.txn))
	}
	ss.reset()
}

func (ss *session) reset() {
	ss.inTx, ss.from, ss.rcpts, ss.data, ss.hash, ss.size, ss.tooBig = false, "", nil, false, nil, 0, false
	ss.mailParams, ss.rcptParams = "", nil
}

func (ss *session) command(l string) {
	verb, arg, _ := strings.Cut(l, " ")
	switch strings.ToUpper(verb) {
	case "EHLO":
		if ss.h.HeloOnly {
			ss.reply(502, "", "Command not implemented")
			return
		}
		ss.reset()
		ss.greeted, ss.esmtp = true, true
		ext := []string{ss.h.Name + " Hello " + arg}
		if ss.h.Pipelining {
			ext = append(ext, "PIPELINING")
		}
		if ss.h.EightBitMIME {
			ext = append(ext, "8BITMIME")
		}
		if ss.h.Size {
			ext = append(ext, "SIZE "+strconv.FormatInt(ss.srv.world.Config.MaxSize, 10))
		}
		if ss.h.Enhanced {
			ext = append(ext, "ENHANCEDSTATUSCODES")
		}
		if ss.h.DSN {
			ext = append(ext, "DSN")
		}
		if ss.h.StartTLS && ss.tlsVersion == "" {
			ext = append(ext, "STARTTLS")
		}
		for i, e := range ext {
			sep := "-"
			if i == len(ext)-1 {
				sep = " "
			}
			ss.out = append(ss.out, "250"+sep+e+"\r\n"...)
		}
	case "HELO":
		ss.reset()
		ss.greeted, ss.esmtp = true, false
		ss.reply(250, "", ss.h.Name)
	case "MAIL":
		ss.mail(arg)
	case "RCPT":
		ss.rcpt(arg)
	case "DATA":
		switch {
		case !ss.inTx:
			ss.reply(503, "5.5.1", "Error: need MAIL command")
		case len(ss.rcpts) == 0:
			ss.reply(554, "5.5.1", "Error: no valid recipients")
		default:
			ss.data, ss.hash, ss.size = true, sha256.New(), 0
			ss.reply(354, "", "End data with <CR><LF>.<CR><LF>")
		}
	case "STARTTLS":
		switch {
		case !ss.h.StartTLS || ss.tlsVersion != "" || !ss.esmtp:
			ss.reply(502, "5.5.1", "Error: command not implemented")
		case ss.inTx:
			ss.reply(503, "5.5.1", "Error: MAIL transaction in progress")
		default:
			ss.reset()
			ss.greeted = false // RFC 3207 §4.2: the client starts again with EHLO
			ss.reply(220, "2.0.0", "Ready to start TLS")
			ss.starting = true
		}
	case "RSET":
		ss.reset()
		ss.reply(250, "2.0.0", "Ok")
	case "NOOP":
		ss.reply(250, "2.0.0", "Ok")
	case "VRFY":
		ss.reply(252, "2.0.0", "Cannot VRFY user")
	case "QUIT":
		ss.reply(221, "2.0.0", "Bye")
		ss.quit = true
		ss.release()
	default:
		ss.reply(500, "5.5.2", "Error: command not recognized")
	}
}

// path parses "FROM:<addr> params" or "TO:<addr> params".
func path(arg, prefix string) (addr string, params []string, ok bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", nil, false
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if !strings.HasPrefix(rest, "<") {
		return "", nil, false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", nil, false
	}
	return rest[1:end], strings.Fields(rest[end+1:]), true
}

func (ss *session) mail(arg string) {
	if !ss.greeted {
		ss.reply(503, "5.5.1", "Error: send HELO/EHLO first")
		return
	}
	if ss.inTx {
		ss.reply(503, "5.5.1", "Error: nested MAIL command")
		return
	}
	if ss.h.MsgsPerConn > 0 && ss.txn >= ss.h.MsgsPerConn {
		ss.reply(421, "4.7.0", ss.h.Name+" too many messages on this connection, try again later")
		ss.closing, ss.quit = TooManyMessages, true
		ss.release()
		return
	}
	from, params, ok := path(arg, "FROM:")
	if !ok {
		ss.reply(501, "5.5.4", "Syntax: MAIL FROM:<address>")
		return
	}
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		switch k = strings.ToUpper(k); {
		case k == "SIZE" && ss.esmtp && ss.h.Size:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				ss.reply(501, "5.5.4", "Bad SIZE parameter")
				return
			}
			if n > ss.srv.world.Config.MaxSize {
				ss.reply(552, "5.3.4", "Message size exceeds fixed limit")
				return
			}
		case k == "BODY" && ss.esmtp && (strings.EqualFold(v, "7BIT") || strings.EqualFold(v, "8BITMIME") && ss.h.EightBitMIME):
		case (k == "RET" || k == "ENVID") && ss.esmtp && ss.h.DSN && v != "":
			// Recorded as received (mailParams), for tests to compare.
		default:
			ss.reply(555, "5.5.4", "Unsupported option: "+p)
			return
		}
	}
	ss.inTx, ss.from, ss.rcpts = true, from, nil
	ss.mailParams, ss.rcptParams = strings.Join(params, " "), nil
	ss.txn++
	ss.reply(250, "2.1.0", "Ok")
}

func (ss *session) rcpt(arg string) {
	if !ss.inTx {
		ss.reply(503, "5.5.1", "Error: need MAIL command")
		return
	}
	to, params, ok := path(arg, "TO:")
	if !ok {
		ss.reply(501, "5.5.4", "Syntax: RCPT TO:<address>")
		return
	}
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		if k = strings.ToUpper(k); (k != "NOTIFY" && k != "ORCPT") || !ss.esmtp || !ss.h.DSN || v == "" {
			ss.reply(555, "5.5.4", "Unsupported option: "+p)
			return
		}
	}
	if ss.h.RcptLimit > 0 && len(ss.rcpts) >= ss.h.RcptLimit {
		ss.reply(452, "4.5.3", "Error: too many recipients")
		return
	}
	local, domain, ok := cutLast(strings.ToLower(to), "@")
	w := ss.srv.world
	var r *Recipient
	accepted := to // what the delivery records
	switch {
	case ok && strings.HasPrefix(domain, "[") && ss.ownLiteral(domain):
		r = ss.literalUser(local)
	case ok && ss.srv.serves[ss.h][domain]:
		r = w.rcpts[local+"@"+w.names[domain].Name] // user@cname-target is the alias's user
		if r != nil {
			accepted = r.Addr
		}
	default:
		ss.reply(550, "5.7.1", "<"+to+">: Relay access denied")
		return
	}
	switch {
	case r == nil:
		ss.reply(550, "5.1.1", "<"+to+">: Recipient address rejected: User unknown")
	case strings.HasPrefix(local, "defer-"):
		ss.reply(450, "4.2.0", "<"+to+">: Recipient address rejected: try again later")
	case strings.HasPrefix(local, "bounce-"):
		ss.reply(550, "5.1.1", "<"+to+">: Recipient address rejected: mailbox unavailable")
	case ss.h.RcptRate > 0 && !ss.srv.gates[ss.h.Index].take(ss.h.RcptRate, time.Now()):
		ss.srv.stats.rateLimited(ss.h)
		ss.reply(450, "4.7.1", "<"+to+">: rate limited, try again later")
	default:
		if len(params) > 0 && ss.rcptParams == nil {
			ss.rcptParams = make([]string, len(ss.rcpts), len(ss.rcpts)+1)
		}
		if ss.rcptParams != nil {
			ss.rcptParams = append(ss.rcptParams, strings.Join(params, " "))
		}
		ss.rcpts = append(ss.rcpts, accepted)
		ss.reply(250, "2.1.5", "Ok")
	}
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
