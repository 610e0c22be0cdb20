package smtpfeed

import (
	crand "crypto/rand"
	"errors"
	"math/rand/v2"
	"net/netip"
	"smtpfeed/proto/tlspolicy"
	"time"

	"smtpfeed/cache"
	"smtpfeed/proto/resolv"
	"smtpfeed/reactor"
)

const (
	// DefaultDNSTimeout is the total time one lookup may take, the
	// original's 75 s (the classic stub resolver's worst case).
	DefaultDNSTimeout = 75 * time.Second
	// DefaultMaxOutstanding is the ceiling of the adaptive window of
	// queries on the wire (-max-queries). Measured with BenchmarkResolveSim's
	// world (10,000 domains, 50 ms per query, 2 cores, simulated server in
	// the same process), 3 runs each, with the paced window: a fixed cap
	// of 256 took 2.16 s (cap/RTT bound the rate); the window growing from
	// 256 to a ceiling of 2,048 took 0.52-0.54 s, to 4,096 0.48-0.68 s,
	// unbounded 0.40-0.51 s: beyond a few thousand the CPU, not the
	// window, is the limit (the loop alone spends about 0.2 s, see
	// loop-cpu/bound), and a ceiling keeps a server that never drops from
	// being sent 10,000 at once.
	DefaultMaxOutstanding = 4096
	// DefaultInitialWindow is where the window starts and its floor: the
	// old fixed cap, measured loss-free against loopback nsd and simnet
	// with the system's default 208 KiB socket buffer, where bursts of
	// 1,000 and more were dropped.
	DefaultInitialWindow = 256
	// DefaultMXAddrs and DefaultHostAddrs cap the addresses tried for one
	// domain, best MX first, and for one MX host name, as Postfix's
	// smtp_mx_address_limit (5) does: a hostile or broken domain may name
	// thousands of hosts with thousands of addresses each, and each
	// address tried may cost a connect timeout. Ten is two of Postfix's
	// (a list reaches providers with several MX hosts of both families);
	// five per name covers a host's A and AAAA sets as published.
	DefaultMXAddrs   = 10
	DefaultHostAddrs = 5
	// maxOpenTries is how many tries of one query keep their socket open:
	// a late answer to an earlier try still counts, but a query against a
	// dead server does not pile up descriptors.
	maxOpenTries = 3
)

// ResolverConfig configures a Resolver. Zero fields take the defaults.
type ResolverConfig struct {
	Servers []netip.AddrPort // name servers, asked in turn
	Rotate  bool             // start successive queries at successive servers
	// TrustAD believes the servers' AD bit (-trust-ad, resolv.conf's
	// options trust-ad): they validate DNSSEC. DANE needs it.
	TrustAD bool
	// Timeout bounds each MX lookup from start to result (-t dns=).
	Timeout time.Duration
	// RetransmitFloor and RetransmitCeiling clamp the retransmission
	// timeout computed from each server's round trips.
	RetransmitFloor   time.Duration
	RetransmitCeiling time.Duration
	// MaxOutstanding is the ceiling of the adaptive window of queries on
	// the wire (-max-queries); InitialWindow is where the window starts.
	MaxOutstanding int
	InitialWindow  int
	IPv4Only       bool // ask no AAAA, use no IPv6 address
	// PreferIPv6 keeps a host's IPv6 addresses first when the caps below
	// cut its list (-N 6: the engine uses only those; A is still asked,
	// so a domain with no IPv6 host is deferred, not bounced).
	PreferIPv6 bool
	// MaxMXAddrs and MaxHostAddrs cap the addresses a domain's result
	// holds, in all and per MX host name (see DefaultMXAddrs).
	MaxMXAddrs, MaxHostAddrs int
	Own                      []string // our own names: the HELO name and aliases
	Cache                    cache.Limits
	// Rand supplies query IDs and the order of equal MX preferences;
	// nil seeds a ChaCha8 generator from crypto/rand.
	Rand *rand.Rand
}

func (c ResolverConfig) withDefaults() ResolverConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultDNSTimeout
	}
	if c.RetransmitFloor <= 0 {
		c.RetransmitFloor = RetransmitFloor
	}
	if c.RetransmitCeiling <= 0 {
		c.RetransmitCeiling = RetransmitCeiling
	}
	c.RetransmitCeiling = max(c.RetransmitCeiling, c.RetransmitFloor)
	if c.MaxOutstanding <= 0 {
		c.MaxOutstanding = DefaultMaxOutstanding
	}
	if c.InitialWindow <= 0 {
		c.InitialWindow = DefaultInitialWindow
	}
	if c.MaxMXAddrs <= 0 {
		c.MaxMXAddrs = DefaultMXAddrs
	}
	if c.MaxHostAddrs <= 0 {
		c.MaxHostAddrs = DefaultHostAddrs
	}
	if c.Cache == (cache.Limits{}) {
		c.Cache = cache.DefaultLimits
	}
	if c.Rand == nil {
		var seed [32]byte
		crand.Read(seed[:])
		c.Rand = rand.New(rand.NewChaCha8(seed))
	}
	return c
}

