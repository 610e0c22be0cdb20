package smtpfeed

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// tlsConnConfig is a connection configuration that STARTTLSes at level
// may on loop, sharing sessions through base.
func tlsConnConfig(t *testing.T, loop *reactor.Loop, base *tls.Config) ConnConfig {
	t.Helper()
	inbox, err := loop.Inbox()
	if err != nil {
		t.Fatal(err)
	}
	return ConnConfig{SMTP: smtp.Config{Hostname: "feed.test"}, TLS: base, TLSWorkers: reactor.NewTLSWorkers(2), Inbox: inbox}
}

func serverCert(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	c, err := sim.SelfSigned(names...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConnTLSInterop: go-smtp with STARTTLS gets a 2 MB message inside
// TLS byte for byte, at TLS 1.3 and at TLS 1.2; a second connection
// resumes the first one's session from its ticket.
func TestConnTLSInterop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     uint16
		version string
	}{{"tls13", 0, "TLS 1.3"}, {"tls12", tls.VersionTLS12, "TLS 1.2"}} {
		t.Run(tc.name, func(t *testing.T) {
			be := &goSMTPBackend{}
			addr := serveSMTPTLS(t, be, "gosmtp.test", 100, &tls.Config{Certificates: []tls.Certificate{serverCert(t, "gosmtp.test")}, MaxVersion: tc.max})
			loop := newLoop(t, nil)
			base := &tls.Config{InsecureSkipVerify: true, ServerName: "gosmtp.test", ClientSessionCache: tls.NewLRUClientSessionCache(8)}
			raw := testMessage(2 << 20)
			var resumed []bool
			for range 2 {
				run := &connRun{}
				c, err := DialSMTP(loop, "gosmtp.test", addr, tlsConnConfig(t, loop, base), run.handlers(true))
				if err != nil {
					t.Fatal(err)
				}
				c.Add(listTx(raw, "a@x.test", "b@x.test"))
				stepUntil(t, loop, func() bool { return run.closed }, 30*time.Second)
				if run.err != nil || len(run.results) != 2 || run.results[0].Status != smtp.Delivered {
					t.Fatalf("err %v, results %v", run.err, run.results)
				}
				st := c.TLS()
				if st == nil || tls.VersionName(st.Version) != tc.version {
					t.Fatalf("session state %v, want %s", st, tc.version)
				}
				resumed = append(resumed, st.DidResume)
			}
			if resumed[0] || !resumed[1] {
				t.Errorf("resumed %v, want the second connection to resume the first's session", resumed)
			}
			for _, m := range be.received() {
				if !bytes.Equal(m.data, raw) || m.tls != tc.version {
					t.Fatalf("received %d bytes over %q, want the %d sent over %s", len(m.data), m.tls, len(raw), tc.version)
				}
			}
		})
	}
}

// scriptServer accepts one connection and plays a STARTTLS script:
// greeting, an EHLO reply offering STARTTLS, then after STARTTLS's 220
// whatever then does (hang, or send garbage for the handshake).
func scriptServer(t *testing.T, then func(c net.Conn)) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		c.Write([]byte("220 script.test ESMTP\r\n"))
		r.ReadString('\n')
		c.Write([]byte("250-script.test\r\n250 STARTTLS\r\n"))
		if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "STARTTLS") {
			return
		}
		c.Write([]byte("220 go ahead\r\n"))
		then(c)
	}()
	return l.Addr().(*net.TCPAddr)
}

// TestConnTLSHandshakeFails: a server that answers the ClientHello with
// garbage, and one that stalls after STARTTLS (on the fake clock), both
// end the session with ErrTLSHandshake, the recipients handed back.
func TestConnTLSHandshakeFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		then  func(c net.Conn)
		stall bool
	}{
		{"garbage", func(c net.Conn) {
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Write([]byte("this is not TLS\r\n"))
			c.Read(buf)
		}, false},
		{"stall", func(c net.Conn) { c.Read(make([]byte, 4096)); c.Read(make([]byte, 1)) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := scriptServer(t, tc.then)
			clock := reactor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			loop := newLoop(t, clock)
			run := &connRun{}
			c, err := DialSMTP(loop, "script.test", addr.AddrPort(), tlsConnConfig(t, loop, &tls.Config{InsecureSkipVerify: true}), run.handlers(true))
			if err != nil {
				t.Fatal(err)
			}
			c.Add(listTx([]byte("x\r\n"), "a@b.test"))
			if tc.stall {
				stepUntil(t, loop, func() bool { return c.m.Handshaking() && c.tls != nil && len(c.tls.Output()) == 0 }, 10*time.Second)
				clock.Advance(smtp.DefaultTimeouts[0] + time.Second) // 5 minutes, the handshake's too
			}
			stepUntil(t, loop, func() bool { return run.closed }, 10*time.Second)
			if !errors.Is(run.err, ErrTLSHandshake) {
				t.Fatalf("closed with %v, want ErrTLSHandshake", run.err)
			}
			if len(run.results) != 1 || run.results[0].Status != smtp.NextHost || !errors.Is(run.results[0].Err, ErrTLSHandshake) {
				t.Fatalf("results %v, want one next-host with the handshake's error", run.results)
			}
		})
	}
}
