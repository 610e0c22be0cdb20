package smtpfeed

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"smtpfeed/reactor"
)

// mxZone is a zone of n domains, each with one MX host and its glue.
func mxZone(t *testing.T, n int) (*zone, []string) {
	var records, domains []string
	for i := range n {
		d := fmt.Sprintf("d%d.test", i)
		records = append(records, d+". 300 IN MX 10 mx."+d+".", fmt.Sprintf("mx.%s. 300 IN A 192.0.2.%d", d, 1+i%250))
		domains = append(domains, d)
	}
	return newZone(t, records...), domains
}

// TestTriesGoOutInRuns: the tries of one pass leave at the end of it, in
// runs of triesPerRun on one socket, and every one reaches the server
// once.
func TestTriesGoOutInRuns(t *testing.T) {
	const n = triesPerRun + 8
	z, domains := mxZone(t, n)
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{z.serve(t)}, IPv4Only: true})
	got := map[string]MXResult{}
	for _, d := range domains {
		h.r.LookupMX(d, func(res MXResult) { got[d] = res })
	}
	if st := h.r.Stats(); st.UDPSent != 0 {
		t.Fatalf("before the loop waited: %d datagrams sent, want 0 (queued)", st.UDPSent)
	}
	if err := h.loop.Step(0); err != nil {
		t.Fatalf("Step: %v", err)
	}
	if st := h.r.Stats(); st.UDPSent != n {
		t.Fatalf("after one pass: %d datagrams sent, want %d", st.UDPSent, n)
	}
	socks := h.r.servers[0].socks
	if len(socks) < 2 || socks[0].carried != triesPerRun || socks[1].carried != n-triesPerRun {
		var carried []int
		for _, u := range socks {
			carried = append(carried, u.carried)
		}
		t.Fatalf("tries per socket = %v, want [%d %d ...]", carried, triesPerRun, n-triesPerRun)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		if err := h.loop.Step(50 * time.Millisecond); err != nil {
			t.Fatalf("Step: %v", err)
		}
	}
	for _, d := range domains {
		if res, ok := got[d]; !ok || res.Fail != nil || len(res.Hosts) != 1 {
			t.Errorf("LookupMX(%q) = %+v, want one host", d, res)
		}
		if c := z.count(d, dns.TypeMX, "udp"); c != 1 {
			t.Errorf("MX queries for %s = %d, want 1", d, c)
		}
	}
	if st := h.r.Stats(); st.UDPSent != z.total() {
		t.Errorf("datagrams sent = %d, server saw %d", st.UDPSent, z.total())
	}
}

// closedPort is a loopback UDP address nobody listens on: a datagram sent
// there draws an ICMP port unreachable.
func closedPort(t *testing.T) netip.AddrPort {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := unix.Getsockname(fd)
	unix.Close(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*unix.SockaddrInet4).Port))
}

// TestDeadServerPassedOver: the first server's port is closed, so every
// try sent there draws an ICMP port unreachable, and the socket's queries
// go to the second server at once. The fake clock never moves: no
// retransmission timer may be needed.
func TestDeadServerPassedOver(t *testing.T) {
	const n = triesPerRun + 8
	z, domains := mxZone(t, n)
	clock := reactor.NewFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	h := newHarness(t, clock, ResolverConfig{Servers: []netip.AddrPort{closedPort(t), z.serve(t)}, IPv4Only: true})
	got := h.lookupAll(domains, 10*time.Second, 0)
	for _, d := range domains {
		if res := got[d]; res.Fail != nil || len(res.Hosts) != 1 {
			t.Errorf("LookupMX(%q) = %+v, want one host", d, res)
		}
		if c := z.count(d, dns.TypeMX, "udp"); c != 1 {
			t.Errorf("MX queries for %s to the second server = %d, want 1", d, c)
		}
	}
}

