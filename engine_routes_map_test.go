package smtpfeed

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/routemap"
	"smtpfeed/proto/smtp"
)

// routeZone is a zone where every domain's MX records lead nowhere
// (gone.test does not exist), so that only a route gets its mail
// delivered. The hosts routes name have addresses of their own, each
// with a go-smtp server (routeRun): relay.test 127.0.0.2, mx.test
// 127.0.0.3, own.test 127.0.0.4; the address literal is 127.0.0.5.
var routeZone = []string{
	"routed.test. MX 10 gone.test.",
	"literal.test. MX 10 gone.test.",
	"own.test. MX 10 gone.test.",
	"own.test. A 127.0.0.4",
	"exempt.wild.test. MX 10 mx.test.",
	"plain.test. MX 10 mx.test.",
	"xn--bcher-kva.test. MX 10 gone.test.",
	"relay.test. A 127.0.0.2",
	"mx.test. A 127.0.0.3",
}

const routeMapFile = `# routes for the tests
routed.test        relay.test
literal.test       [127.0.0.5]
own.test           A
*.wild.test        relay.test.
exempt.wild.test   MX
*.a.wild.test      [127.0.0.5]
bücher.test        RELAY.test
broken.test        nxrelay.test
`

// routeRun is a zoneRun over routeZone with a go-smtp server on each of
// its hosts' addresses, all on the port the engine connects to.
type routeRun struct {
	*zoneRun
	at map[string]*goSMTPBackend // by address
}

func newRouteRun(t *testing.T, tweak func(*Config)) *routeRun {
	t.Helper()
	z := newZoneRun(t, routeZone, tweak)
	r := &routeRun{zoneRun: z, at: map[string]*goSMTPBackend{}}
	for _, a := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		be := &goSMTPBackend{}
		serveSMTPAt(t, be, a, netip.AddrPortFrom(netip.MustParseAddr(a), z.e.cfg.Port).String(), 0, nil)
		r.at[a] = be
	}
	return r
}

// where is the address of the server that took rcpt, "" for none.
func (r *routeRun) where(rcpt string) string {
	for a, be := range r.at {
		for _, m := range be.received() {
			if slices.Contains(m.rcpts, rcpt) {
				return a
			}
		}
	}
	return ""
}

