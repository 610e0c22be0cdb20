package smtp

// Envelope is one message for a list of recipients on one server. The
// client splits it into SMTP transactions of at most Config.MaxRcpts
// recipients (fewer once the server says "too many recipients"), run one
// after another on the same connection.
type Envelope struct {
	From  string // reverse path, without angle brackets; "" for <>
	Rcpts []Recipient
	Msg   *Message
	// SMTPUTF8 marks an envelope or header that needs RFC 6531; a server
	// without SMTPUTF8 then gets no attempt and the recipients bounce.
	SMTPUTF8 bool
	Ret      string // DSN RET=FULL|HDRS, "" for none (RFC 3461)
	EnvID    string // DSN ENVID, already xtext-encoded
	// VERP, when set, gives each recipient a transaction of its own,
	// with the reverse path VERP.Sender(From, recipient).
	VERP *VERP
	// Trace, when set, goes before the message in every transaction of
	// one recipient (see Trace).
	Trace *Trace
	// withdrawn: Withdraw was called; no new SMTP transaction of it
	// starts, and what would have gone in one is handed back.
	withdrawn *ConnError
}

// Recipient is one forward path with its DSN parameters, if any. The
// parameters sit behind a pointer: a list's transactions in flight hold
// one Recipient per recipient, nearly always without them.
type Recipient struct {
	Addr string // without angle brackets
	DSN  *RecipientDSN
}

// RecipientDSN is a recipient's DSN parameters (RFC 3461).
type RecipientDSN struct {
	Notify string // NOTIFY=, "" for none
	ORcpt  string // ORCPT=, already xtext-encoded, "" for none
}

// transaction is one SMTP transaction: some of an Envelope's recipients.
type transaction struct {
	tx       *Envelope
	rcpts    []int // indexes into tx.Rcpts, in RCPT order
	next     int   // lock-step: how many RCPTs were sent
	accepted []int
	carry    []int // refused as too many: go into the next transaction
	mailFail *Reply
	decided  []bool // by position in rcpts: has a result, or was carried
	dotEnd   int64  // output offset at which the final dot is written
	trace    []byte // the Received field before the message, if any (Trace)
	dotSent  bool
}

// queued is an Envelope with the recipients not yet put in a transaction.
type queued struct {
	tx       *Envelope
	pending  []int
	admitted bool // pending passed the admit check
}
