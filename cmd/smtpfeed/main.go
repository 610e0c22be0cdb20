package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"smtpfeed"
	"smtpfeed/proto/lmtp"
	"smtpfeed/reactor"
)

// Exit statuses from sysexits.h, as mailers report them to the MTA.
const (
	exitOK       = 0
	exitUsage    = 64 // EX_USAGE
	exitSoftware = 70 // EX_SOFTWARE
	exitOSErr    = 71 // EX_OSERR
	exitConfig   = 78 // EX_CONFIG
)

// shutdownWait bounds how long the QUITs of the last connections may take
// once the caller is done.
const shutdownWait = 10 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "smtpfeed: %v\nusage: smtpfeed [flags] (smtpfeed -h lists them)\n", err)
		}
		return exitUsage
	}
	if o.version {
		fmt.Fprintf(stdout, "smtpfeed %s\n", Version)
		return exitOK
	}
	res, err := o.resolverConfig()
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitConfig
	}
	loop, err := reactor.New(nil)
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitOSErr
	}
	defer loop.Shutdown()
	if len(o.rcpts) > 0 {
		return resolveList(loop, o, res, stdout, stderr)
	}
	return serveStdio(loop, o, res, stderr)
}

// resolveList is -d Q over a recipient list: replies on stdout, the
// grouping by MX host on stderr.
func resolveList(loop *reactor.Loop, o *options, cfg smtpfeed.ResolverConfig, stdout, stderr io.Writer) int {
	r, err := smtpfeed.NewResolver(loop, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitConfig
	}
	defer r.Close()
	var plan *smtpfeed.Plan
	if err := r.ResolvePlan(o.rcpts, func(p *smtpfeed.Plan) { plan = p; loop.Stop() }); err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitUsage
	}
	if err := loop.Run(); err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitSoftware
	}
	for _, rep := range plan.Replies() {
		fmt.Fprintf(stdout, "%s: %s\n", rep.Rcpt, rep)
	}
	if err := plan.WriteReport(stderr); err != nil {
		return exitSoftware
	}
	return exitOK
}

// serveStdio is the mailer: one LMTP session on standard input and
// output, then the connections' QUITs, then exit.
func serveStdio(loop *reactor.Loop, o *options, res smtpfeed.ResolverConfig, stderr io.Writer) int {
	logger, closeLog, err := openLog(o.logTo, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitConfig
	}
	defer closeLog()
	fdLimit, err := reactor.RaiseFileLimit()
	if err != nil {
		logger.Printf("smtpfeed: raising the descriptor limit: %v", err)
	}
	cfg := o.engineConfig(res, fdLimit)
	cfg.Log = smtpfeed.TextLogger{W: logger.Writer()}
	logger.Printf("smtpfeed %s: starting, %d descriptors, %d connections at most", Version, fdLimit, cfg.MaxConns)
	e, err := smtpfeed.NewEngine(loop, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitConfig
	}
	if err := reactor.PrepareStdio(); err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitOSErr
	}
	opt := smtpfeed.LMTPOptions{Session: lmtp.Config{Hostname: o.heloName(), MaxSize: o.maxSize, MaxRcpts: o.lmtpRcpts}}
	if o.resolveOnly() {
		opt.ResolveOnly = stderr
	}
	var sessionErr error
	ended := false
	if _, err := smtpfeed.ServeLMTP(loop, e, reactor.Stdin, reactor.Stdout, opt, func(err error) {
		sessionErr, ended = err, true
		loop.Stop()
	}); err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitOSErr
	}
	if err := loop.Run(); err != nil {
		logger.Printf("smtpfeed: %v", err)
		return exitSoftware
	}
	if sessionErr != nil {
		// The caller went away: it retries whatever it did not hear about.
		logger.Printf("smtpfeed: %v; closing connections", sessionErr)
		e.Abort(sessionErr.Error())
	} else {
		e.Shutdown()
	}
	deadline := time.Now().Add(shutdownWait)
	for e.Open() > 0 && time.Now().Before(deadline) {
		if err := loop.Step(time.Until(deadline)); err != nil {
			break
		}
	}
	_ = ended
	return exitOK
}
