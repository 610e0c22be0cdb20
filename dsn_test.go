package smtpfeed

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"smtpfeed/proto/lmtp"
	"smtpfeed/proto/smtp"
)

// dsnBackend is a go-smtp backend that records the DSN options go-smtp
// parsed from MAIL and RCPT.
type dsnBackend struct {
	mu    sync.Mutex
	mail  []gosmtp.MailOptions
	rcpts map[string]gosmtp.RcptOptions
}

func (b *dsnBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return dsnSession{b}, nil }

type dsnSession struct{ b *dsnBackend }

func (dsnSession) Reset()        {}
func (dsnSession) Logout() error { return nil }
func (s dsnSession) Mail(_ string, o *gosmtp.MailOptions) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.mail = append(s.b.mail, *o)
	return nil
}

func (s dsnSession) Rcpt(to string, o *gosmtp.RcptOptions) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.rcpts[to] = *o
	return nil
}

func (dsnSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// teeListener hands out connections whose every read is also appended
// to in: the commands as they came over the wire.
type teeListener struct {
	net.Listener
	mu sync.Mutex
	in bytes.Buffer
}

func (l *teeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &teeConn{Conn: c, l: l}, nil
}

func (l *teeListener) wire() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.in.String()
}

type teeConn struct {
	net.Conn
	l *teeListener
}

func (c *teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.mu.Lock()
	c.l.in.Write(p[:n])
	c.l.mu.Unlock()
	return n, err
}

// serveDSN serves a go-smtp server for be, offering DSN or not, on a
// loopback port until the test ends.
func serveDSN(t *testing.T, be gosmtp.Backend, offerDSN bool) (*teeListener, netip.AddrPort) {
	t.Helper()
	srv := gosmtp.NewServer(be)
	srv.Domain = "mx.dsn.test"
	srv.EnableDSN = offerDSN
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := &teeListener{Listener: l}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(tl)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return tl, l.Addr().(*net.TCPAddr).AddrPort()
}

// lineLog collects the engine's log lines.
type lineLog struct{ b bytes.Buffer }

func (l *lineLog) Recipient(r RcptLog)  { TextLogger{W: &l.b}.Recipient(r) }
func (l *lineLog) Message(m MessageLog) { TextLogger{W: &l.b}.Message(m) }
func (l *lineLog) Notice(s string)      { TextLogger{W: &l.b}.Notice(s) }

