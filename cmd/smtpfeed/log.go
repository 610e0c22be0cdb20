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

// openLog opens the log -l names: syslog with a facility, or stderr. When
// syslog cannot be reached (no /dev/log, as in a container), the log goes
// to stderr and says so: an MTA's mailer must not fail for want of a log.
func openLog(to string, stderr io.Writer) (*log.Logger, func(), error) {
	if to == "stderr" {
		return log.New(stderr, "", 0), func() {}, nil
	}
	fac, ok := facilities[strings.ToLower(to)]
	if !ok || fac == 0 {
		return nil, nil, fmt.Errorf("-l %s: want stderr or a syslog facility (mail, daemon, user, local0..local7)", to)
	}
	w, err := syslog.New(fac|syslog.LOG_INFO, "smtpfeed")
	if err != nil {
		l := log.New(stderr, "", 0)
		l.Printf("smtpfeed: syslog unavailable (%v); logging to stderr", err)
		return l, func() {}, nil
	}
	return log.New(w, "", 0), func() { w.Close() }, nil
}
