package smtpfeed

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// nsdZone writes a zone "test" of n domains sharing n/10 MX hosts, and one
// domain of each special kind. It returns the domain names.
func nsdZone(n int) (string, []string) {
	var b strings.Builder
	b.WriteString("$TTL 300\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ IN NS ns.test.\nns IN A 127.0.0.1\n")
	hosts := max(n/10, 1)
	for i := range hosts {
		fmt.Fprintf(&b, "mx%04d.hosts IN A 127.2.%d.%d\n", i, i/250, i%250+1)
	}
	var domains []string
	for i := range n {
		d := fmt.Sprintf("d%05d", i)
		fmt.Fprintf(&b, "%s IN MX 10 mx%04d.hosts.test.\n%s IN MX 20 mx%04d.hosts.test.\n", d, i%hosts, d, (i+1)%hosts)
		domains = append(domains, d+".test")
	}
	b.WriteString("alias IN CNAME d00000\nnullmx IN MX 0 .\nimplicit IN A 127.3.0.1\nloop1 IN CNAME loop2\nloop2 IN CNAME loop1\n")
	for i := range 60 { // too many for 1232 bytes: truncated over UDP
		fmt.Fprintf(&b, "big IN MX %d a-rather-long-mail-host-name-number-%02d.hosts.test.\n", i, i)
		fmt.Fprintf(&b, "a-rather-long-mail-host-name-number-%02d.hosts IN A 127.4.0.%d\n", i, i+1)
	}
	return b.String(), domains
}

func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatalf("no free port for UDP and TCP")
	return 0
}

// startNSD runs Debian's nsd on 127.0.0.1 with a generated zone and
// config in a temporary directory, until the test ends.
func startNSD(t testing.TB, zone string) netip.AddrPort {
	t.Helper()
	bin, err := exec.LookPath("nsd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nsd", "/usr/local/sbin/nsd"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("nsd not installed, and CI=true: .ci/run installs it (apt-get install nsd)")
		}
		t.Skipf("nsd not installed (apt-get install nsd): skipping the test against a real DNS server")
	}
	dir := t.TempDir()
	port := freePort(t)
	if err := os.WriteFile(filepath.Join(dir, "test.zone"), []byte(zone), 0o644); err != nil {
		t.Fatalf("write zone: %v", err)
	}
	conf := fmt.Sprintf(`server:
	ip-address: 127.0.0.1@%d
	port: %d
	zonesdir: "%s"
	database: ""
	zonelistfile: "%s/zone.list"
	xfrdfile: "%s/xfrd.state"
	xfrdir: "%s"
	pidfile: "%s/nsd.pid"
	logfile: "%s/nsd.log"
	username: ""
	chroot: ""
	server-count: 1
	tcp-count: 200
	verbosity: 1
remote-control:
	control-enable: no
zone:
	name: "test"
	zonefile: "test.zone"
`, port, port, dir, dir, dir, dir, dir, dir)
	cf := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatalf("write config: %v", err)
	}
	cmd := exec.Command(bin, "-d", "-c", cf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nsd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	c := &dns.Client{Timeout: 100 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("test.", dns.TypeSOA)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r, _, err := c.Exchange(m, addr.String()); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "nsd.log"))
			t.Fatalf("nsd did not answer on %v within 10s; log:\n%s", addr, log)
		}
		time.Sleep(20 * time.Millisecond) // waiting for an external process to come up, not for our own code
	}
}

// TestNSD resolves 2,000 domains sharing 200 hosts, and the special kinds,
// against a real authoritative server.
func TestNSD(t *testing.T) {
	zone, domains := nsdZone(2000)
	addr := startNSD(t, zone)
	// The address caps are raised: big.test's 60 MX hosts must all come
	// back, since this test is about the TCP answer taken in full.
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{addr}, IPv4Only: true, Timeout: 10 * time.Second,
		MaxMXAddrs: 1000})
	special := map[string]string{
		"alias.test": "", "nullmx.test": "556 5.1.10", "implicit.test": "", "nope.test": "550 5.1.2",
		"loop1.test": "451 4.4.3", "big.test": "",
	}
	all := append([]string{}, domains...)
	for d := range special {
		all = append(all, d)
	}
	got := h.lookupAll(all, 30*time.Second, 0)
	for i, d := range domains {
		res := got[d]
		want := fmt.Sprintf("mx%04d.hosts.test", i%200)
		if res.Fail != nil || len(res.Hosts) != 2 || res.Hosts[0].Name != want || len(res.Hosts[0].Addrs) != 1 {
			t.Fatalf("LookupMX(%q) = %v %v, want %s first with one address", d, res.Fail, res.Hosts, want)
		}
		if from := res.Hosts[0].Addrs[0].From; from != FromAdditional && from != FromCache {
			t.Errorf("LookupMX(%q): address from %v, want the additional section", d, from)
		}
	}
	for d, want := range special {
		t.Run(d, func(t *testing.T) {
			res := got[d]
			code := ""
			if res.Fail != nil {
				code = fmt.Sprintf("%d %s", outcomeFail(res.Fail).Code, outcomeFail(res.Fail).Enhanced)
			}
			if code != want || (want == "" && len(res.Hosts[0].Addrs) == 0) {
				t.Errorf("LookupMX(%q) = %v %v, want %q", d, res.Fail, res.Hosts, want)
			}
		})
	}
	if n := len(got["big.test"].Hosts); n != 60 {
		t.Errorf("LookupMX(big.test): %d hosts, want 60 (the TCP answer in full)", n)
	}
	st := h.r.Stats()
	if st.TCPSent != 1 {
		t.Errorf("TCP queries = %d, want 1 (big.test)", st.TCPSent)
	}
	// One MX per domain, the implicit MX's A, alias's CNAME target
	// (answered with the alias), the loop; no A query for any MX host.
	// Retransmissions (a loaded machine can make the 20 ms floor fire)
	// are sent again, not asked again: they are not questions.
	if st.Queries > len(all)+2 {
		t.Errorf("stats %+v for %d domains: want one query per question, no host A queries", st, len(all))
	}
}