// TestFlushOnFailedSocket: a try queued on a socket whose ICMP error came
// back before its next read fails in the flush, and the socket's queries,
// the one just queued included, go to the second server in the same
// flush.
func TestFlushOnFailedSocket(t *testing.T) {
	z, domains := mxZone(t, 2)
	clock := reactor.NewFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	h := newHarness(t, clock, ResolverConfig{Servers: []netip.AddrPort{closedPort(t), z.serve(t)}, IPv4Only: true})
	got := map[string]MXResult{}
	h.r.LookupMX(domains[0], func(res MXResult) { got[domains[0]] = res })
	h.r.flush()
	srv := h.r.servers[0]
	u := srv.cur
	if u == nil || h.r.stats.UDPSent != 1 {
		t.Fatalf("first try: socket %v, %d sent, want one datagram on a socket to the closed port", u, h.r.stats.UDPSent)
	}
	pfd := []unix.PollFd{{Fd: int32(u.fd)}}
	if n, err := unix.Poll(pfd, 5000); n != 1 || err != nil || pfd[0].Revents&unix.POLLERR == 0 {
		t.Fatalf("poll: got (%d, %v, revents %#x), want POLLERR", n, err, pfd[0].Revents)
	}
	srv.run = 1 // the second lookup's try joins the run on u
	h.r.LookupMX(domains[1], func(res MXResult) { got[domains[1]] = res })
	if len(u.out) != 1 {
		t.Fatalf("second try: %d queued on the failed socket, want 1", len(u.out))
	}
	h.r.flush()
	if u.fd >= 0 || !u.retired {
		t.Errorf("failed socket: fd %d, retired %v, want closed and retired", u.fd, u.retired)
	}
	if sent := h.r.stats.UDPSent; sent != 3 {
		t.Errorf("after the second flush: %d datagrams sent, want 3 (one to the closed port, both again to the second server)", sent)
	}
	for i := 0; len(got) < 2 && i < 1000; i++ {
		if err := h.loop.Step(time.Millisecond); err != nil {
			t.Fatalf("Step: %v", err)
		}
	}
	for _, d := range domains {
		if res, ok := got[d]; !ok || res.Fail != nil || len(res.Hosts) != 1 {
			t.Errorf("LookupMX(%q) = %+v, want one host", d, res)
		}
	}
}

// TestTriesNumberedAsTheyLeave: a try's place in its server's send order
// (what nameServer.queued compares) is the order the datagrams left, not
// the order they were queued: here the second socket's run is flushed
// first, and its tries must count as sent before the first socket's.
func TestTriesNumberedAsTheyLeave(t *testing.T) {
	const n = triesPerRun + 8
	z, domains := mxZone(t, n)
	h := newHarness(t, nil, ResolverConfig{Servers: []netip.AddrPort{z.serve(t)}, IPv4Only: true})
	for _, d := range domains {
		h.r.LookupMX(d, func(MXResult) {})
	}
	if len(h.r.unsent) != 2 {
		t.Fatalf("%d sockets with queued tries, want 2", len(h.r.unsent))
	}
	first, second := h.r.unsent[0], h.r.unsent[1]
	h.r.unsent[0], h.r.unsent[1] = second, first // as if second had tries queued earlier in the pass
	h.r.flush()                                  // what the loop does before it waits; no answer is read meanwhile
	var maxSecond, minFirst uint64 = 0, ^uint64(0)
	tries := 0
	for _, qq := range h.r.inflight {
		for _, tr := range qq.open {
			tries++
			switch tr.sock {
			case second:
				maxSecond = max(maxSecond, tr.seq)
			case first:
				minFirst = min(minFirst, tr.seq)
			}
		}
	}
	if tries != n {
		t.Fatalf("%d tries on the wire, want %d", tries, n)
	}
	if maxSecond >= minFirst {
		t.Errorf("send order: the second socket's tries (flushed first) numbered up to %d, the first socket's from %d: want every one of the second's below", maxSecond, minFirst)
	}
}
