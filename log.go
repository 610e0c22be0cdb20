package smtpfeed

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"smtpfeed/proto/smtp"
)

// Logger takes the engine's log lines.
type Logger interface {
	Recipient(RcptLog)
	Message(MessageLog)
	Notice(string) // anything else worth a line: sessions, signals, state dumps
}

// RcptLog is one recipient's fate, logged as sendmail logs a delivery.
type RcptLog struct {
	ID      string
	To      string
	Relay   string
	Delay   time.Duration
	Outcome Outcome
}

// MessageLog summarises one message.
type MessageLog struct {
	ID                           string
	From                         string
	Rcpts, Domains               int
	Delivered, Deferred, Bounced int
	First, Last, Elapsed         time.Duration
	Engine                       EngineStats // the process's so far
	DNS                          Stats       // the process's so far
}

type nopLogger struct{}

func (nopLogger) Recipient(RcptLog)  {}
func (nopLogger) Message(MessageLog) {}
func (nopLogger) Notice(string)      {}

// TextLogger writes sendmail-style lines to w (stderr, or a syslog
// writer).
type TextLogger struct {
	W    io.Writer
	line *[]byte // the recipient line's buffer, kept between lines (NewTextLogger)
}

// NewTextLogger is a TextLogger writing to w that reuses one buffer for
// its recipient lines: it is called from the loop alone.
func NewTextLogger(w io.Writer) TextLogger {
	return TextLogger{W: w, line: new([]byte)}
}

// Recipient logs: ID: to=<a@b>, delay=, relay=, dsn=, stat=. A recipient
// delivered to a server without DSN whose NOTIFY asked for a success
// notice is logged stat=Sent relayed-no-DSN, for operators to find.
func (l TextLogger) Recipient(r RcptLog) {
	stat := "Sent"
	if r.Outcome.RelayedNoDSN {
		stat = "Sent relayed-no-DSN" // a success notice asked for will not come: see outcomeRelayedNoDSN
	}
	switch r.Outcome.Status {
	case smtp.Deferred:
		stat = "Deferred"
	case smtp.Bounced:
		stat = "Bounced"
	}
	relay := r.Relay
	if relay == "" {
		relay = "none"
	}
	// Appended, not formatted: a line per recipient through fmt was 8%
	// of the CPU at 100,000 recipients (BenchmarkRecipientLog).
	var b []byte
	if l.line != nil {
		b = (*l.line)[:0]
	}
	b = append(b, r.ID...)
	b = append(append(append(b, ": to=<"...), r.To...), ">, delay="...)
	b = appendClock(b, r.Delay)
	b = append(append(b, ", relay="...), relay...)
	if r.Outcome.TLS != "" {
		b = append(append(append(append(b, ", tls="...), r.Outcome.TLS...), ", verified="...), r.Outcome.Verified...)
	}
	b = append(append(append(append(b, ", dsn="...), r.Outcome.Enhanced...), ", stat="...), stat...)
	b = strconv.AppendInt(append(b, " ("...), int64(r.Outcome.Code), 10)
	b = append(append(append(b, ' '), r.Outcome.Text...), ')')
	if r.Outcome.PossibleDuplicate {
		b = append(b, ", possible duplicate"...)
	}
	b = append(b, '\n')
	l.W.Write(b)
	if l.line != nil {
		*l.line = b
	}
}

// Message logs the per-message summary.
func (l TextLogger) Message(m MessageLog) {
	fmt.Fprintf(l.W, "%s: from=<%s>, nrcpts=%d, domains=%d, delivered=%d, deferred=%d, bounced=%d, first=%s, last=%s, elapsed=%s, connections=%d, tls=%d, plaintext=%d, tls-broken=%d, transactions=%d, throttled=%d, retried=%d, host-peak=%d, queries=%d, datagrams=%d, tcp=%d, dns-cached=%d\n",
		m.ID, m.From, m.Rcpts, m.Domains, m.Delivered, m.Deferred, m.Bounced,
		m.First.Round(time.Millisecond), m.Last.Round(time.Millisecond), m.Elapsed.Round(time.Millisecond),
		m.Engine.Connections, m.Engine.TLS, m.Engine.Plaintext, m.Engine.TLSBroken, m.Engine.Transactions,
		m.Engine.Throttled, m.Engine.Retried, m.Engine.PeakHostLanes, m.DNS.Queries, m.DNS.UDPSent, m.DNS.TCPSent, m.DNS.CacheHits)
}

// Notice logs one line as it is.
func (l TextLogger) Notice(s string) { fmt.Fprintln(l.W, s) }

// appendClock appends a delay as sendmail writes it: hh:mm:ss.
func appendClock(b []byte, d time.Duration) []byte {
	s := int(d.Round(time.Second).Seconds())
	for i, v := range [3]int{s / 3600, s / 60 % 60, s % 60} {
		if i > 0 {
			b = append(b, ':')
		}
		if v < 10 {
			b = append(b, '0')
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return b
}