// Stats counts what the resolver did.
type Stats struct {
	Queries        int // distinct questions sent (once each, retries not counted)
	UDPSent        int // UDP datagrams sent, retransmissions included
	TCPSent        int // queries sent over TCP
	Mismatched     int // replies dropped for a wrong ID or question, or not a response
	Malformed      int // responses with the query's ID that did not parse
	CacheHits      int // questions answered from the cache
	Joined         int // questions that joined one already in flight
	Timeouts       int // questions no server answered in time
	MaxOutstanding int // the most queries on the wire at once
	UDPSockets     int // UDP sockets opened
	WindowCuts     int // times a retransmission timeout cut the window
	// Queued counts retransmission timers that waited longer instead of
	// retransmitting: the server was still answering tries sent before
	// the late one and none sent after it, so the try was queued behind
	// them, not lost.
	Queued int
}

// reply is what a question came to, from the wire or the cache.
type reply struct {
	set    rrset
	neg    cache.Negative // 0: set holds the answer
	cached bool
	why    string        // for failures: what failed, naming the server
	ttl    time.Duration // how long the cache keeps it (from the wire)
}

// rrset is the cached form of a positive answer.
type rrset struct {
	mx        []resolv.MX // with their glue
	addrs     []netip.Addr
	canonical string
	kind      resolv.Kind // KindData or KindCNAME
	chain     uint8       // at most resolv.MaxCNAME+1; small, as one is cached per name
	// secure: a server trusted to validate (TrustAD) set the AD bit.
	secure bool
	tlsa   *[]tlspolicy.TLSA // a TLSA answer's records; a pointer, since few answers have any
}

// Resolver runs DNS lookups inside a reactor loop.
type Resolver struct {
	loop     *reactor.Loop
	cfg      ResolverConfig
	servers  []*nameServer
	rotor    int
	own      map[string]bool
	names    map[string]string // MX host names, interned (resolver_intern.go)
	cache    *cache.DNS[rrset]
	inflight map[resolv.Question]*query
	waiting  []*query // FIFO of queries held back by the window
	onWire   int
	fresh    int    // queries whose first try is out and not yet timed out
	onStall  func() // called when the last fresh query goes stale (SetStallHook)
	win      window
	pacer    *reactor.Timer          // wakes launchWaiting when only pacing holds queries back
	sockets  map[*udpSocket]struct{} // every open UDP socket, retired ones too
	buf      []byte                  // TCP answers
	dgrams   *reactor.Datagrams      // UDP answers, a socket's batch at a time
	writer   *reactor.DatagramWriter // UDP tries, a socket's queue at a time (resolver_send.go)
	unsent   []*udpSocket            // sockets with tries queued since the last flush
	msgs     [][]byte                // the flush's scratch
	outs     []outgoing              // the tries of msgs
	stats    Stats
}

// NewResolver makes a resolver that runs in loop.
func NewResolver(loop *reactor.Loop, cfg ResolverConfig) (*Resolver, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Servers) == 0 {
		return nil, errors.New("resolver: no name servers")
	}
	r := &Resolver{
		loop: loop, cfg: cfg, own: make(map[string]bool), names: make(map[string]string),
		cache:    cache.NewDNS[rrset](cfg.Cache),
		inflight: make(map[resolv.Question]*query),
		win:      newWindow(cfg.InitialWindow, cfg.MaxOutstanding),
		sockets:  make(map[*udpSocket]struct{}),
		buf:      make([]byte, resolv.MaxMessage),
		dgrams:   reactor.NewDatagrams(maxReadsPerWakeup, udpAnswerRoom),
		writer:   reactor.NewDatagramWriter(triesPerRun),
	}
	loop.BeforeWait(r.flush)
	for _, s := range cfg.Servers {
		r.servers = append(r.servers, &nameServer{addr: s})
	}
	for _, n := range cfg.Own {
		r.own[resolv.Canonical(n)] = true
	}
	return r, nil
}

// Stats reports the counters so far.
func (r *Resolver) Stats() Stats { return r.stats }

// Stalled reports that queries are outstanding but no answer is due:
// every query on the wire has timed out at least once (its name server
// is silent or slow), and none waits to be sent. Answers to queries in
// their first round trip, or queued behind others at a busy server,
// are due; a silent server's are not.
func (r *Resolver) Stalled() bool {
	return len(r.inflight) > 0 && r.fresh == 0 && len(r.waiting) == 0
}

// Backlogged reports queries held back by the window, not yet sent.
func (r *Resolver) Backlogged() bool { return len(r.waiting) > 0 }

// SetStallHook sets f to be called, once the current handler is done,
// each time the resolver stalls (Stalled turns true).
func (r *Resolver) SetStallHook(f func()) { r.onStall = f }

// stale ends qq's first round trip: it was answered, failed, or is tried
// again. The last fresh query going stale with others still out stalls
// the resolver.
func (r *Resolver) stale(qq *query) {
	if !qq.fresh {
		return
	}
	qq.fresh = false
	r.fresh--
	if r.fresh == 0 && r.onStall != nil {
		r.loop.Later(func(time.Time) {
			if r.Stalled() {
				r.onStall()
			}
		})
	}
}