// TestDSNThroughFeed: a message handed over LMTP with DSN parameters
// reaches a go-smtp server with them, byte for byte as the caller sent
// them (keywords upper-cased), when the server offers DSN; a server
// without DSN gets none, and the recipient whose NOTIFY asks for SUCCESS
// is answered 250 2.1.5 saying that no success notice will come, and
// logged stat=Sent relayed-no-DSN. Recipients without NOTIFY=SUCCESS
// hear the plain delivered answer either way.
func TestDSNThroughFeed(t *testing.T) {
	const relay = "mx.dsn.test[127.0.0.1]"
	session := "LHLO mta.test\r\n" +
		"MAIL FROM:<list@lists.test> RET=hdrs ENVID=QQ+2B314159\r\n" +
		"RCPT TO:<a@dsn.test> NOTIFY=success,FAILURE ORCPT=rfc822;a+2Bx@dsn.test\r\n" +
		"RCPT TO:<b@dsn.test>\r\n" +
		"RCPT TO:<c@dsn.test> NOTIFY=failure,delay\r\n" +
		"RCPT TO:<d@dsn.test> NOTIFY=NEVER ORCPT=rfc822;D@dsn.test\r\n" +
		"DATA\r\nSubject: dsn\r\n\r\nhello\r\n.\r\nQUIT\r\n"
	rcpts := []string{"a@dsn.test", "b@dsn.test", "c@dsn.test", "d@dsn.test"}
	tests := []struct {
		name     string
		offerDSN bool
		// What the commands must be on the wire: MAIL's after its SIZE
		// value, and each RCPT.
		mailTail string
		rcptWire []string
		// options is what go-smtp decoded, for a server with DSN.
		ret     gosmtp.DSNReturn
		envID   string
		options map[string]gosmtp.RcptOptions
		answers []string // each recipient's answer begins so
	}{
		{
			name:     "server offers DSN",
			offerDSN: true,
			mailTail: " RET=HDRS ENVID=QQ+2B314159\r\n",
			rcptWire: []string{
				"RCPT TO:<a@dsn.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bx@dsn.test\r\n",
				"RCPT TO:<b@dsn.test>\r\n",
				"RCPT TO:<c@dsn.test> NOTIFY=FAILURE,DELAY\r\n",
				"RCPT TO:<d@dsn.test> NOTIFY=NEVER ORCPT=rfc822;D@dsn.test\r\n",
			},
			ret: gosmtp.DSNReturnHeaders, envID: "QQ+314159",
			options: map[string]gosmtp.RcptOptions{
				"a@dsn.test": {Notify: []gosmtp.DSNNotify{gosmtp.DSNNotifySuccess, gosmtp.DSNNotifyFailure}, OriginalRecipientType: gosmtp.DSNAddressTypeRFC822, OriginalRecipient: "a+x@dsn.test"},
				"b@dsn.test": {},
				"c@dsn.test": {Notify: []gosmtp.DSNNotify{gosmtp.DSNNotifyFailure, gosmtp.DSNNotifyDelayed}},
				"d@dsn.test": {Notify: []gosmtp.DSNNotify{gosmtp.DSNNotifyNever}, OriginalRecipientType: gosmtp.DSNAddressTypeRFC822, OriginalRecipient: "D@dsn.test"},
			},
			answers: []string{
				"250 2.0.0 delivered to " + relay + ": ",
				"250 2.0.0 delivered to " + relay + ": ",
				"250 2.0.0 delivered to " + relay + ": ",
				"250 2.0.0 delivered to " + relay + ": ",
			},
		},
		{
			name:     "server without DSN",
			mailTail: "\r\n",
			rcptWire: []string{"RCPT TO:<a@dsn.test>\r\n", "RCPT TO:<b@dsn.test>\r\n", "RCPT TO:<c@dsn.test>\r\n", "RCPT TO:<d@dsn.test>\r\n"},
			answers: []string{
				"250 2.1.5 relayed to " + relay + ", which does not offer DSN: no success notice will come (NOTIFY=SUCCESS); it said: ",
				"250 2.0.0 delivered to " + relay + ": ",
				"250 2.0.0 delivered to " + relay + ": ",
				"250 2.0.0 delivered to " + relay + ": ",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := &dsnBackend{rcpts: map[string]gosmtp.RcptOptions{}}
			tee, smtpAddr := serveDSN(t, be, tc.offerDSN)
			dnsAddr := newZone(t, "dsn.test. MX 10 mx.dsn.test.", "mx.dsn.test. A 127.0.0.1").serve(t)
			log := &lineLog{}
			e, err := NewEngine(newLoop(t, nil), Config{
				Resolver:       ResolverConfig{Servers: []netip.AddrPort{dnsAddr}, IPv4Only: true, Timeout: 2 * time.Second},
				SMTP:           smtp.Config{Hostname: "feed.test"},
				Port:           smtpAddr.Port(),
				ConnectTimeout: time.Second,
				IdleTime:       time.Second,
				Log:            log,
			})
			if err != nil {
				t.Fatal(err)
			}
			caller, _, endErr, ended := lmtpPair(t, e, LMTPOptions{Session: lmtp.Config{Hostname: "feed.test"}})
			got := lmtpExchange(t, e, caller, endErr, ended, session, 30*time.Second)
			// 220, LHLO, MAIL, 4 RCPT, 354, 4 answers, 221.
			if len(got) != 13 {
				t.Fatalf("replies %q, want 13", got)
			}
			for i, want := range tc.answers {
				if a := got[8+i]; !strings.HasPrefix(a, want) {
					t.Errorf("%s: answer %q, want it to begin %q", rcpts[i], a, want)
				}
			}

			wire := tee.wire()
			mail := wireLine(wire, "MAIL FROM:")
			tail, ok := strings.CutPrefix(mail, "MAIL FROM:<list@lists.test> SIZE=")
			if tail = strings.TrimLeft(tail, "0123456789"); !ok || tail != tc.mailTail {
				t.Errorf("MAIL on the wire %q, want SIZE= and then %q", mail, tc.mailTail)
			}
			for i, want := range tc.rcptWire {
				if l := wireLine(wire, "RCPT TO:<"+rcpts[i]+">"); l != want {
					t.Errorf("on the wire %q, want %q", l, want)
				}
			}

			if tc.offerDSN {
				be.mu.Lock()
				if len(be.mail) != 1 || be.mail[0].Return != tc.ret || be.mail[0].EnvelopeID != tc.envID {
					t.Errorf("MAIL options %+v, want RET %s ENVID %q", be.mail, tc.ret, tc.envID)
				}
				for a, want := range tc.options {
					if got := be.rcpts[a]; fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s: RCPT options %+v, want %+v", a, got, want)
					}
				}
				be.mu.Unlock()
			}

			logged := linesWith(log.b.String(), "to=<a@dsn.test>")
			marked := strings.Contains(logged, "dsn=2.1.5, stat=Sent relayed-no-DSN (250 relayed to "+relay)
			if marked == tc.offerDSN {
				t.Errorf("log line for a@dsn.test %q: marked relayed-no-DSN %v, want %v", logged, marked, !tc.offerDSN)
			}
			if n := strings.Count(log.b.String(), "relayed-no-DSN"); n > 1 {
				t.Errorf("%d recipients logged relayed-no-DSN, want at most a@dsn.test:\n%s", n, log.b.String())
			}
		})
	}
}

// wireLine is the first line of wire starting with prefix, CRLF included.
func wireLine(wire, prefix string) string {
	for l := range strings.SplitAfterSeq(wire, "\r\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// linesWith returns the lines of s that contain sub.
func linesWith(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestNotifiesSuccess: NOTIFY's keywords are case-insensitive.
func TestNotifiesSuccess(t *testing.T) {
	for _, tt := range []struct {
		notify string
		want   bool
	}{
		{"SUCCESS", true}, {"failure,success", true}, {"DELAY,Success,FAILURE", true},
		{"NEVER", false}, {"FAILURE,DELAY", false}, {"", false}, {"SUCCESSFUL", false},
	} {
		if got := notifiesSuccess(tt.notify); got != tt.want {
			t.Errorf("notifiesSuccess(%q) = %v, want %v", tt.notify, got, tt.want)
		}
	}
}

// TestRecipientDSNs: a message without DSN parameters gets none (nil,
// nothing allocated); one with them gets each recipient's, in order.
func TestRecipientDSNs(t *testing.T) {
	if got := recipientDSNs(nil); got != nil {
		t.Errorf("recipientDSNs(nil) = %v, want nil", got)
	}
	in := []lmtp.RcptDSN{{}, {Notify: "SUCCESS", ORcpt: "rfc822;a+2Bb@c.test"}, {Notify: "NEVER"}}
	want := []smtp.RecipientDSN{{}, {Notify: "SUCCESS", ORcpt: "rfc822;a+2Bb@c.test"}, {Notify: "NEVER"}}
	if got := recipientDSNs(in); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("recipientDSNs(%v) = %v, want %v", in, got, want)
	}
}
