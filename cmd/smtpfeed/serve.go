package main

import (
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"smtpfeed"
	"smtpfeed/proto/lmtp"
	"smtpfeed/reactor"
)

// exitTempFail is EX_TEMPFAIL: what SIGQUIT exits with, so the caller
// retries everything.
const exitTempFail = 75

// defaultLMTPIdle ends listener sessions whose caller stays silent while
// nothing is owed to it.
const defaultLMTPIdle = 10 * time.Minute

// defaultLMTPCommand and defaultLMTPData bound one command line and one
// message's data in listener mode: a local MTA sends either in well under
// a second, and a caller that trickles bytes must not hold a session
// (and its memory) for ever.
const (
	defaultLMTPCommand = 5 * time.Minute
	defaultLMTPData    = 10 * time.Minute
)

// server is the running mailer: the engine and its LMTP side (one session
// on stdin/stdout, or a listener), and what signals do to them.
type server struct {
	loop     *reactor.Loop
	e        *smtpfeed.Engine
	log      *log.Logger
	flushLog func()
	listener *smtpfeed.LMTPListener
	stdio    *smtpfeed.LMTPConn
	path     string // unix socket to remove at exit
	done     bool
	err      error
	terms    int    // SIGTERMs received: the second one cuts every connection
	routeMap string // -M's file, read again on SIGHUP (routes.go)
}

// serve runs the mailer until its LMTP side is finished, then lets the
// connections QUIT (bounded), and returns the exit status.
func serve(loop *reactor.Loop, o *options, res smtpfeed.ResolverConfig, stderr io.Writer) int {
	// The loop keeps its thread: the thread's CPU time is then the
	// loop's own cost, said in the last log line.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sink, err := openLog(o.logTo, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitConfig
	}
	defer sink.close()
	loop.BeforeWait(sink.flush)
	logger, stderr := sink.Logger, sink.stderr
	fdLimit, err := reactor.RaiseFileLimit()
	if err != nil {
		logger.Printf("smtpfeed: raising the descriptor limit: %v", err)
	}
	cfg := o.engineConfig(res, fdLimit)
	cfg.Log = smtpfeed.NewTextLogger(logger.Writer())
	logger.Printf("smtpfeed %s: starting, %d descriptors, %d connections at most, TLS level %s", Version, fdLimit, cfg.MaxConns, cfg.TLS.Level)
	if cfg.TLS.WantsDANE() && !res.TrustAD {
		logger.Printf("smtpfeed: warning: DANE is asked for (-T or -tls-policy) but no name server is trusted to validate DNSSEC (-trust-ad, or options trust-ad in resolv.conf): dane acts as may, dane-only defers")
	}
	e, err := smtpfeed.NewEngine(loop, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitConfig
	}
	s := &server{loop: loop, e: e, log: logger, flushLog: sink.flush, routeMap: o.routeMap}
	opt := smtpfeed.LMTPOptions{Session: lmtp.Config{Hostname: o.heloName(), MaxSize: o.maxSize, MaxRcpts: o.lmtpRcpts}}
	if o.resolveOnly() {
		opt.ResolveOnly = sink.stderr
	}
	if err := loop.Notify(s.signal, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGINT); err != nil {
		logger.Printf("smtpfeed: %v", err)
	}
	if o.listen != "" {
		opt.Idle = defaultLMTPIdle
		if d, ok := o.timeouts["lmtp"]; ok {
			opt.Idle = d
		}
		opt.CommandTime, opt.DataTime = defaultLMTPCommand, defaultLMTPData
		if d, ok := o.timeouts["lmtp-command"]; ok {
			opt.CommandTime = d
		}
		if d, ok := o.timeouts["lmtp-data"]; ok {
			opt.DataTime = d
		}
		if code := s.listen(o, opt); code != exitOK {
			return code
		}
		defer s.cleanup()
	} else {
		if err := reactor.PrepareStdio(); err != nil {
			fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
			return exitOSErr
		}
		s.stdio, err = smtpfeed.ServeLMTP(loop, e, reactor.Stdin, reactor.Stdout, opt, s.finished)
		if err != nil {
			fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
			return exitOSErr
		}
	}
	for !s.done {
		if err := loop.Step(-1); err != nil {
			logger.Printf("smtpfeed: %v", err)
			return exitSoftware
		}
	}
	if s.err != nil {
		// The caller went away: it retries whatever it did not hear about.
		logger.Printf("smtpfeed: %v; closing connections", s.err)
		e.Abort(s.err.Error())
	} else {
		e.Shutdown()
	}
	deadline := time.Now().Add(shutdownWait)
	for e.Open() > 0 && time.Now().Before(deadline) {
		if err := loop.Step(time.Until(deadline)); err != nil {
			break
		}
	}
	busy, longest := loop.Busy()
	loopCPU, _ := reactor.ThreadCPU()
	st := e.Stats()
	logger.Printf("smtpfeed: done, peak RSS %.1f MiB, loop busy %v, longest pass %v, tls handshakes %d, handshake worker time %v, loop cpu %v",
		float64(peakRSS())/1024, busy.Round(time.Microsecond), longest.Round(time.Microsecond), st.TLS, st.HandshakeCPU.Round(time.Microsecond), loopCPU.Round(time.Microsecond))
	return exitOK
}

