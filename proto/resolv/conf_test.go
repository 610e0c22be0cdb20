package resolv

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseConf(t *testing.T) {
	tests := []struct {
		name, in string
		servers  []string
		timeout  time.Duration
		attempts int
		rotate   bool
		err      string
	}{
		{name: "empty: glibc's 127.0.0.1", in: "", servers: []string{"127.0.0.1:53"}, attempts: 2},
		{name: "servers, comments, search ignored",
			in:      "# c\n; c\nsearch example.org\nnameserver 192.0.2.1\nnameserver 2001:db8::1\nnameserver [2001:db8::2]:5353\n",
			servers: []string{"192.0.2.1:53", "[2001:db8::1]:53", "[2001:db8::2]:5353"}, attempts: 2},
		{name: "at most three servers",
			in:      "nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\nnameserver 192.0.2.4\n",
			servers: []string{"192.0.2.1:53", "192.0.2.2:53", "192.0.2.3:53"}, attempts: 2},
		{name: "options, capped as glibc caps them",
			in:      "nameserver 192.0.2.1\noptions timeout:60 attempts:9 rotate ndots:2\n",
			servers: []string{"192.0.2.1:53"}, timeout: 30 * time.Second, attempts: 5, rotate: true},
		{name: "a timeout within the cap", in: "options timeout:2\n", servers: []string{"127.0.0.1:53"}, timeout: 2 * time.Second, attempts: 2},
		{name: "nameserver without an address", in: "nameserver\n", err: "line 1: nameserver without an address"},
		{name: "not an address", in: "\nnameserver ns.example\n", err: "line 2: name server \"ns.example\""},
		{name: "port 0", in: "nameserver 192.0.2.1:0\n", err: "port 0"},
		{name: "bad option value", in: "options timeout:x\n", err: `option "timeout:x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := ParseConf(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseConf(%q) error %v, want one saying %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConf(%q): %v", tc.in, err)
			}
			var got []string
			for _, s := range rc.Servers {
				got = append(got, s.String())
			}
			if !slices.Equal(got, tc.servers) || rc.Timeout != tc.timeout || rc.Attempts != tc.attempts || rc.Rotate != tc.rotate {
				t.Fatalf("ParseConf(%q) = %v %v %d %v, want %v %v %d %v", tc.in, got, rc.Timeout, rc.Attempts, rc.Rotate,
					tc.servers, tc.timeout, tc.attempts, tc.rotate)
			}
		})
	}
}

func TestTCPFraming(t *testing.T) {
	msg := []byte("a DNS message")
	framed := AppendTCP([]byte("x"), msg)
	if string(framed) != "x\x00\x0da DNS message" {
		t.Fatalf("AppendTCP = %q", framed)
	}
	for k := range 2 {
		if _, ok := TCPLength(framed[1 : 1+k]); ok {
			t.Errorf("TCPLength of %d octets: ok, want not yet", k)
		}
	}
	if n, ok := TCPLength(framed[1:]); !ok || n != len(msg) {
		t.Errorf("TCPLength = %d, %v; want %d", n, ok, len(msg))
	}
}

// TestParseConfTrustAD: glibc's "options trust-ad" is read; without it
// the AD bit is not believed.
func TestParseConfTrustAD(t *testing.T) {
	for in, want := range map[string]bool{
		"nameserver 127.0.0.1\noptions trust-ad\n":      true,
		"nameserver 127.0.0.1\noptions rotate trust-ad": true,
		"nameserver 127.0.0.1\noptions rotate\n":        false,
	} {
		rc, err := ParseConf(strings.NewReader(in))
		if err != nil || rc.TrustAD != want {
			t.Errorf("ParseConf(%q): TrustAD %v, %v; want %v", in, rc.TrustAD, err, want)
		}
	}
}
