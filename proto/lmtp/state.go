package lmtp

// state is where the session stands in the protocol.
type state uint8

const (
	stateGreeted state = iota // greeting queued, waiting for LHLO
	stateIdle                 // LHLO answered, no transaction
	stateMail                 // MAIL accepted, no recipient yet
	stateRcpt                 // at least one RCPT accepted
	stateData                 // 354 sent: reading the message
	stateAnswer               // final dot read: answers owed, commands wait
	stateClosed               // QUIT answered or the caller gone: input ignored
	numStates
)

var stateNames = [numStates]string{
	stateGreeted: "greeted",
	stateIdle:    "idle",
	stateMail:    "mail",
	stateRcpt:    "rcpt",
	stateData:    "data",
	stateAnswer:  "answer",
	stateClosed:  "closed",
}

func (s state) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "invalid"
}

func states(ss ...state) uint16 {
	var m uint16
	for _, s := range ss {
		m |= 1 << s
	}
	return m
}

// legal lists the states each state may move to. A move not listed is a
// bug in this package, and to panics on it so tests and fuzzing find it.
var legal = [numStates]uint16{
	stateGreeted: states(stateGreeted, stateIdle, stateClosed),
	stateIdle:    states(stateIdle, stateMail, stateClosed),
	stateMail:    states(stateIdle, stateRcpt, stateClosed),
	stateRcpt:    states(stateIdle, stateRcpt, stateData, stateClosed),
	stateData:    states(stateAnswer, stateIdle, stateClosed), // idle: the message was too big
	stateAnswer:  states(stateIdle),
	stateClosed:  0,
}

// to is the one transition function: it moves the session to next and
// does what entering next means.
func (s *Session) to(next state) {
	if legal[s.st]&(1<<next) == 0 {
		panic("lmtp: illegal transition " + s.st.String() + " -> " + next.String())
	}
	s.st = next
	switch next {
	case stateGreeted, stateIdle:
		s.tx = transaction{} // LHLO and RSET end a transaction (RFC 5321 §4.1.4), so does the final dot
		s.cur = nil
		s.rcpts, s.held, s.lastHeld = 0, nil, ""
	case stateData:
		s.body = body{max: s.cfg.MaxSize}
	case stateClosed:
		s.tx = transaction{}
		s.body = body{}
		s.in = nil
		s.discard = false
	}
}
