package main

import (
	"bufio"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"smtpfeed"
	"smtpfeed/proto/lmtp"
	"smtpfeed/proto/resolv"
	"smtpfeed/proto/routemap"
	"smtpfeed/proto/smtp"
	"smtpfeed/proto/tlspolicy"
)

// Version is smtpfeed's version, printed by -V.
const Version = "0.1.0"

// timeoutNames are the names -t knows, with what each bounds.
var timeoutNames = map[string]string{
	"dns":          "one MX lookup from start to result (75s)",
	"connect":      "a TCP connect (75s)",
	"connection":   "one SMTP connection's whole life, however busy (30m)",
	"message":      "one message from DATA to its last answer (50m)",
	"grace":        "how long a host with less than a full transaction waits for lookups still running, unless answers are still coming in (100ms)",
	"gather":       "the most a host with less than a full transaction waits while lookups are still being answered, unless queries still wait to be sent (1s)",
	"race":         "the most a connect may go unanswered before its recipients also try their next MX (1.5s); less once eight connects have shown how long one takes here: twice their smoothed time plus four deviations, at least 250ms",
	"lmtp":         "with -L: how long a caller may stay silent while nothing is owed to it (10m)",
	"lmtp-command": "with -L: one LMTP command line from its first byte to its end (5m)",
	"lmtp-data":    "with -L: one message's data from DATA's 354 to the final dot (10m)",
	"idle":         "how long an idle connection is kept for later messages (10s)",
	"down":         "how long an unreachable address is skipped (10m)",
	"backoff":      "the first wait at a host after it throttled (421 4.7.0, 450 4.7.1, ...); doubles with each throttle in a row, to 64 times (1s)",
}

func init() {
	for _, n := range smtp.TimeoutNames() {
		timeoutNames[n] = "the SMTP " + n + " state (RFC 5321 4.5.3.2)"
	}
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

// prefixes is the repeatable -allow-local CIDR flag; a bare address is
// its own /32 or /128.
type prefixes []netip.Prefix

func (p *prefixes) String() string {
	var out []string
	for _, x := range *p {
		out = append(out, x.String())
	}
	return strings.Join(out, ",")
}

func (p *prefixes) Set(s string) error {
	x, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return fmt.Errorf("want a network like 127.0.0.0/8 or an address, got %q", s)
		}
		x = netip.PrefixFrom(a, a.BitLen())
	}
	*p = append(*p, x.Masked())
	return nil
}

// count is a flag that counts its occurrences: the original's -F
// means one thing alone and another twice (-F -F).
type count int

