package sim

import (
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// mxTargets returns "pref target" pairs of the MX records in an answer.
func mxTargets(r *dns.Msg) []MX {
	var out []MX
	for _, rr := range r.Answer {
		if mx, ok := rr.(*dns.MX); ok {
			out = append(out, MX{Pref: int(mx.Preference), Target: canon(mx.Mx)})
		}
	}
	return out
}

func hasSOA(r *dns.Msg, minimum uint32) bool {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok && soa.Minttl == minimum {
			return true
		}
	}
	return false
}

func TestDNSKinds(t *testing.T) {
	s := startSim(t, tinyConfig())
	w := s.World
	first := func(k DomainKind) *Domain {
		ds := w.DomainsOf(k)
		if len(ds) == 0 {
			t.Fatalf("world has no %s domain", k)
		}
		return ds[0]
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"normal MX with additional A", func(t *testing.T) {
			d := first(KindNormal)
			r := mustQuery(t, s, d.Name, dns.TypeMX, "udp")
			if got, want := len(mxTargets(r)), len(d.MX); got != want {
				t.Fatalf("MX records: got %v, want %v", got, want)
			}
			if !r.Authoritative {
				t.Errorf("AA: got %v, want true", r.Authoritative)
			}
			for i, m := range mxTargets(r) {
				if m.Pref != d.MX[i].Pref || m.Target != d.MX[i].Host.Name {
					t.Errorf("MX %d: got %v %v, want %v %v", i, m.Pref, m.Target, d.MX[i].Pref, d.MX[i].Host.Name)
				}
			}
			var adds []string
			for _, rr := range r.Extra {
				if a, ok := rr.(*dns.A); ok {
					adds = append(adds, canon(a.Hdr.Name)+"="+a.A.String())
				}
			}
			for _, m := range d.MX {
				want := m.Host.Name + "=" + m.Host.Addr.String()
				if !slices.Contains(adds, want) {
					t.Errorf("additional: got %v, want it to hold %v", adds, want)
				}
			}
		}},
		{"share: group domains name the same first MX", func(t *testing.T) {
			ds := w.DomainsOf(KindShare)
			if len(ds) < 2 || ds[0].ShareGroup != ds[1].ShareGroup {
				t.Fatalf("want two share domains of one group, got %d domains", len(ds))
			}
			a := mxTargets(mustQuery(t, s, ds[0].Name, dns.TypeMX, "udp"))
			b := mxTargets(mustQuery(t, s, ds[1].Name, dns.TypeMX, "udp"))
			if len(a) == 0 || len(b) == 0 || a[0] != b[0] {
				t.Errorf("first MX: got %v and %v, want the same", a, b)
			}
		}},
		{"dead-first: MX 10 dead, MX 20 live", func(t *testing.T) {
			d := first(KindDeadFirst)
			got := mxTargets(mustQuery(t, s, d.Name, dns.TypeMX, "udp"))
			if len(got) != 2 || w.Host(got[0].Target).Kind != HostDead || w.Host(got[1].Target).Kind != HostLive {
				t.Errorf("MX: got %v, want a dead host at 10 and a live one at 20", got)
			}
		}},
		{"crossed: each host first of one, second of the other", func(t *testing.T) {
			d := first(KindCrossed)
			a := mxTargets(mustQuery(t, s, d.Name, dns.TypeMX, "udp"))
			b := mxTargets(mustQuery(t, s, d.CrossedWith, dns.TypeMX, "udp"))
			if len(a) != 2 || len(b) != 2 || a[0].Target != b[1].Target || a[1].Target != b[0].Target || a[0].Target == a[1].Target {
				t.Errorf("MX: got %v and %v, want crossed targets", a, b)
			}
		}},
		{"implicit: MX NODATA with SOA, A is the host", func(t *testing.T) {
			d := first(KindImplicit)
			r := mustQuery(t, s, d.Name, dns.TypeMX, "udp")
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || !hasSOA(r, soaMinimum) {
				t.Errorf("MX: got rcode %v, %d answers, SOA %v; want NOERROR, 0, true", r.Rcode, len(r.Answer), hasSOA(r, soaMinimum))
			}
			r = mustQuery(t, s, d.Name, dns.TypeA, "udp")
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != d.ImplicitHost.Addr.String() {
				t.Errorf("A: got %v, want %v", r.Answer, d.ImplicitHost.Addr)
			}
		}},
		{"cname: CNAME and target MX in one answer", func(t *testing.T) {
			d := first(KindCNAME)
			r := mustQuery(t, s, d.Name, dns.TypeMX, "udp")
			if len(r.Answer) != 2 {
				t.Fatalf("answer: got %v, want CNAME + MX", r.Answer)
			}
			cn, ok := r.Answer[0].(*dns.CNAME)
			if !ok || canon(cn.Target) != d.CNAMETarget {
				t.Errorf("answer[0]: got %v, want CNAME %v", r.Answer[0], d.CNAMETarget)
			}
			mx, ok := r.Answer[1].(*dns.MX)
			if !ok || canon(mx.Hdr.Name) != d.CNAMETarget || canon(mx.Mx) != d.MX[0].Host.Name || len(r.Extra) != 1 {
				t.Errorf("answer[1]: got %v (extra %v), want %v MX %v with its A", r.Answer[1], r.Extra, d.CNAMETarget, d.MX[0].Host.Name)
			}
		}},
		{"null MX", func(t *testing.T) {
			got := mxTargets(mustQuery(t, s, first(KindNullMX).Name, dns.TypeMX, "udp"))
			if want := []MX{{Pref: 0, Target: ""}}; !slices.Equal(got, want) {
				t.Errorf("MX: got %v, want %v", got, want)
			}
		}},
		{"nxdomain with SOA", func(t *testing.T) {
			r := mustQuery(t, s, first(KindNXDomain).Name, dns.TypeMX, "udp")
			if r.Rcode != dns.RcodeNameError || !hasSOA(r, soaMinimum) {
				t.Errorf("got rcode %v SOA %v, want NXDOMAIN true", dns.RcodeToString[r.Rcode], hasSOA(r, soaMinimum))
			}
			r = mustQuery(t, s, "nosuchname."+Zone, dns.TypeA, "udp")
			if r.Rcode != dns.RcodeNameError {
				t.Errorf("unknown name: got %v, want NXDOMAIN", dns.RcodeToString[r.Rcode])
			}
		}},
		{"silent: no answer over UDP or TCP", func(t *testing.T) {
			for _, network := range []string{"udp", "tcp"} {
				_, err := query(t, s, first(KindSilent).Name, dns.TypeMX, network, 300*time.Millisecond)
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("%s: got %v, want a timeout", network, err)
				}
			}
		}},
		{"truncate: UDP TC=1 empty, TCP full", func(t *testing.T) {
			d := first(KindTruncate)
			r := mustQuery(t, s, d.Name, dns.TypeMX, "udp")
			if !r.Truncated || len(r.Answer) != 0 {
				t.Errorf("UDP: got TC=%v with %d answers, want TC=true with 0", r.Truncated, len(r.Answer))
			}
			r = mustQuery(t, s, d.Name, dns.TypeMX, "tcp")
			if r.Truncated || len(mxTargets(r)) != len(d.MX) || len(r.Extra) == 0 {
				t.Errorf("TCP: got TC=%v answer %v extra %v, want the full MX answer", r.Truncated, r.Answer, r.Extra)
			}
		}},
		{"AAAA is NODATA", func(t *testing.T) {
			r := mustQuery(t, s, w.HostsOf(HostLive)[0].Name, dns.TypeAAAA, "udp")
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || !hasSOA(r, soaMinimum) {
				t.Errorf("got rcode %v answers %v, want NOERROR, none, SOA", r.Rcode, r.Answer)
			}
		}},
		{"host A", func(t *testing.T) {
			h := w.HostsOf(HostLive)[1]
			r := mustQuery(t, s, h.Name, dns.TypeA, "tcp")
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != h.Addr.String() {
				t.Errorf("got %v, want %v", r.Answer, h.Addr)
			}
		}},
		{"outside the zone is refused", func(t *testing.T) {
			r := mustQuery(t, s, "example.com", dns.TypeMX, "udp")
			if r.Rcode != dns.RcodeRefused {
				t.Errorf("got %v, want REFUSED", dns.RcodeToString[r.Rcode])
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.check)
	}
}

