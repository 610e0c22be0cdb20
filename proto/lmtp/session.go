package lmtp

import "bytes"

// Config is what the session needs before the caller connects.
type Config struct {
	Hostname string // in the greeting and LHLO reply
	MaxSize  int64  // SIZE advertised and enforced; 0 means DefaultMaxSize. The whole message is held in memory.
	MaxRcpts int    // recipients per transaction; 0 means DefaultMaxRcpts
}

// transaction is what MAIL and RCPT have gathered so far.
type transaction struct {
	from     Path
	eightBit bool
	smtpUTF8 bool
	ret      string // RET=, "" for none
	envID    string // ENVID=, "" for none
	rcpts    rcptList
	dsn      dsnList // NOTIFY= and ORCPT= of the recipients in rcpts
}

// Session is the LMTP server machine of one connection. It does no I/O:
// see the package doc for how a driver runs it.
type Session struct {
	cfg     Config
	st      state
	in      []byte // caller bytes not yet consumed
	discard bool   // within an over-long command line: skip to its LF
	eof     bool   // the caller closed its side
	out     output
	tx      transaction
	body    body

	seq      int
	ready    *Message // handed out by the next call to Next
	cur      *Message // the message whose answers are owed
	rcpts    int      // recipients of cur
	held     []held   // cur's answers given but not yet queued, by RCPT index; made when one must wait
	lastHeld string   // the text of the answer held last: see hold
	owed     int      // answers not yet given for cur
	written  int      // answers of cur written, a prefix in RCPT order
}

// NewSession starts a session: the greeting is queued in Output.
func NewSession(cfg Config) *Session {
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.MaxRcpts <= 0 {
		cfg.MaxRcpts = DefaultMaxRcpts
	}
	s := &Session{cfg: cfg}
	s.out.line("220 " + cfg.Hostname + " LMTP smtpfeed ready")
	return s
}

// Feed hands the session bytes from the caller, split anywhere. Bytes fed
// after QUIT or EOF are ignored.
func (s *Session) Feed(p []byte) {
	if s.st == stateClosed || s.eof || len(p) == 0 {
		return
	}
	if s.st == stateData && len(s.in) == 0 {
		// The common case for a large message: read it without
		// buffering it twice.
		n, end := s.body.feed(p)
		p = p[n:]
		if end {
			s.endData()
		}
	}
	s.in = append(s.in, p...)
	s.run()
}

// EOF reports that the caller closed its side. Commands already fed are
// still answered; a message cut off is dropped.
func (s *Session) EOF() {
	s.eof = true
	s.run()
}

// Abandoned reports a caller that closed its side while answers are
// still owed and without a QUIT among what it sent: nothing is waiting
// for those answers any more (an MTA that means to read them sends QUIT
// before it closes), so the driver may stop the work they are about.
func (s *Session) Abandoned() bool {
	if !s.eof || s.st != stateAnswer || s.owed == 0 {
		return false
	}
	// A pipelined QUIT waits in the buffer until the answers are written.
	for _, line := range bytes.Split(s.in, []byte("\n")) {
		if bytes.EqualFold(bytes.TrimSpace(line), []byte("QUIT")) {
			return false
		}
	}
	return true
}

// Output is what should be written to the caller next. The slice is valid
// until the next call into the session.
func (s *Session) Output() []byte { return s.out.bytes() }

// Wrote reports that n bytes of Output went out.
func (s *Session) Wrote(n int) {
	s.out.advance(n)
	s.flushAnswers()
	s.run()
}

// WantInput reports whether the driver should read from the caller: the
// session is not over and holds less than maxBuffered unread bytes.
func (s *Session) WantInput() bool {
	return s.st != stateClosed && !s.eof && len(s.in) < maxBuffered
}

// Done reports a session over: QUIT answered, or the caller gone with
// every answer given, and everything written.
func (s *Session) Done() bool {
	return s.st == stateClosed && s.out.pending() == 0
}

// run consumes input as far as the state allows.
func (s *Session) run() {
	for {
		switch s.st {
		case stateClosed, stateAnswer:
			return
		case stateData:
			n, end := s.body.feed(s.in)
			s.consume(n)
			if end {
				s.endData()
				continue
			}
			if s.eof {
				s.to(stateClosed) // a partial message is never delivered
			}
			return
		}
		if s.out.pending() >= maxOutput {
			return
		}
		if !s.nextLine() {
			if s.eof {
				s.to(stateClosed) // a partial command line is dropped
			}
			return
		}
	}
}

// Phase is what the caller is in the middle of sending, for bounds on
// how long each may take.
type Phase uint8

const (
	PhaseNone    Phase = iota // between commands, or nothing owed by the caller
	PhaseCommand              // part of a command line is in
	PhaseData                 // message data, from the 354 to the final dot
)

// Phase reports what the caller is sending now. A caller that trickles a
// byte at a time stays in one phase however often it sends.
func (s *Session) Phase() Phase {
	switch {
	case s.st == stateData:
		return PhaseData
	case s.st == stateClosed || s.st == stateAnswer:
		return PhaseNone
	case len(s.in) > 0 || s.discard:
		return PhaseCommand
	}
	return PhaseNone
}

// nextLine handles the next command line if a whole one is buffered, and
// reports whether it did anything.
func (s *Session) nextLine() bool {
	i := bytes.IndexByte(s.in, '\n')
	if s.discard {
		if i < 0 {
			s.consume(len(s.in))
			return false
		}
		s.consume(i + 1)
		s.discard = false
		return true
	}
	if i < 0 {
		if len(s.in) < MaxCommandLine {
			return false
		}
		// No LF within the limit: whatever ends this line, it is too
		// long. Answer now and skip the rest when it comes.
		s.consume(len(s.in))
		s.discard = true
		s.reply(500, "5.5.2", "line too long")
		return true
	}
	if i+1 > MaxCommandLine {
		s.consume(i + 1)
		s.reply(500, "5.5.2", "line too long")
		return true
	}
	line := s.in[:i]
	s.consume(i + 1)
	s.command(line)
	return true
}

// consume drops n bytes of input.
func (s *Session) consume(n int) {
	s.in = s.in[n:]
	if len(s.in) == 0 {
		s.in = nil
	}
}

func (s *Session) reply(code int, enhanced, text string) {
	s.out.reply(Reply{Code: code, Enhanced: enhanced, Text: text})
}