// listen opens -L's socket and starts accepting sessions.
func (s *server) listen(o *options, opt smtpfeed.LMTPOptions) int {
	var fd int
	var err error
	switch {
	case strings.HasPrefix(o.listen, "unix:"):
		s.path = strings.TrimPrefix(o.listen, "unix:")
		mode, _ := o.socketMode() // checked with the flags
		fd, err = reactor.ListenUnix(s.path, mode)
	default:
		var ap netip.AddrPort
		ap, err = netip.ParseAddrPort(strings.TrimPrefix(o.listen, "tcp:"))
		if err == nil {
			fd, err = reactor.ListenTCP(ap)
		}
	}
	if err != nil {
		s.log.Printf("smtpfeed: -L %s: %v", o.listen, err)
		return exitOSErr
	}
	s.listener, err = smtpfeed.ListenLMTP(s.loop, s.e, fd, opt, o.sessions)
	if err != nil {
		s.log.Printf("smtpfeed: %v", err)
		return exitOSErr
	}
	if s.path == "" {
		allow := []netip.Prefix(o.lmtpAllow)
		if len(allow) == 0 {
			allow = defaultLMTPAllow
		}
		s.listener.AllowPeers(allow)
	}
	s.log.Printf("smtpfeed: serving LMTP on %s, %d sessions at most", o.listen, o.sessions)
	return exitOK
}

func (s *server) cleanup() {
	if s.path != "" {
		os.Remove(s.path)
	}
}

// finished: the stdin/stdout session is over.
func (s *server) finished(err error) { s.done, s.err = true, err }

// signal does what the original documents, but HUP, which reloads, as
// daemons do (and a listener under Postfix lives long enough to need
// it):
//
//	HUP   read -M's route map again (reloadRoutes); delivery goes on.
//	USR1  graceful: stop taking messages (and, with -L, sessions); answer
//	      every pending recipient, the undelivered ones 4xx; QUIT every
//	      connection; exit 0.
//	TERM  semi-graceful: the same, but SMTP connections are closed at once,
//	      except those waiting for the reply to a final dot already sent:
//	      they get it (cutting them would make possible duplicates). A
//	      second TERM closes those too (their recipients 4.4.2).
//	QUIT  exit 75 at once: the caller retries everything.
//	INT   write the internal state to the log and go on.
func (s *server) signal(now time.Time, sig os.Signal) {
	switch sig {
	case syscall.SIGHUP:
		s.reloadRoutes()
	case syscall.SIGUSR1, syscall.SIGTERM:
		s.log.Printf("smtpfeed: %s: finishing the messages in hand", unix.SignalName(sig.(syscall.Signal)))
		if sig == syscall.SIGTERM {
			s.terms++
			if s.terms > 1 {
				s.e.Abort("smtpfeed received SIGTERM twice")
			} else {
				s.e.Terminate("smtpfeed received SIGTERM")
			}
		} else {
			s.e.Drain()
		}
		if s.listener != nil {
			s.listener.Stop(func() { s.done = true })
		}
		if s.stdio != nil {
			s.stdio.Drain()
		}
	case syscall.SIGQUIT:
		s.log.Printf("smtpfeed: SIGQUIT: exiting at once")
		s.cleanup()
		s.flushLog()
		os.Exit(exitTempFail)
	case syscall.SIGINT:
		s.log.Print(s.e.Dump())
	}
}
