package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"smtpfeed"
	"smtpfeed/reactor"
)

// Exit statuses from sysexits.h, as mailers report them to the MTA.
const (
	exitOK       = 0
	exitUsage    = 64 // EX_USAGE
	exitSoftware = 70 // EX_SOFTWARE
	exitConfig   = 78 // EX_CONFIG
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "smtpfeed: %v\nusage: smtpfeed -d Q [flags] rcpt... | -r FILE (smtpfeed -h lists the flags)\n", err)
		}
		return exitUsage
	}
	cfg, err := o.resolverConfig()
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitConfig
	}
	loop, err := reactor.New(nil)
	if err != nil {
		fmt.Fprintf(stderr, "smtpfeed: %v\n", err)
		return exitSoftware
	}
	defer loop.Shutdown()
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
