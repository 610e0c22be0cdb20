package smtpfeed

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// lossyZone serves n domains on n/10 hosts; glue is left out for every
// tenth host so that host queries mix in with the MX queries.
func lossyZone(t testing.TB, n int) (*zone, []string) {
	var recs []string
	var domains []string
	hosts := max(n/10, 1)
	for i := range hosts {
		recs = append(recs, fmt.Sprintf("mx%04d.hosts.test. 300 IN A 127.2.%d.%d", i, i/250, i%250+1))
	}
	for i := range n {
		d := fmt.Sprintf("d%05d.test.", i)
		recs = append(recs, fmt.Sprintf("%s 300 IN MX 10 mx%04d.hosts.test.", d, i%hosts))
		domains = append(domains, d)
	}
	return newZone(t, recs...), domains
}

// dropShare drops the first try of about share of the questions, as a
// server does when a burst overflows its socket buffer.
func dropShare(share float64) func(q dns.Question, n int) bool {
	return func(q dns.Question, n int) bool {
		h := fnv.New32a()
		h.Write([]byte(q.Name))
		return n == 0 && float64(h.Sum32()%1000) < share*1000
	}
}

// TestLossyServer: 10,000 domains asked of a server that drops a third of
// the first queries; every domain still resolves, through retransmission.
func TestLossyServer(t *testing.T) {
	z, domains := lossyZone(t, 10000)
	z.drop = dropShare(0.3)
	srv := z.serve(t)
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{srv}, IPv4Only: true, Timeout: 20 * time.Second})
	got := h.lookupAll(domains, 40*time.Second, 0)
	for i, d := range domains {
		res := got[d]
		if res.Fail != nil || len(res.Hosts) != 1 || len(res.Hosts[0].Addrs) != 1 {
			t.Fatalf("LookupMX(%q) = %v %v, want one host with an address", d, res.Fail, res.Hosts)
		}
		if want := fmt.Sprintf("mx%04d.hosts.test", i%1000); res.Hosts[0].Name != want {
			t.Fatalf("LookupMX(%q) = %s, want %s", d, res.Hosts[0].Name, want)
		}
	}
	st := h.r.Stats()
	if st.UDPSent <= st.Queries {
		t.Errorf("stats %+v: want retransmissions for the dropped queries", st)
	}
}
