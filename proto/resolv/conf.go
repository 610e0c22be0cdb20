package resolv

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultPort is where name servers listen.
	DefaultPort = 53
	// maxConfServers is glibc's MAXNS: more nameserver lines are ignored.
	maxConfServers = 3
	// maxConfTimeout is glibc's cap on "options timeout:n".
	maxConfTimeout = 30 * time.Second
	// maxConfAttempts is glibc's RES_MAXRETRY.
	maxConfAttempts = 5
)

// Conf is what smtpfeed takes from /etc/resolv.conf.
type Conf struct {
	Servers []netip.AddrPort
	// Timeout is "options timeout:n": the ceiling of the retransmission
	// timeout (glibc waits that long for every try); 0 when not given.
	Timeout time.Duration
	// Attempts is "options attempts:n". It is read and kept for the
	// report, but the total lookup timeout, not a count, bounds retrying:
	// with retransmissions timed from the round trip, a count of tries
	// would give up on a lossy server within a second.
	Attempts int
	// Rotate is "options rotate": queries start at successive servers.
	Rotate bool
	// TrustAD is "options trust-ad" (glibc 2.31): the servers validate
	// DNSSEC and their AD bit is believed. DANE needs it.
	TrustAD bool
}

// ParseConf reads resolv.conf(5): nameserver lines (at most three, as
// glibc) and the timeout, attempts, rotate and trust-ad options. Other lines are
// ignored. With no nameserver line the server is 127.0.0.1, as in glibc.
func ParseConf(r io.Reader) (Conf, error) {
	rc := Conf{Attempts: 2}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				return rc, fmt.Errorf("resolv.conf line %d: nameserver without an address", line)
			}
			a, err := ParseServer(f[1])
			if err != nil {
				return rc, fmt.Errorf("resolv.conf line %d: %w", line, err)
			}
			if len(rc.Servers) < maxConfServers {
				rc.Servers = append(rc.Servers, a)
			}
		case "options":
			for _, o := range f[1:] {
				name, val, _ := strings.Cut(o, ":")
				switch name {
				case "timeout", "attempts":
					n, err := strconv.Atoi(val)
					if err != nil || n < 1 {
						return rc, fmt.Errorf("resolv.conf line %d: option %q: want a positive number", line, o)
					}
					if name == "timeout" {
						rc.Timeout = min(time.Duration(n)*time.Second, maxConfTimeout)
					} else {
						rc.Attempts = min(n, maxConfAttempts)
					}
				case "rotate":
					rc.Rotate = true
				case "trust-ad":
					rc.TrustAD = true
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return rc, fmt.Errorf("resolv.conf: %w", err)
	}
	if len(rc.Servers) == 0 {
		rc.Servers = []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), DefaultPort)}
	}
	return rc, nil
}

// ParseServer reads "host[:port]": an IPv4 address, an IPv6 address
// (bracketed when a port follows) with an optional zone, and port 53 when
// none is given.
func ParseServer(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return ap, fmt.Errorf("name server %q: port 0", s)
		}
		return ap, nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("name server %q: not an IP address with an optional port", s)
	}
	return netip.AddrPortFrom(a, DefaultPort), nil
}