func (c *count) String() string   { return strconv.Itoa(int(*c)) }
func (c *count) IsBoolFlag() bool { return true }
func (c *count) Set(s string) error {
	on, err := strconv.ParseBool(s)
	switch {
	case err != nil:
		return fmt.Errorf("want true or false, got %q", s)
	case on:
		*c++
	}
	return nil
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// options is everything the flags say.
type options struct {
	debug       string
	cpuProfile  string
	servers     list
	timeouts    timeouts
	aliases     list
	helo        string
	ipv4        bool
	family      string
	prefer      string
	one, apart  bool
	forRcpt     count  // -F: once the Received field naming the recipient, twice VERP
	verp        bool   // -verp: -F -F's long name
	verpDelims  string // -verp-delims
	receivedFor bool   // -received-for: -F's long name
	rcptMax     int
	conns       int
	hostConns   int
	reuseLimit  int
	rate        int
	fallback    string
	routeMap    string        // -M: the route map's file, read again on SIGHUP
	routes      *routemap.Map // -M's map, read by run
	source      string
	port        int
	logTo       string
	version     bool
	maxQueries  int
	maxSize     int64
	lmtpRcpts   int
	rcptFile    string
	resolvConf  string
	listen      string
	sessions    int
	rcpts       []string
	allowLocal  prefixes
	lmtpAllow   prefixes
	mxAddrs     int
	hostAddrs   int
	sockMode    string
	tlsLevel    string
	tlsPolicy   string
	tlsCA       string
	trustAD     bool
	tls         smtpfeed.TLSConfig // -T, -tls-policy, -tls-ca, read by run
}

var errUsage = errors.New("usage")

// resolveOnly reports -d Q; deliverNothing -d D.
func (o *options) resolveOnly() bool    { return strings.Contains(o.debug, "Q") }
func (o *options) deliverNothing() bool { return strings.Contains(o.debug, "D") }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{timeouts: timeouts{}}
	fs := flag.NewFlagSet("smtpfeed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.helo, "c", "", "the HELO name (default: the host name)")
	fs.BoolVar(&o.one, "1", false, "one recipient per transaction (same as -R 1)")
	fs.Var(&o.forRcpt, "F", "once: put a Received field naming the recipient before the message of every one-recipient transaction (with -1: all); twice (-F -F): VERP, each recipient its own envelope sender, sender-user+rcpt-user=rcpt-domain@sender-domain")
	fs.BoolVar(&o.verp, "verp", false, "VERP, as -F -F: each recipient gets its own envelope sender and transaction, pipelined one after another on the host's connection")
	fs.StringVar(&o.verpDelims, "verp-delims", "+=", "with VERP: the two delimiters, after the sender's user and after the recipient's user")
	fs.BoolVar(&o.receivedFor, "received-for", false, "as -F once: a Received field naming the recipient before the message of one-recipient transactions")
	fs.BoolVar(&o.apart, "2", false, "keep domains apart: no piggybacking of domains that share an MX host")
	fs.IntVar(&o.rcptMax, "R", smtp.DefaultMaxRcpts, "recipients per SMTP transaction")
	fs.IntVar(&o.conns, "n", 0, "SMTP connections at once (default: sized from the descriptor limit)")
	fs.IntVar(&o.hostConns, "P", smtpfeed.DefaultHostConcurrency, "most SMTP connections to one MX host; more open only while its queued work needs them")
	fs.IntVar(&o.reuseLimit, "reuse-limit", 0, "most SMTP transactions on one connection (0: no limit), as Postfix's smtp_connection_reuse_count_limit")
	fs.IntVar(&o.rate, "rate", 0, "most recipients sent to one MX host a minute (0: no limit), for providers that publish rates")
	fs.Bool("u", true, "reuse connections (accepted for compatibility; reuse is always on)")
	fs.StringVar(&o.fallback, "m", "", "fallback MX host of last resort ([address] for no MX lookup)")
	fs.StringVar(&o.routeMap, "M", "", "static route map FILE: a DOMAIN (or *.DOMAIN) and a ROUTE (MX, A, [address] or a host) a line; read again on SIGHUP")
	fs.Var(&o.aliases, "a", "another name of this host, dropped from MX lists like the HELO name (repeatable)")
	fs.StringVar(&o.family, "N", "", "address family: 4 (IPv4 only) or 6 (IPv6 only)")
	fs.BoolVar(&o.ipv4, "4", false, "IPv4 only (same as -N 4)")
	fs.StringVar(&o.prefer, "prefer", "4", "where a host has both families, which is tried first: 4 or 6 (the other follows within 250ms, RFC 8305)")
	fs.StringVar(&o.source, "o", "", "source address of SMTP connections")
	fs.Var(o.timeouts, "t", "timeout NAME=DURATION (repeatable); names: "+timeoutList())
	fs.StringVar(&o.logTo, "l", "mail", "log to syslog with this facility, or to stderr")
	fs.StringVar(&o.debug, "d", "", "debug classes: Q resolves only (the grouping by MX host goes to stderr), D delivers nothing; both answer every recipient 4xx")
	fs.BoolVar(&o.version, "V", false, "print the version and exit")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to FILE, for go tool pprof")
	fs.Var(&o.servers, "nameserver", "name server host[:port] (repeatable; default: those of -resolv-conf)")
	fs.IntVar(&o.port, "port", 25, "destination SMTP port")
	fs.IntVar(&o.maxQueries, "max-queries", smtpfeed.DefaultMaxOutstanding, "most DNS queries outstanding at once")
	fs.Int64Var(&o.maxSize, "size", lmtp.DefaultMaxSize, "largest message accepted, in octets (held in memory)")
	fs.IntVar(&o.lmtpRcpts, "max-rcpts", lmtp.DefaultMaxRcpts, "most recipients accepted per LMTP transaction")
	fs.StringVar(&o.rcptFile, "r", "", "with -d Q: read recipients from FILE, one address per line, instead of an LMTP session")
	fs.StringVar(&o.resolvConf, "resolv-conf", "/etc/resolv.conf", "resolver configuration file")
	fs.StringVar(&o.listen, "L", "", "serve LMTP on unix:/path or tcp:host:port instead of stdin/stdout (Postfix, Exim)")
	fs.IntVar(&o.sessions, "sessions", smtpfeed.DefaultMaxSessions, "with -L: most LMTP sessions at once")
	fs.IntVar(&o.mxAddrs, "mx-addrs", smtpfeed.DefaultMXAddrs, "most addresses tried for one domain, best MX first")
	fs.IntVar(&o.hostAddrs, "host-addrs", smtpfeed.DefaultHostAddrs, "most addresses tried for one MX host name")
	fs.Var(&o.lmtpAllow, "lmtp-allow", "with -L tcp: networks whose peers may hand over mail, CIDR (repeatable; default: loopback only)")
	fs.StringVar(&o.sockMode, "socket-mode", "0660", "with -L unix: the socket's permissions, octal, whatever the umask")
	fs.StringVar(&o.tlsLevel, "T", "may", "TLS security level of every domain the -tls-policy file does not name: none, may, encrypt, dane, dane-only, secure")
	fs.StringVar(&o.tlsPolicy, "tls-policy", "", "per-domain TLS policy file, in the shape of Postfix's smtp_tls_policy_maps (domain level [match=...])")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "PEM file of the roots the secure level verifies against (default: the system's)")
	fs.BoolVar(&o.trustAD, "trust-ad", false, "trust the AD bit of the name servers' answers (a validating resolver on this host): DANE needs it; resolv.conf's options trust-ad does the same")
	fs.Var(&o.allowLocal, "allow-local", "deliver to these local addresses anyway, CIDR (repeatable): a test network on loopback, or a relay on another port of this host")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: smtpfeed [flags]            (LMTP on stdin/stdout)\n       smtpfeed -d Q [flags] rcpt... | -r FILE\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	o.rcpts = fs.Args()
	if o.version {
		return o, nil
	}
	if o.one {
		o.rcptMax = 1
	}
	switch o.forRcpt {
	case 1:
		o.receivedFor = true
	case 2:
		o.verp = true
	}
	if o.ipv4 {
		o.family = "4"
	}
	switch {
	case strings.Trim(o.debug, "QD") != "":
		return nil, fmt.Errorf("-d %s: known classes are Q (resolve only) and D (deliver nothing)", o.debug)
	case o.logTo != "stderr" && facilities[strings.ToLower(o.logTo)] == 0:
		return nil, fmt.Errorf("-l %s: want stderr or a syslog facility (mail, daemon, user, local0..local7)", o.logTo)
	case o.family != "" && o.family != "4" && o.family != "6":
		return nil, fmt.Errorf("-N %s: want 4 or 6", o.family)
	case o.prefer != "4" && o.prefer != "6":
		return nil, fmt.Errorf("-prefer %s: want 4 or 6", o.prefer)
	case o.forRcpt > 2:
		return nil, fmt.Errorf("-F given %d times: once puts the recipient in a Received field, twice is VERP", int(o.forRcpt))
	case len(o.verpDelims) != 2 || !verpDelim(o.verpDelims[0]) || !verpDelim(o.verpDelims[1]):
		return nil, fmt.Errorf("-verp-delims %q: want two characters of an address's user part, like += or -=", o.verpDelims)
	case o.rcptMax < 1 || o.rcptMax > 100000:
		return nil, fmt.Errorf("-R %d: want 1..100000", o.rcptMax)
	case o.conns < 0:
		return nil, fmt.Errorf("-n %d: want a positive number", o.conns)
	case o.hostConns < 1 || o.hostConns > 1000:
		return nil, fmt.Errorf("-P %d: want 1..1000", o.hostConns)
	case o.reuseLimit < 0:
		return nil, fmt.Errorf("-reuse-limit %d: want 0 (no limit) or a positive number", o.reuseLimit)
	case o.rate < 0:
		return nil, fmt.Errorf("-rate %d: want 0 (no limit) or recipients a minute", o.rate)
	case o.port < 1 || o.port > 65535:
		return nil, fmt.Errorf("-port %d: want 1..65535", o.port)
	case o.maxQueries < 1 || o.maxQueries > 65536:
		return nil, fmt.Errorf("-max-queries %d: want 1..65536", o.maxQueries)
	case o.maxSize < 1:
		return nil, fmt.Errorf("-size %d: want a positive number of octets", o.maxSize)
	case o.listen != "" && !strings.HasPrefix(o.listen, "unix:") && !strings.HasPrefix(o.listen, "tcp:"):
		return nil, fmt.Errorf("-L %s: want unix:/path or tcp:host:port", o.listen)
	case o.mxAddrs < 1 || o.mxAddrs > 1000:
		return nil, fmt.Errorf("-mx-addrs %d: want 1..1000", o.mxAddrs)
	case o.hostAddrs < 1 || o.hostAddrs > 1000:
		return nil, fmt.Errorf("-host-addrs %d: want 1..1000", o.hostAddrs)
	case o.sessions < 1:
		return nil, fmt.Errorf("-sessions %d: want a positive number", o.sessions)
	case o.rcptFile != "" && len(o.rcpts) > 0:
		return nil, fmt.Errorf("give recipients either as arguments or with -r, not both")
	case (o.rcptFile != "" || len(o.rcpts) > 0) && !o.resolveOnly():
		return nil, fmt.Errorf("recipients on the command line need -d Q: give -d Q, or hand messages over LMTP on stdin")
	}
	if err := o.checkListen(); err != nil {
		return nil, err
	}
	if _, err := tlspolicy.ParseLevel(o.tlsLevel); err != nil {
		return nil, fmt.Errorf("-T: %w", err)
	}
	if o.source != "" {
		if _, err := netip.ParseAddr(o.source); err != nil {
			return nil, fmt.Errorf("-o %s: want an IP address", o.source)
		}
	}
	if o.rcptFile != "" {
		rcpts, err := readRcpts(o.rcptFile)
		if err != nil {
			return nil, err
		}
		if len(rcpts) == 0 {
			return nil, fmt.Errorf("no recipients in %s", o.rcptFile)
		}
		o.rcpts = rcpts
	}
	for _, a := range o.rcpts {
		if _, _, err := lmtp.SplitAddress(a); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// verpDelim reports a delimiter that keeps a VERP sender's user part a
// dot-atom (RFC 5322 atext, the dot aside).
func verpDelim(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// defaultLMTPAllow is who may use a TCP listener without -lmtp-allow.
var defaultLMTPAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// checkListen refuses a listener that would be an open relay: a TCP one
// on an address others can reach, with no networks named to admit.
func (o *options) checkListen() error {
	if _, err := o.socketMode(); err != nil {
		return err
	}
	addr, ok := strings.CutPrefix(o.listen, "tcp:")
	if !ok {
		return nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return fmt.Errorf("-L %s: want tcp:address:port, like tcp:127.0.0.1:2003", o.listen)
	}
	if !ap.Addr().Unmap().IsLoopback() && len(o.lmtpAllow) == 0 {
		return fmt.Errorf("-L %s: an LMTP listener on a non-loopback address relays mail for whoever reaches it; name the networks allowed with -lmtp-allow", o.listen)
	}
	return nil
}

// socketMode is -socket-mode as permission bits.
func (o *options) socketMode() (os.FileMode, error) {
	m, err := strconv.ParseUint(o.sockMode, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("-socket-mode %s: want octal permission bits, like 0660", o.sockMode)
	}
	return os.FileMode(m), nil
}

func timeoutList() string {
	var names []string
	for n := range timeoutNames {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
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

// interfaceAddrs are this host's interface addresses: mail to any of
// them loops back. A host whose interfaces cannot be listed still has
// loopback and the unspecified addresses checked.
func interfaceAddrs() []netip.Addr {
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range ifs {
		if n, ok := a.(*net.IPNet); ok {
			if x, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, x.Unmap())
			}
		}
	}
	return out
}

// heloName is -c, or the host's name.
func (o *options) heloName() string {
	if o.helo != "" {
		return o.helo
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// resolverConfig turns the options into the resolver's configuration.
func (o *options) resolverConfig() (smtpfeed.ResolverConfig, error) {
	cfg := smtpfeed.ResolverConfig{MaxOutstanding: o.maxQueries, IPv4Only: o.family == "4", PreferIPv6: o.family == "6" || o.prefer == "6",
		Timeout: o.timeouts["dns"], MaxMXAddrs: o.mxAddrs, MaxHostAddrs: o.hostAddrs, TrustAD: o.trustAD}
	cfg.Own = append([]string{o.heloName()}, o.aliases...)
	if len(o.servers) > 0 {
		for _, s := range o.servers {
			a, err := resolv.ParseServer(s)
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
	rc, err := resolv.ParseConf(f)
	if err != nil {
		return cfg, err
	}
	cfg.Servers, cfg.Rotate, cfg.RetransmitCeiling = rc.Servers, rc.Rotate, rc.Timeout
	cfg.TrustAD = cfg.TrustAD || rc.TrustAD
	return cfg, nil
}

// tlsConfig reads -T, -tls-policy and -tls-ca.
func (o *options) tlsConfig() (smtpfeed.TLSConfig, error) {
	var cfg smtpfeed.TLSConfig
	cfg.Level, _ = tlspolicy.ParseLevel(o.tlsLevel) // checked in parseFlags
	if o.tlsPolicy != "" {
		f, err := os.Open(o.tlsPolicy)
		if err != nil {
			return cfg, fmt.Errorf("-tls-policy: %w", err)
		}
		defer f.Close()
		if cfg.Policies, err = tlspolicy.Parse(o.tlsPolicy, f); err != nil {
			return cfg, fmt.Errorf("-tls-policy: %w", err)
		}
	}
	if o.tlsCA != "" {
		pem, err := os.ReadFile(o.tlsCA)
		if err != nil {
			return cfg, fmt.Errorf("-tls-ca: %w", err)
		}
		cfg.Roots = x509.NewCertPool()
		if !cfg.Roots.AppendCertsFromPEM(pem) {
			return cfg, fmt.Errorf("-tls-ca %s: no PEM certificate in it", o.tlsCA)
		}
	}
	return cfg, nil
}

// engineConfig turns the options into the engine's configuration.
func (o *options) engineConfig(res smtpfeed.ResolverConfig, fdLimit uint64) smtpfeed.Config {
	cfg := smtpfeed.Config{
		Resolver:         res,
		SMTP:             smtp.Config{Hostname: o.heloName(), MaxRcpts: o.rcptMax},
		ConnectTimeout:   o.timeouts["connect"],
		ConnLifetime:     o.timeouts["connection"],
		Port:             uint16(o.port),
		MaxConns:         o.conns,
		HostConcurrency:  o.hostConns,
		ConnTransactions: o.reuseLimit,
		HostRate:         o.rate,
		Backoff:          o.timeouts["backoff"],
		Apart:            o.apart,
		TraceRcpt:        o.receivedFor,
		Fallback:         o.fallback,
		Routes:           o.routes,
		Grace:            o.timeouts["grace"],
		Gather:           o.timeouts["gather"],
		RaceDelay:        o.timeouts["race"],
		IdleTime:         o.timeouts["idle"],
		DownTime:         o.timeouts["down"],
		MessageTimeout:   o.timeouts["message"],
		TLS:              o.tls,
		// -d QD: resolve-only sends nothing either, and needs the
		// resolver that delivering nothing does without.
		DeliverNothing: o.deliverNothing() && !o.resolveOnly(),
	}
	if o.family != "" {
		cfg.Family, _ = strconv.Atoi(o.family)
	}
	if o.verp {
		cfg.VERP = &smtp.VERP{Plus: o.verpDelims[0], Equals: o.verpDelims[1]}
	}
	if o.source != "" {
		cfg.Source = netip.MustParseAddr(o.source)
	}
	if cfg.MaxConns == 0 {
		sessions := 0
		if o.listen != "" {
			sessions = o.sessions
		}
		cfg.MaxConns = smtpfeed.MaxConnsFor(fdLimit, smtpfeed.FDReserve(len(res.Servers), sessions))
	}
	cfg.Self = smtpfeed.NewSelf(append(interfaceAddrs(), cfg.Source), o.allowLocal)
	for _, n := range smtp.TimeoutNames() {
		if d, ok := o.timeouts[n]; ok {
			cfg.SMTP.Timeouts.SetTimeout(n, d)
		}
	}
	return cfg
}
