package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"smtpfeed/reactor"
)

// defaultWorlds are the worlds -bench runs unless -worlds says otherwise:
// every world but 1m, whose million recipients take minutes and some
// hundreds of MiB (make bench-1m runs it).
const defaultWorlds = "paper,600,200-pipelined,200-lockstep,1k,dead-mx,dns-silent,10k,10k-barrier,10k-verp,100k,10k-tls,real-list"

func main() {
	demo := flag.Bool("demo", false, "run the demo world and print a summary (the default)")
	bench := flag.Bool("bench", false, "run the benchmark worlds; table to stdout and out/bench.md, charts to out/")
	smtpfeed := flag.String("smtpfeed", "bin/smtpfeed", "the smtpfeed binary to run")
	seed := flag.Uint64("seed", 1, "the worlds' seed")
	connect := flag.Duration("connect", 5*time.Second, "smtpfeed's connect timeout (-t connect=)")
	race := flag.Duration("race", 1500*time.Millisecond, "smtpfeed's race delay (-t race=): with -connect, what a dead first MX costs")
	outDir := flag.String("out", "out", "where -bench writes bench.md and the charts")
	worlds := flag.String("worlds", defaultWorlds, "with -bench: the worlds to run, comma-separated, of: "+worldNames(benchWorlds(1))+" (1m only when named: it takes minutes)")
	repeat := flag.Int("repeat", 1, "with -bench: run each world this many times; the table shows the median run by last delivery, a line per world the range")
	extra := flag.String("args", "", "more smtpfeed flags, space-separated (e.g. \"-n 300\"); -nameserver and -port are always the world's")
	limit := flag.Duration("limit", 2*time.Minute, "with -bench: kill a smtpfeed run (not traced) after this long and report it hung")
	noStrace := flag.Bool("no-strace", false, "with -bench: skip the strace runs")
	postfix := flag.String("postfix", defaultPostfixWorlds, "with -bench: the worlds Postfix's own SMTP client also delivers, beside smtpfeed (root, Linux, postfix installed); none for no Postfix runs")
	postfixChildWorld := flag.String("postfix-child", "", "internal: run Postfix on this world inside the namespaces -bench made")
	postfixDir := flag.String("postfix-dir", "", "internal: with -postfix-child, the run's directory")
	flag.Parse()
	if *postfixChildWorld != "" {
		raiseFileLimit()
		err := postfixChild(postfixChildOpts{world: *postfixChildWorld, seed: *seed, dir: *postfixDir, connect: *connect, limit: postfixLimit})
		if err != nil {
			fmt.Fprintln(os.Stderr, "feedbench -postfix-child:", err)
			os.Exit(1)
		}
		return
	}
	if *demo && *bench {
		fmt.Fprintln(os.Stderr, "feedbench: -demo and -bench exclude each other")
		os.Exit(2)
	}
	if _, err := os.Stat(*smtpfeed); err != nil {
		fmt.Fprintf(os.Stderr, "feedbench: %v (build it first: go build -o bin/smtpfeed ./cmd/smtpfeed)\n", err)
		os.Exit(2)
	}
	raiseFileLimit()
	dir, err := os.MkdirTemp("", "feedbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "feedbench:", err)
		os.Exit(1)
	}
	if *bench {
		err = runBench(benchOpts{smtpfeed: *smtpfeed, seed: *seed, connect: *connect, race: *race, dir: dir,
			out: *outDir, extra: strings.Fields(*extra), limit: *limit, worlds: *worlds, repeat: *repeat, strace: !*noStrace, postfix: *postfix}, os.Stdout)
	} else {
		err = runDemo(demoConfig(*seed), runOpts{smtpfeed: *smtpfeed, connect: *connect, race: *race, dir: dir, extra: strings.Fields(*extra)}, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "feedbench:", err)
		os.Exit(1)
	}
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: the
// world's thousands of listeners and connections live in this process.
func raiseFileLimit() { reactor.RaiseFileLimit() }
