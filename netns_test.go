package smtpfeed

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tests that need addresses the machine does not have (a whole IPv6
// prefix for simnet's hosts) run in a network namespace of their own.
// A Go program cannot move itself into one: unshare(CLONE_NEWNET) moves
// only the calling thread, and the runtime's other threads stay outside.
// So the test binary runs itself again under unshare(1), with -test.run
// naming the one test and netnsEnv marking the child; the child makes
// the namespace usable and runs the test's body, the parent reports the
// child's output and verdict. The namespace and everything bound in it
// go away with the child.

// netnsEnv marks the re-executed test binary; its value is the name of
// the test it runs inside the namespace.
const netnsEnv = "SMTPFEED_NETNS_TEST"

// netnsPrefix is the IPv6 prefix the namespace makes local: a ULA /64
// (RFC 4193) that nothing outside the namespace sees.
var netnsPrefix = netip.MustParsePrefix("fd5e:feed::/64")

// netnsTimeout bounds one child, set-up included; the child's own
// -test.timeout is a little shorter, so a hung test dumps its goroutines
// before it is killed.
const (
	netnsTimeout      = 2 * time.Minute
	netnsChildTimeout = netnsTimeout - 15*time.Second
)

// inNetns runs body as the test t inside a fresh network namespace in
// which lo is up, 127.0.0.0/8 is local and so is every address of
// netnsPrefix. Without namespaces (not Linux, no unshare or ip, not root
// and no user namespaces) the test is skipped, or fails when CI=true:
// nothing is skipped silently in CI.
func inNetns(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	if os.Getenv(netnsEnv) == t.Name() {
		if err := netnsSetup(netnsPrefix); err != nil {
			netnsUnavailable(t, err.Error())
		}
		body(t)
		return
	}
	unshare, why := netnsProbe()
	if why != "" {
		netnsUnavailable(t, why)
	}
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), netnsTimeout)
	defer cancel()
	args := append(unshare[1:], self, "-test.run="+netnsRunPattern(t.Name()), "-test.v", "-test.count=1",
		"-test.timeout="+netnsChildTimeout.String())
	cmd := exec.CommandContext(ctx, unshare[0], args...)
	cmd.Env = append(os.Environ(), netnsEnv+"="+t.Name())
	cmd.WaitDelay = 5 * time.Second // a grandchild holding the pipe cannot keep us
	out, err := cmd.CombinedOutput()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s in its namespace: no verdict within %v (killed):\n%s", t.Name(), netnsTimeout, out)
	case err != nil:
		t.Fatalf("%s failed in its namespace (%v):\n%s", t.Name(), err, out)
	case bytes.Contains(out, []byte("--- SKIP: "+t.Name())):
		t.Skipf("%s skipped in its namespace:\n%s", t.Name(), out)
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name())):
		t.Fatalf("%s did not run in its namespace (-test.run %s):\n%s", t.Name(), netnsRunPattern(t.Name()), out)
	}
	t.Logf("in its namespace:\n%s", out)
}

// netnsUnavailable skips t for why, or fails it when CI=true.
func netnsUnavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("network namespace needed and CI=true: %s", why)
	}
	t.Skipf("network namespace needed: %s", why)
}

// netnsRunPattern is the -test.run pattern that selects exactly the test
// (or subtest) named name.
func netnsRunPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

var (
	netnsOnce    sync.Once
	netnsUnshare []string // the unshare command, without the program to run
	netnsWhy     string   // why there is none
)

// netnsProbe finds out once whether a network namespace can be made
// here: as root with unshare -n; otherwise inside a user namespace that
// maps us to root (unshare -U -r -n), which the kernel may forbid.
func netnsProbe() (unshare []string, why string) {
	netnsOnce.Do(func() {
		if runtime.GOOS != "linux" {
			netnsWhy = "network namespaces are Linux's, this is " + runtime.GOOS
			return
		}
		for _, p := range []string{"unshare", "ip"} {
			if _, err := exec.LookPath(p); err != nil {
				netnsWhy = fmt.Sprintf("%s not found (util-linux, iproute2): %v", p, err)
				return
			}
		}
		cmd := []string{"unshare", "-n"}
		if os.Geteuid() != 0 {
			cmd = []string{"unshare", "-U", "-r", "-n"}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, cmd[0], append(cmd[1:], "true")...).CombinedOutput(); err != nil {
			netnsWhy = fmt.Sprintf("%s true: %v: %s", strings.Join(cmd, " "), err, bytes.TrimSpace(out))
			return
		}
		netnsUnshare = cmd
	})
	return netnsUnshare, netnsWhy
}

// netnsSetup makes the fresh namespace usable: lo up (which makes
// 127.0.0.0/8 local), IPv6 on lo, and every address of prefix local and
// bindable. An address added to lo makes only itself bindable; a local
// route for the prefix makes the kernel take packets for all of it, and
// net.ipv6.ip_nonlocal_bind lets bind() take an address no interface
// carries. Both sysctls are the namespace's own.
func netnsSetup(prefix netip.Prefix) error {
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		return fmt.Errorf("no IPv6 in this kernel: %w", err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/lo/disable_ipv6", []byte("0\n"), 0); err != nil {
		return fmt.Errorf("enabling IPv6 on lo: %w", err)
	}
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "-6", "route", "add", "local", prefix.String(), "dev", "lo"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	if err := os.WriteFile("/proc/sys/net/ipv6/ip_nonlocal_bind", []byte("1\n"), 0); err != nil {
		return fmt.Errorf("sysctl net.ipv6.ip_nonlocal_bind=1: %w", err)
	}
	// What simnet will do, once, so that a set-up that does not work
	// says so here rather than as a host that cannot listen.
	probe := netip.AddrPortFrom(prefix.Addr().Next(), 0)
	l, err := net.ListenTCP("tcp6", net.TCPAddrFromAddrPort(probe))
	if err != nil {
		return fmt.Errorf("after setting up the namespace: %w", err)
	}
	return l.Close()
}

// TestNetns: the namespace is fresh (lo is its only interface), and
// addresses across the prefix and 127.0.0.0/8 listen and connect, as
// simnet's hosts will.
func TestNetns(t *testing.T) {
	inNetns(t, func(t *testing.T) {
		ifs, err := net.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
			t.Errorf("interfaces %v, want lo alone, up", ifs)
		}
		inPrefix := func(n uint32) netip.Addr {
			b := netnsPrefix.Addr().As16()
			binary.BigEndian.PutUint32(b[12:], n)
			return netip.AddrFrom16(b)
		}
		for _, a := range []netip.Addr{inPrefix(1), inPrefix(2), inPrefix(1000), inPrefix(1 << 31), netip.MustParseAddr("127.1.2.3")} {
			l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
			if err != nil {
				t.Fatalf("listen on %v: %v", a, err)
			}
			c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatalf("connect to %v: %v", l.Addr(), err)
			}
			c.Close()
			l.Close()
		}
	})
}

func TestNetnsRunPattern(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"TestX", "^TestX$"},
		{"TestX/a_b", "^TestX$/^a_b$"},
		{"TestX/1.5+x", `^TestX$/^1\.5\+x$`},
	} {
		if got := netnsRunPattern(tc.name); got != tc.want {
			t.Errorf("netnsRunPattern(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
