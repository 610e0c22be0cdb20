package smtpfeed

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"smtpfeed/reactor"
)

// zone is a tiny authoritative server for tests: records by owner, and
// names that misbehave.
type zone struct {
	rrs      []dns.RR
	servfail map[string]bool
	refused  map[string]bool
	truncate map[string]bool // UDP answers carry TC and nothing else
	silent   map[string]bool
	// garbled names are answered with the query's ID and a record that
	// does not parse (a compression pointer to itself); all of them when
	// garbleAll.
	garbled   map[string]bool
	garbleAll bool
	// ad sets the AD bit on every answer: a validating resolver's
	// "secure".
	ad bool
	// glueA leaves AAAA records out of MX answers' additional
	// sections, as many servers do.
	glueA bool
	extra map[string][]dns.RR // additional records added to answers for a name
	// before, when set, may write extra datagrams (forgeries) before the
	// real answer; it runs on the server's goroutine.
	before func(w dns.ResponseWriter, q *dns.Msg)
	// drop, when set, says whether to drop a query; n counts earlier
	// queries for the same question.
	drop func(q dns.Question, n int) bool

	mu     sync.Mutex
	counts map[string]int // "name TYPE transport"
	byName map[string][]dns.RR
}

func newZone(t testing.TB, records ...string) *zone {
	z := &zone{servfail: map[string]bool{}, refused: map[string]bool{}, truncate: map[string]bool{}, silent: map[string]bool{}, garbled: map[string]bool{}, extra: map[string][]dns.RR{}, counts: map[string]int{}}
	for _, s := range records {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("NewRR(%q): %v", s, err)
		}
		z.rrs = append(z.rrs, r)
	}
	return z
}

func (z *zone) count(name string, qtype uint16, transport string) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.counts[strings.ToLower(dns.Fqdn(name))+" "+dns.TypeToString[qtype]+" "+transport]
}

func (z *zone) total() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	n := 0
	for _, c := range z.counts {
		n += c
	}
	return n
}

func (z *zone) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	if len(q.Question) != 1 {
		return
	}
	qq := q.Question[0]
	name := strings.ToLower(qq.Name)
	transport := w.RemoteAddr().Network()
	key := name + " " + dns.TypeToString[qq.Qtype] + " " + transport
	z.mu.Lock()
	n := z.counts[key]
	z.counts[key]++
	z.mu.Unlock()
	if z.silent[name] || (z.drop != nil && transport == "udp" && z.drop(qq, n)) {
		return
	}
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	m.AuthenticatedData = z.ad
	if z.garbled[name] || z.garbleAll {
		w.Write(garble(m))
		return
	}
	switch {
	case z.servfail[name]:
		m.Rcode = dns.RcodeServerFailure
	case z.refused[name]:
		m.Rcode = dns.RcodeRefused
	case z.truncate[name] && transport == "udp":
		m.Truncated = true
	default:
		z.fill(m, name, qq.Qtype)
	}
	if z.before != nil {
		z.before(w, q)
	}
	w.WriteMsg(m)
}

// fill answers like an authoritative server: CNAMEs chased inside the
// zone, MX targets' addresses in the additional section.
func (z *zone) fill(m *dns.Msg, name string, qtype uint16) {
	exists := false
	for hops := 0; hops < 20; hops++ {
		var cname string
		for _, r := range z.byName[name] {
			h := r.Header()
			exists = true
			if c, ok := r.(*dns.CNAME); ok && qtype != dns.TypeCNAME {
				m.Answer = append(m.Answer, r)
				cname = strings.ToLower(c.Target)
			} else if h.Rrtype == qtype {
				m.Answer = append(m.Answer, r)
				if mx, ok := r.(*dns.MX); ok {
					for _, a := range z.byName[strings.ToLower(mx.Mx)] {
						if strings.EqualFold(a.Header().Name, mx.Mx) && strings.HasSuffix(strings.ToLower(mx.Mx), ".test.") && (a.Header().Rrtype == dns.TypeA || (a.Header().Rrtype == dns.TypeAAAA && !z.glueA)) {
							m.Extra = append(m.Extra, a)
						}
					}
				}
			}
		}
		if cname == "" {
			break
		}
		name, exists = cname, false
	}
	m.Extra = append(m.Extra, z.extra[name]...)
	if !exists && len(m.Answer) == 0 {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 || m.Answer[len(m.Answer)-1].Header().Rrtype == dns.TypeCNAME {
		soa, _ := dns.NewRR("test. 300 IN SOA ns.test. h.test. 1 3600 600 86400 300")
		m.Ns = append(m.Ns, soa)
	}
}

// serve starts z on 127.0.0.1, UDP and TCP on one port, until the test
// ends.
func (z *zone) serve(t testing.TB) netip.AddrPort {
	t.Helper()
	z.byName = map[string][]dns.RR{}
	for _, r := range z.rrs {
		n := strings.ToLower(r.Header().Name)
		z.byName[n] = append(z.byName[n], r)
	}
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		pc, err = net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen udp: %v", err)
		}
		ln, err = net.Listen("tcp4", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if try > 20 {
			t.Fatalf("listen tcp: %v", err)
		}
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: z}, {Listener: ln, Handler: z}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// harness is a loop and a resolver over it.
type harness struct {
	t     testing.TB
	loop  *reactor.Loop
	clock *reactor.FakeClock // nil: the real clock
	r     *Resolver
}

func newHarness(t testing.TB, clock *reactor.FakeClock, cfg ResolverConfig) *harness {
	t.Helper()
	var c reactor.Clock
	if clock != nil {
		c = clock
	}
	l, err := reactor.New(c)
	if err != nil {
		t.Fatalf("reactor.New: %v", err)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	r, err := NewResolver(l, cfg)
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	t.Cleanup(func() { r.Close(); l.Shutdown() })
	return &harness{t: t, loop: l, clock: clock, r: r}
}

// lookupAll starts every lookup at once and runs the loop until all have
// ended, failing after realLimit of real time. With a fake clock each
// pass that finds nothing to do moves the clock by tick.
func (h *harness) lookupAll(domains []string, realLimit, tick time.Duration) map[string]MXResult {
	h.t.Helper()
	got := make(map[string]MXResult, len(domains))
	pending := 0
	for _, d := range domains {
		pending++
		h.r.LookupMX(d, func(res MXResult) {
			pending--
			got[d] = res
		})
	}
	deadline := time.Now().Add(realLimit)
	for pending > 0 {
		if time.Now().After(deadline) {
			h.t.Fatalf("lookups: %d of %d not done after %v (real time)", pending, len(domains), realLimit)
		}
		limit := 50 * time.Millisecond
		if h.clock != nil {
			limit = time.Millisecond
		}
		if err := h.loop.Step(limit); err != nil {
			h.t.Fatalf("Step: %v", err)
		}
		if h.clock != nil {
			h.clock.Advance(tick)
		}
	}
	return got
}

func addrsOf(h MailHost) []string {
	var out []string
	for _, a := range h.Addrs {
		out = append(out, a.Addr.String()+"/"+a.From.String())
	}
	return out
}

// garble packs m's header and question with an answer count of one and,
// for that answer, an owner name that is a compression pointer to itself:
// a response with the right ID that no parser may accept.
func garble(m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	b[6], b[7] = 0, 1 // ANCOUNT
	off := len(b)
	return append(b, 0xc0|byte(off>>8), byte(off), 0, 15, 0, 1, 0, 0, 0, 60, 0, 0)
}
