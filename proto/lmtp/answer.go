package lmtp

import (
	"errors"
	"fmt"
	"strconv"
)

// Message is one complete transaction, read to its final dot.
type Message struct {
	Seq      int      // 1, 2, ... within the session, counting messages handed out
	From     Path     // the reverse path; Null for <>
	Rcpts    []string // accepted recipients' addresses (Path.Addr), in RCPT order: Answer's i indexes this
	Data     []byte   // the content, un-dot-stuffed: every byte between the 354 and the final dot
	EightBit bool     // BODY=8BITMIME given
	SMTPUTF8 bool     // SMTPUTF8 given: pass it on, or bounce with 553 5.6.7
	// DSN (RFC 3461), kept as the caller sent them, to be passed on to
	// servers that offer DSN: RET= (upper-cased) and ENVID= (xtext) of
	// MAIL, "" when not given; and each recipient's NOTIFY= and ORCPT=,
	// by RCPT index as Rcpts, or nil when no recipient gave either.
	Ret   string
	EnvID string
	DSN   []RcptDSN
}

// Errors from Answer. In each case the answer is ignored.
var (
	ErrNotCurrent = errors.New("lmtp: answer for a message that is not awaiting answers")
	ErrAnswered   = errors.New("lmtp: recipient already answered")
	ErrNoRcpt     = errors.New("lmtp: no such recipient")
)

// endData ends the message at its final dot: handed out for delivery, or
// refused for every recipient if it was too big.
func (s *Session) endData() {
	if s.body.over() {
		n := s.tx.rcpts.n
		s.to(stateIdle)
		for range n {
			s.reply(552, "5.3.4", "message exceeds fixed limit of "+strconv.FormatInt(s.cfg.MaxSize, 10)+" octets")
		}
		return
	}
	s.seq++
	m := &Message{
		Seq:      s.seq,
		From:     s.tx.from,
		Rcpts:    s.tx.rcpts.take(),
		Data:     s.body.data,
		EightBit: s.tx.eightBit,
		SMTPUTF8: s.tx.smtpUTF8,
		Ret:      s.tx.ret,
		EnvID:    s.tx.envID,
		DSN:      s.tx.dsn.take(),
	}
	if m.Data == nil {
		m.Data = []byte{}
	}
	s.to(stateAnswer)
	s.ready, s.cur = m, m
	s.rcpts, s.held = len(m.Rcpts), nil
	s.owed, s.written = len(m.Rcpts), 0
	s.body = body{}
}

// Next hands out the message read to its final dot, once. There is at
// most one: no command is read until all its answers are given.
func (s *Session) Next() (*Message, bool) {
	m := s.ready
	s.ready = nil
	return m, m != nil
}

// Answer gives recipient i of m its final reply. Answers may come in any
// order; each is queued in Output as soon as it and every earlier one is
// known and Output is under maxOutput.
// A reply that is not a final one is sanitized (see sanitize) rather than
// refused, so every recipient gets exactly one. Answer ignores, with an
// error, a message not awaiting answers, an i out of range, and a second
// answer for the same i.
func (s *Session) Answer(m *Message, i int, r Reply) error {
	if m == nil || m != s.cur {
		return ErrNotCurrent
	}
	if i < 0 || i >= s.rcpts {
		return fmt.Errorf("%w: %d of %d", ErrNoRcpt, i, s.rcpts)
	}
	if i < s.written || s.held != nil && s.held[i].code != 0 {
		return fmt.Errorf("%w: %d <%s>", ErrAnswered, i, m.Rcpts[i])
	}
	r = sanitize(r)
	s.owed--
	if i == s.written && s.out.pending() < maxOutput {
		s.out.reply(r)
		s.written++
	} else {
		s.hold(i, r)
	}
	s.flushAnswers()
	return nil
}

// flushAnswers queues held answers that are next in RCPT order while
// Output has room, so that 100,000 answers given at once wait packed
// rather than as lines; Wrote calls it again as Output drains. Once the
// last is queued, commands are read again.
func (s *Session) flushAnswers() {
	if s.st != stateAnswer {
		return
	}
	for s.held != nil && s.written < s.rcpts && s.held[s.written].code != 0 && s.out.pending() < maxOutput {
		s.out.buf = s.held[s.written].appendLine(s.out.buf)
		s.held[s.written] = held{} // queued: its text need not stay
		s.written++
	}
	if s.written == s.rcpts {
		s.ready = nil
		s.to(stateIdle)
		s.run()
	}
}

// Pending is how many answers the current message is still owed.
func (s *Session) Pending() int {
	if s.cur == nil {
		return 0
	}
	return s.owed
}
