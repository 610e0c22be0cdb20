package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"smtpfeed"
	"smtpfeed/reactor"
)

// Exit statuses from sysexits.h, as mailers report them to the MTA.
const (
	exitOK        = 0
	exitUsage     = 64 // EX_USAGE
	exitSoftware  = 70 // EX_SOFTWARE
	exitOSErr     = 71 // EX_OSERR
	exitCantCreat = 73 // EX_CANTCREAT
	exitConfig    = 78 // EX_CONFIG
)

// shutdownWait bounds how long the QUITs of the last connections may take
// once the caller is done.
const shutdownWait = 10 * time.Second

func main() {
	tuneGC()
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
	if err == nil {
		o.tls, err = o.tlsConfig()
	}
	if err == nil && o.routeMap != "" {
		o.routes, err = readRoutes(o.routeMap) // a bad line: EX_CONFIG, as -tls-policy's
	}
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitConfig
	}
	stopProfile, err := startProfile(o.cpuProfile, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitCantCreat
	}
	defer stopProfile()
	loop, err := reactor.New(nil)
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitOSErr
	}
	defer loop.Shutdown()
	if len(o.rcpts) > 0 {
		return resolveList(loop, o, res, stdout, stderr)
	}
	return serve(loop, o, res, stderr)
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
	if err := r.ResolvePlan(o.rcpts, o.routes, func(p *smtpfeed.Plan) { plan = p; loop.Stop() }); err != nil {
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
