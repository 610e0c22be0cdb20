package smtpfeed

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestResolverIDN: an internationalised domain from an SMTPUTF8 caller is
// looked up as its A-label (IDNA 2008), so it has the mail hosts DNS
// gives that name, shared with recipients who wrote the A-label; a name
// IDNA refuses is 501 5.1.3 with the reason, asked of nobody.
func TestResolverIDN(t *testing.T) {
	z := newZone(t, "xn--bcher-kva.test. MX 10 mx.bcher.test.", "mx.bcher.test. A 192.0.2.9")
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{z.serve(t)}, IPv4Only: true, Timeout: 5 * time.Second})
	got := h.lookupAll([]string{"bücher.test", "BÜCHER.test", "xn--bcher-kva.test", "b\u00fccher\u200d.test"}, 10*time.Second, 0)
	for _, d := range []string{"bücher.test", "BÜCHER.test", "xn--bcher-kva.test"} {
		res := got[d]
		if res.Fail != nil || len(res.Hosts) != 1 || res.Hosts[0].Name != "mx.bcher.test" {
			t.Errorf("%s: %+v, want mx.bcher.test", d, res)
		}
	}
	if n := z.count("xn--bcher-kva.test", dns.TypeMX, "udp"); n != 1 {
		t.Errorf("the A-label's MX asked %d times, want once for all three spellings", n)
	}
	bad := got["b\u00fccher\u200d.test"]
	if bad.Fail == nil || outcomeFail(bad.Fail).Code != 501 || !strings.Contains(bad.Fail.Text, "internationalised") {
		t.Errorf("a name IDNA refuses: %+v, want 501 5.1.3 saying why", bad)
	}
}
