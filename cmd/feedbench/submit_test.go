package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"smtpfeed/cmd/simnet/sim"
)

// submitted is what the go-smtp server took: one envelope per message.
type submitted struct {
	mu    sync.Mutex
	from  []string
	rcpts [][]string
	data  [][]byte
	// cur is the open transaction's recipients.
	cur []string
}

func (b *submitted) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &submitSession{b: b}, nil
}

type submitSession struct{ b *submitted }

func (s *submitSession) Reset()        { s.b.cur = nil }
func (s *submitSession) Logout() error { return nil }
func (s *submitSession) Mail(from string, _ *gosmtp.MailOptions) error {
	s.b.mu.Lock()
	s.b.from = append(s.b.from, from)
	s.b.mu.Unlock()
	return nil
}

func (s *submitSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if strings.HasPrefix(to, "refused") {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.b.cur = append(s.b.cur, to)
	return nil
}

func (s *submitSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	s.b.rcpts, s.b.data = append(s.b.rcpts, s.b.cur), append(s.b.data, data)
	s.b.mu.Unlock()
	return nil
}

// serveSubmit serves a go-smtp server on a loopback port until the test
// ends.
func serveSubmit(t *testing.T) (*submitted, string) {
	t.Helper()
	be := &submitted{}
	srv := gosmtp.NewServer(be)
	srv.Domain = "peer.test"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return be, l.Addr().String()
}

// TestSubmit hands lists to an independent SMTP server: a list large
// enough that its pipelined RCPTs and their replies fill both sides'
// socket buffers at once, the message byte for byte (dot-stuffed on the
// wire, unstuffed by the server), and a refused recipient named in the
// error.
func TestSubmit(t *testing.T) {
	be, addr := serveSubmit(t)
	var rcpts []string
	for i := range 20000 {
		rcpts = append(rcpts, fmt.Sprintf("user%d@d%d.test", i, i%97))
	}
	if err := submit(addr, sim.ListSender, rcpts, []byte(sim.TestMessage)); err != nil {
		t.Fatalf("submitting %d recipients: %v", len(rcpts), err)
	}
	be.mu.Lock()
	if len(be.rcpts) != 1 || len(be.rcpts[0]) != len(rcpts) || be.rcpts[0][19999] != rcpts[19999] || be.from[0] != sim.ListSender {
		t.Errorf("server took %d messages, from %q, the first with %d recipients; want one from %s with %d",
			len(be.rcpts), be.from, len(be.rcpts[0]), sim.ListSender, len(rcpts))
	}
	if !bytes.Equal(be.data[0], []byte(sim.TestMessage)) {
		t.Errorf("message as received:\n%q\nwant\n%q", be.data[0], sim.TestMessage)
	}
	be.mu.Unlock()

	err := submit(addr, "", []string{"a@x.test", "refused@x.test"}, []byte(sim.TestMessage))
	if err == nil || !strings.Contains(err.Error(), "RCPT TO:<refused@x.test>") || !strings.Contains(err.Error(), "550") {
		t.Errorf("a refused recipient: err %v, want one naming RCPT TO:<refused@x.test> and the 550", err)
	}
}

// TestSubmitNoPipelining: a server that does not offer PIPELINING is
// not sent a pipelined envelope.
func TestSubmitNoPipelining(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		io.WriteString(c, "220 old.test ESMTP\r\n")
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		io.WriteString(c, "250-old.test\r\n250 8BITMIME\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, err := c.Read(buf[n:])
		if errors.Is(err, io.EOF) {
			m = 0
		}
		got <- string(buf[:n+m])
	}()
	err = submit(l.Addr().String(), "", []string{"a@x.test"}, []byte(sim.TestMessage))
	if err == nil || !strings.Contains(err.Error(), "no PIPELINING") {
		t.Errorf("err %v, want one saying the server offers no PIPELINING", err)
	}
	if s := <-got; strings.Contains(s, "MAIL") {
		t.Errorf("the server was sent %q: a MAIL after an EHLO without PIPELINING", s)
	}
}
