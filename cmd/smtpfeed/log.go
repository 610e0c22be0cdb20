package main

import (
	"fmt"
	"io"
	"log"
	"log/syslog"
	"strings"
)

// facilities are the syslog facilities -l takes.
var facilities = map[string]syslog.Priority{
	"mail": syslog.LOG_MAIL, "daemon": syslog.LOG_DAEMON, "user": syslog.LOG_USER,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2,
	"local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5,
	"local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

// logBuffer is the size of the stderr log's buffer: with one line per
// recipient, a write per line was a fifth of a large message's CPU.
const logBuffer = 64 << 10

// logSink is the open log: flush writes out what was buffered (the loop
// calls it before it waits), close ends it. stderr is where other
// output for stderr goes so as to keep its place among the log's lines:
// the log's buffer when the log is stderr.
type logSink struct {
	*log.Logger
	stderr       io.Writer
	flush, close func()
}

// openLog opens the log -l names: syslog with a facility, or stderr. When
// syslog cannot be reached (no /dev/log, as in a container), the log goes
// to stderr and says so: an MTA's mailer must not fail for want of a log.
// The stderr log is buffered and flushed whenever the loop is about to
// wait, so no line waits on a quiet loop; syslog takes one message per
// line.
func openLog(to string, stderr io.Writer) (logSink, error) {
	if to == "stderr" {
		return bufferedLog(stderr, ""), nil
	}
	fac, ok := facilities[strings.ToLower(to)]
	if !ok || fac == 0 {
		return logSink{}, fmt.Errorf("-l %s: want stderr or a syslog facility (mail, daemon, user, local0..local7)", to)
	}
	w, err := syslog.New(fac|syslog.LOG_INFO, "smtpfeed")
	if err != nil {
		return bufferedLog(stderr, fmt.Sprintf("smtpfeed: syslog unavailable (%v); logging to stderr", err)), nil
	}
	return logSink{Logger: log.New(w, "", 0), stderr: stderr, flush: func() {}, close: func() { w.Close() }}, nil
}

func bufferedLog(stderr io.Writer, first string) logSink {
	b := &logBuf{w: stderr}
	l := logSink{Logger: log.New(b, "", 0), stderr: b, flush: b.flush}
	l.close = l.flush
	if first != "" {
		l.Print(first)
	}
	return l
}

// logBuf gathers log lines for one write. Unlike bufio.Writer it does
// not keep a write error: a full pipe costs the lines of one flush, not
// every line after it.
type logBuf struct {
	w   io.Writer
	buf []byte
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logBuffer {
		b.flush()
	}
	return len(p), nil
}

func (b *logBuf) flush() {
	if len(b.buf) > 0 {
		b.w.Write(b.buf)
		b.buf = b.buf[:0]
	}
}