// Outstanding reports how many queries are on the wire and how many wait.
func (r *Resolver) Outstanding() (onWire, waiting int) { return r.onWire, len(r.waiting) }

func (r *Resolver) newID() uint16 {
	return uint16(r.cfg.Rand.Uint32())
}

// ask gets the answer to q and calls done with it: at once from the cache,
// or when the query in flight for q (joined, or started now) ends.
func (r *Resolver) ask(q resolv.Question, now time.Time, done func(time.Time, reply)) {
	if set, neg, ok := r.cache.Get(cache.Key{Name: q.Name, Type: q.Type}, now); ok {
		r.stats.CacheHits++
		rep := reply{set: set, neg: neg, cached: true}
		if neg != 0 {
			rep.why = "cached " + neg.String() // built only when a failure will quote it
		}
		done(now, rep)
		return
	}
	if qq := r.inflight[q]; qq != nil {
		r.stats.Joined++
		qq.waiters = append(qq.waiters, done)
		return
	}
	qq := &query{r: r, q: q, waiters: []func(time.Time, reply){done}, deadline: now.Add(r.cfg.Timeout)}
	if r.cfg.Rotate {
		qq.base = int32(r.rotor % len(r.servers))
		r.rotor++
	}
	r.inflight[q] = qq
	r.stats.Queries++
	r.waiting = append(r.waiting, qq)
	r.launchWaiting(now)
}

func (r *Resolver) launch(qq *query, now time.Time) {
	r.onWire++
	r.stats.MaxOutstanding = max(r.stats.MaxOutstanding, r.onWire)
	qq.start(now)
}

// finished is called by a query that left the wire: it caches the result,
// frees the slot and starts the next waiting query.
func (r *Resolver) finished(qq *query, now time.Time, rep reply, wasOnWire bool) {
	r.stale(qq)
	delete(r.inflight, qq.q)
	if len(r.inflight) == 0 {
		// A Go map keeps its buckets after its entries are deleted: a
		// burst of 20,000 lookups left 1 MB behind for the whole run.
		r.inflight = make(map[resolv.Question]*query)
	}
	if wasOnWire {
		r.onWire--
	}
	k := cache.Key{Name: qq.q.Name, Type: qq.q.Type}
	if rep.neg == 0 {
		r.cache.Put(k, rep.set, rep.ttl, now)
	} else {
		r.cache.PutNegative(k, rep.neg, rep.ttl, now)
	}
	r.launchWaiting(now)
	for _, w := range qq.waiters {
		w(now, rep)
	}
}

// launchWaiting starts waiting queries while the window has room and the
// pacer allows; when only the pacer holds them back, its timer calls again.
func (r *Resolver) launchWaiting(now time.Time) {
	for len(r.waiting) > 0 && r.onWire < r.win.limit() {
		if !r.win.mayPace(now) {
			r.armPacer()
			return
		}
		next := r.waiting[0]
		r.waiting[0] = nil
		r.waiting = r.waiting[1:]
		if len(r.waiting) == 0 {
			r.waiting = nil // let the burst's backing array go
		}
		if !now.Before(next.deadline) {
			next.finish(now, reply{neg: cache.Timeout, why: "timed out waiting to be sent"}, false)
			continue
		}
		r.launch(next, now)
	}
}

// armPacer sets the pacer's timer for when the next datagram may go,
// unless it is set earlier already.
func (r *Resolver) armPacer() {
	if r.pacer == nil {
		r.pacer = r.loop.AddTimer(r.win.next, r.launchWaiting)
		return
	}
	if !r.pacer.Pending() || r.pacer.When().After(r.win.next) {
		r.loop.ResetTimer(r.pacer, r.win.next)
	}
}

// lost shrinks the window for try t, whose retransmission timer fired at
// now.
func (r *Resolver) lost(t try, now time.Time) {
	cut := r.win.cut
	r.win.lost(t.sent, t.delivered, now)
	if r.win.cut != cut {
		r.stats.WindowCuts++
	}
}

// pick chooses the server for a query's next try: the next one in turn
// that has not failed this query and is not avoided, or failing that the
// next in turn.
func (r *Resolver) pick(qq *query, now time.Time) (int, *nameServer) {
	n := len(r.servers)
	for i := range n {
		idx := (int(qq.base) + int(qq.tries) + i) % n
		s := r.servers[idx]
		if !qq.failedOn(idx) && !s.avoided(now) {
			return idx, s
		}
	}
	for i := range n {
		idx := (int(qq.base) + int(qq.tries) + i) % n
		if !qq.failedOn(idx) {
			return idx, r.servers[idx]
		}
	}
	idx := (int(qq.base) + int(qq.tries)) % n
	return idx, r.servers[idx]
}

// Close ends every query in flight (their lookups time out as usual) and
// closes their sockets.
func (r *Resolver) Close() {
	for _, qq := range r.inflight {
		qq.closeAll()
	}
	clear(r.inflight)
	if r.pacer != nil {
		r.loop.StopTimer(r.pacer)
	}
	r.closeSockets()
	r.waiting = nil
	r.onWire, r.fresh = 0, 0
}
