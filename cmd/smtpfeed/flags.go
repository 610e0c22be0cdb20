package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"smtpfeed"
)

// timeoutNames are the names -t knows, with their defaults; the delivery
// engine will add its SMTP timeouts here.
var timeoutNames = map[string]time.Duration{
	"dns": smtpfeed.DefaultDNSTimeout,
}

// maxTimeout bounds any -t value: a day is longer than any delivery
// attempt should wait on one step.
const maxTimeout = 24 * time.Hour

// timeouts is the repeatable -t NAME=DURATION flag.
type timeouts map[string]time.Duration

func (t timeouts) String() string {
	var out []string
	for k, v := range t {
		out = append(out, k+"="+v.String())
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func (t timeouts) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want NAME=DURATION, got %q", s)
	}
	name = strings.ToLower(name)
	if _, known := timeoutNames[name]; !known {
		var names []string
		for n := range timeoutNames {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Errorf("unknown timeout %q (known: %s)", name, strings.Join(names, ", "))
	}
	d, err := time.ParseDuration(val)
	if err != nil || d <= 0 || d > maxTimeout {
		return fmt.Errorf("timeout %s=%q: want a duration in (0, %v], like 75s", name, val, maxTimeout)
	}
	t[name] = d
	return nil
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// options is everything the flags say.
type options struct {
	debug      string
	servers    list
	timeouts   timeouts
	aliases    list
	helo       string
	ipv4       bool
	maxQueries int
	rcptFile   string
	resolvConf string
	rcpts      []string
}

var errUsage = errors.New("usage")

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{timeouts: timeouts{}}
	fs := flag.NewFlagSet("smtpfeed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.debug, "d", "", "debug mode: Q resolves only, sends no mail and reports the grouping by MX host")
	fs.Var(&o.servers, "nameserver", "name server host[:port] (repeatable; default: those of -resolv-conf)")
	fs.Var(o.timeouts, "t", "timeout NAME=DURATION (repeatable); names: dns (total per lookup, default 75s)")
	fs.Var(&o.aliases, "a", "another name of this host, dropped from MX lists like the HELO name (repeatable)")
	fs.StringVar(&o.helo, "c", "", "the HELO name (default: the host name)")
	fs.BoolVar(&o.ipv4, "4", false, "IPv4 only: ask no AAAA, use no IPv6 address")
	fs.IntVar(&o.maxQueries, "max-queries", smtpfeed.DefaultMaxOutstanding, "most DNS queries outstanding at once")
	fs.StringVar(&o.rcptFile, "r", "", "read recipients from FILE, one address per line")
	fs.StringVar(&o.resolvConf, "resolv-conf", "/etc/resolv.conf", "resolver configuration file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: smtpfeed -d Q [flags] rcpt... | -r FILE\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	o.rcpts = fs.Args()
	switch {
	case o.debug != "Q":
		return nil, fmt.Errorf("only resolve-only mode exists yet: give -d Q (the LMTP front end is to come)")
	case o.maxQueries < 1 || o.maxQueries > 65536:
		return nil, fmt.Errorf("-max-queries %d: want 1..65536", o.maxQueries)
	case o.rcptFile != "" && len(o.rcpts) > 0:
		return nil, fmt.Errorf("give recipients either as arguments or with -r, not both")
	}
	if o.rcptFile != "" {
		rcpts, err := readRcpts(o.rcptFile)
		if err != nil {
			return nil, err
		}
		o.rcpts = rcpts
	}
	if len(o.rcpts) == 0 {
		return nil, fmt.Errorf("no recipients: give addresses as arguments or -r FILE")
	}
	for _, a := range o.rcpts {
		if _, _, err := smtpfeed.SplitAddress(a); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func readRcpts(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recipient file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("recipient file %s: %w", path, err)
	}
	return out, nil
}

// resolverConfig turns the options into the resolver's configuration.
func (o *options) resolverConfig() (smtpfeed.ResolverConfig, error) {
	cfg := smtpfeed.ResolverConfig{MaxOutstanding: o.maxQueries, IPv4Only: o.ipv4, Timeout: timeoutNames["dns"]}
	if d, ok := o.timeouts["dns"]; ok {
		cfg.Timeout = d
	}
	helo := o.helo
	if helo == "" {
		helo, _ = os.Hostname()
	}
	if helo != "" {
		cfg.Own = append(cfg.Own, helo)
	}
	cfg.Own = append(cfg.Own, o.aliases...)
	if len(o.servers) > 0 {
		for _, s := range o.servers {
			a, err := smtpfeed.ParseServer(s)
			if err != nil {
				return cfg, fmt.Errorf("-nameserver: %w", err)
			}
			cfg.Servers = append(cfg.Servers, a)
		}
		return cfg, nil
	}
	f, err := os.Open(o.resolvConf)
	if err != nil {
		return cfg, fmt.Errorf("no -nameserver given and %w", err)
	}
	defer f.Close()
	rc, err := smtpfeed.ParseResolvConf(f)
	if err != nil {
		return cfg, err
	}
	cfg.Servers, cfg.Rotate, cfg.RetransmitCeiling = rc.Servers, rc.Rotate, rc.Timeout
	return cfg, nil
}