func TestDNSDelay(t *testing.T) {
	const delay = 200 * time.Millisecond
	cfg := tinyConfig()
	cfg.DNSDelay = delay
	s := startSim(t, cfg)
	names := []string{s.World.DomainsOf(KindNormal)[0].Name, s.World.DomainsOf(KindNormal)[1].Name}

	t.Run("one query waits the delay", func(t *testing.T) {
		start := time.Now()
		mustQuery(t, s, names[0], dns.TypeMX, "udp")
		if got := time.Since(start); got < delay {
			t.Errorf("answered after %v, want >= %v", got, delay)
		}
	})
	t.Run("parallel queries do not serialize", func(t *testing.T) {
		for _, network := range []string{"udp", "tcp"} {
			start := time.Now()
			done := make(chan error, len(names))
			for _, n := range names {
				go func() {
					c := &dns.Client{Net: network, Timeout: 5 * time.Second}
					m := new(dns.Msg)
					m.SetQuestion(dns.Fqdn(n), dns.TypeMX)
					_, _, err := c.Exchange(m, s.DNSAddr().String())
					done <- err
				}()
			}
			for range names {
				if err := <-done; err != nil {
					t.Fatalf("%s query: %v", network, err)
				}
			}
			if got, limit := time.Since(start), delay*18/10; got < delay || got >= limit {
				t.Errorf("%s: both answered after %v, want in [%v, %v)", network, got, delay, limit)
			}
		}
	})
	t.Run("two queries on one TCP connection", func(t *testing.T) {
		conn, err := dns.Dial("tcp", s.DNSAddr().String())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		for i, n := range names {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(n), dns.TypeMX)
			m.Id = uint16(i + 1)
			if err := conn.WriteMsg(m); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		for range names {
			if _, err := conn.ReadMsg(); err != nil {
				t.Fatalf("read: %v", err)
			}
		}
		if got, limit := time.Since(start), delay*18/10; got >= limit {
			t.Errorf("both answered after %v, want < %v", got, limit)
		}
	})
}

func TestDNSDelayShare(t *testing.T) {
	cfg := tinyConfig()
	cfg.DNSDelay, cfg.DNSDelayShare = time.Second, 0.25
	w, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range w.Domains {
		if d.DNSDelay > 0 {
			n++
		}
	}
	if want := count(0.25, cfg.Domains); n != want {
		t.Errorf("delayed domains: got %v, want %v", n, want)
	}
}
