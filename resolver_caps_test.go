package smtpfeed

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestResolverAddressCaps: a domain that names hundreds of MX hosts with
// several addresses each gets a result of at most MaxHostAddrs addresses
// per host and MaxMXAddrs in all, best MX first, and the addresses of
// hosts past the cap are never asked.
func TestResolverAddressCaps(t *testing.T) {
	var records []string
	for i := range 200 {
		// big.test's hosts come with three glue addresses each.
		records = append(records, fmt.Sprintf("big.test. MX %d mx%03d.big.test.", 10+i, i))
		for k := range 3 {
			records = append(records, fmt.Sprintf("mx%03d.big.test. A 192.0.%d.%d", i, k, 1+i%250))
		}
		// noglue.test's hosts are out of zone: their addresses are asked.
		records = append(records, fmt.Sprintf("noglue.test. MX %d h%03d.noglue.example.", 10+i, i))
		records = append(records, fmt.Sprintf("h%03d.noglue.example. A 198.51.100.%d", i, 1+i%250))
	}
	z := newZone(t, records...)
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{z.serve(t)}, IPv4Only: true, Timeout: 10 * time.Second,
		MaxMXAddrs: 7, MaxHostAddrs: 2})
	got := h.lookupAll([]string{"big.test", "noglue.test"}, 20*time.Second, 0)

	// The answer is larger than the 4,096 octets asked for and the test
	// server does not truncate it: cut to our buffer, it is asked again
	// over TCP rather than taken for a broken server.
	if z.count("big.test", dns.TypeMX, "tcp") == 0 {
		t.Error("big.test's oversized UDP answer was not asked again over TCP")
	}
	big := got["big.test"]
	total, last := 0, -1
	for _, host := range big.Hosts {
		if len(host.Addrs) > 2 {
			t.Errorf("%s: %d addresses, want at most 2", host.Name, len(host.Addrs))
		}
		if int(host.Pref) < last {
			t.Errorf("%s (preference %d) after preference %d", host.Name, host.Pref, last)
		}
		last = int(host.Pref)
		total += len(host.Addrs)
	}
	if total != 7 || len(big.Hosts) != 4 || big.Hosts[0].Name != "mx000.big.test" {
		t.Errorf("big.test: %d addresses on %d hosts (first %v), want 7 on the 4 best", total, len(big.Hosts), big.Hosts)
	}

	asked := 0
	for i := range 200 {
		asked += z.count(fmt.Sprintf("h%03d.noglue.example", i), dns.TypeA, "udp")
	}
	if asked > 7 {
		t.Errorf("asked the addresses of %d of noglue.test's hosts, want at most 7", asked)
	}
	if n := len(got["noglue.test"].Hosts); n != 7 {
		t.Errorf("noglue.test: %d hosts, want 7", n)
	}
}