func parseRoutes(t *testing.T, file string) *routemap.Map {
	t.Helper()
	m, err := routemap.Parse("routes.map", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEngineRouteMap: each kind of route sends its domain's mail where
// it says, a domain the map does not name (or exempts) gets its MX
// hosts, and a route whose host does not exist defers, naming the route.
func TestEngineRouteMap(t *testing.T) {
	z := newRouteRun(t, func(c *Config) { c.Routes = parseRoutes(t, routeMapFile) })
	tests := []struct {
		rcpt   string
		status smtp.Status
		at     string // the server that took it
		relay  string // the Outcome's relay
		text   string // in the Outcome's text
	}{
		{"u@routed.test", smtp.Delivered, "127.0.0.2", "relay.test[127.0.0.2]", ""},
		{"u@literal.test", smtp.Delivered, "127.0.0.5", "[127.0.0.5]", ""},
		{"u@own.test", smtp.Delivered, "127.0.0.4", "own.test[127.0.0.4]", ""},
		{"u@x.wild.test", smtp.Delivered, "127.0.0.2", "relay.test[127.0.0.2]", ""},
		{"u@y.x.wild.test", smtp.Delivered, "127.0.0.2", "relay.test[127.0.0.2]", ""},
		{"u@b.a.wild.test", smtp.Delivered, "127.0.0.5", "[127.0.0.5]", ""}, // the longest "*." wins
		{"u@exempt.wild.test", smtp.Delivered, "127.0.0.3", "mx.test[127.0.0.3]", ""},
		{"u@wild.test", smtp.Bounced, "", "", "wild.test does not exist"}, // "*." covers names below only
		{"u@plain.test", smtp.Delivered, "127.0.0.3", "mx.test[127.0.0.3]", ""},
		{"u@xn--bcher-kva.test", smtp.Delivered, "127.0.0.2", "relay.test[127.0.0.2]", ""}, // the map's U-label
		{"u@broken.test", smtp.Deferred, "", "", "broken.test is routed to nxrelay.test (route map line 9): domain nxrelay.test does not exist"},
	}
	rcpts := make([]string, len(tests))
	for i, tc := range tests {
		rcpts[i] = tc.rcpt
	}
	got := z.deliver(t, rcpts...)
	for i, tc := range tests {
		o := got[i]
		if o.Status != tc.status || o.Relay != tc.relay || !strings.Contains(o.Text, tc.text) {
			t.Errorf("%s: %v %q relay %q; want %v relay %q, text with %q", tc.rcpt, o.Status, o.Text, o.Relay, tc.status, tc.relay, tc.text)
		}
		if at := z.where(tc.rcpt); at != tc.at {
			t.Errorf("%s: taken by the server at %q, want %q", tc.rcpt, at, tc.at)
		}
	}
	if o := got[len(got)-1]; o.Code != 451 || o.Enhanced != "4.4.3" {
		t.Errorf("a route to a host that does not exist: %d %s, want 451 4.4.3 (the operator's to fix)", o.Code, o.Enhanced)
	}
}

// TestEngineRouteMapLoop: a route to this host is dropped as a best MX
// of this host's is (dropSelf): the recipients hear 5.4.6, nothing is
// sent.
func TestEngineRouteMapLoop(t *testing.T) {
	z := newRouteRun(t, func(c *Config) {
		c.Routes = parseRoutes(t, "literal.test [127.0.0.9]\n")
		// 127.0.0.9 is loopback, this host's; the test hosts are allowed.
		c.Self = NewSelf(nil, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/29")})
	})
	got := z.deliver(t, "u@literal.test", "u@plain.test")
	if o := got[0]; o.Code != 554 || o.Enhanced != "5.4.6" || !strings.Contains(o.Text, "loops back to myself") {
		t.Errorf("routed to this host: %v, want 554 5.4.6", o)
	}
	if o := got[1]; o.Status != smtp.Delivered {
		t.Errorf("u@plain.test: %v, want delivered", o)
	}
}

// TestEngineRouteMapFallback: -m stays the fallback of last resort once
// the routed host fails.
func TestEngineRouteMapFallback(t *testing.T) {
	z := newRouteRun(t, func(c *Config) {
		// Nothing listens on 127.0.0.9: its connects are refused.
		c.Routes = parseRoutes(t, "routed.test [127.0.0.9]\n")
		c.Fallback = "mx.test"
	})
	o := z.deliver(t, "u@routed.test")[0]
	if o.Status != smtp.Delivered || o.Relay != "mx.test[127.0.0.3]" || z.where("u@routed.test") != "127.0.0.3" {
		t.Fatalf("u@routed.test: %v via %q, want delivered by the fallback mx.test[127.0.0.3]", o, o.Relay)
	}
}

// TestEngineSetRoutes: a new map applies to the messages after it; a
// message whose lookups began under the old map keeps its routes.
func TestEngineSetRoutes(t *testing.T) {
	z := newRouteRun(t, func(c *Config) { c.Routes = parseRoutes(t, "routed.test relay.test\n") })
	if o := z.deliver(t, "u1@routed.test")[0]; o.Relay != "relay.test[127.0.0.2]" {
		t.Fatalf("under the first map: %v via %q, want relay.test", o, o.Relay)
	}
	// The message starts (its lookups with it) before the map changes.
	var got []Outcome
	done := false
	m := &Message{From: "list-bounces@lists.test", Rcpts: []string{"u2@routed.test"}, Data: []byte(sim.TestMessage)}
	z.e.Deliver(m, func(_ int, o Outcome) { got = append(got, o) }, func() { done = true })
	z.e.SetRoutes(parseRoutes(t, "routed.test [127.0.0.5]\n"))
	stepUntil(t, z.e.loop, func() bool { return done }, 10*time.Second)
	if len(got) != 1 || got[0].Relay != "relay.test[127.0.0.2]" || z.where("u2@routed.test") != "127.0.0.2" {
		t.Fatalf("a message begun under the first map: %v, want it delivered via relay.test", got)
	}
	if o := z.deliver(t, "u3@routed.test")[0]; o.Relay != "[127.0.0.5]" || z.where("u3@routed.test") != "127.0.0.5" {
		t.Fatalf("after SetRoutes: %v via %q, want [127.0.0.5]", o, o.Relay)
	}
	z.e.SetRoutes(nil)
	if o := z.deliver(t, "u4@routed.test")[0]; o.Status != smtp.Bounced {
		t.Fatalf("with no map: %v, want the MX lookup's bounce (gone.test does not exist)", o)
	}
}

// TestLookupHost: the route map's A asks the domain's addresses only,
// never its MX, and makes them an implicit MX of preference 0; a name
// without addresses fails as an implicit MX's would; the answer never
// comes from inside the call.
func TestLookupHost(t *testing.T) {
	z := newZone(t,
		"hasmx.test. 300 IN MX 10 mx.elsewhere.test.",
		"hasmx.test. 300 IN A 192.0.2.7",
		"cname.test. 300 IN CNAME hasmx.test.",
	)
	srv := z.serve(t)
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{srv}, IPv4Only: true, Timeout: 5 * time.Second})
	tests := []struct {
		domain string
		addrs  []string
		fail   FailKind
	}{
		{"HasMX.test.", []string{"192.0.2.7/answer"}, 0},
		{"cname.test", []string{"192.0.2.7/answer"}, 0},
		{"gone.test", nil, FailNoAddress},
		{"bad..test", nil, FailBadName},
	}
	for _, tc := range tests {
		var got *MXResult
		inside := true
		h.r.LookupHost(tc.domain, false, func(res MXResult) {
			if inside {
				t.Errorf("%s: answered from inside LookupHost", tc.domain)
			}
			got = &res
		})
		inside = false
		for i := 0; got == nil && i < 200; i++ {
			if err := h.loop.Step(50 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
		switch {
		case got == nil:
			t.Fatalf("%s: no answer", tc.domain)
		case tc.fail != 0:
			if got.Fail == nil || got.Fail.Kind != tc.fail {
				t.Errorf("%s: %+v, want failure kind %d", tc.domain, got, tc.fail)
			}
		case got.Fail != nil || !got.Implicit || len(got.Hosts) != 1 || got.Hosts[0].Pref != 0 || !slices.Equal(addrsOf(got.Hosts[0]), tc.addrs):
			t.Errorf("%s: %+v, want one implicit host with %v", tc.domain, got, tc.addrs)
		}
	}
	for _, name := range []string{"hasmx.test", "cname.test", "gone.test"} {
		if n := z.count(name, dns.TypeMX, "udp") + z.count(name, dns.TypeMX, "tcp"); n != 0 {
			t.Errorf("%s: %d MX questions, want none", name, n)
		}
	}
}
