package lmtp

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// serve is a tiny driver: it runs a Session over conn until Done, reading
// in its own goroutine (tests may), answering each message with answer.
func serve(conn net.Conn, cfg Config, answer func(addr string) Reply, got chan<- *Message) error {
	defer conn.Close()
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 4096)
			n, err := conn.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	s := NewSession(cfg)
	eof := false
	for {
		for len(s.Output()) > 0 {
			n, err := conn.Write(s.Output())
			s.Wrote(n)
			if err != nil {
				return err
			}
		}
		if m, ok := s.Next(); ok {
			got <- m
			// Answer last to first: the session must put them in order.
			for i := len(m.Rcpts) - 1; i >= 0; i-- {
				if err := s.Answer(m, i, answer(m.Rcpts[i])); err != nil {
					return err
				}
			}
			continue
		}
		if s.Done() || eof {
			return nil
		}
		b, ok := <-chunks
		if !ok {
			eof = true
			s.EOF()
			continue
		}
		s.Feed(b)
	}
}

func TestInteropGoSMTPClient(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	got := make(chan *Message, 4)
	served := make(chan error, 1)
	answer := func(addr string) Reply {
		if strings.HasPrefix(addr, "bounce") {
			return Reply{550, "5.1.1", "no such user"}
		}
		if strings.HasPrefix(addr, "defer") {
			return Reply{451, "4.2.0", "try later"}
		}
		return Reply{250, "2.0.0", "delivered"}
	}
	go func() { served <- serve(server, Config{Hostname: "feed.test", MaxSize: 1 << 20}, answer, got) }()
	client.SetDeadline(time.Now().Add(10 * time.Second))

	c := gosmtp.NewClientLMTP(client)
	if err := c.Hello("mta.test"); err != nil {
		t.Fatalf("LHLO: %v", err)
	}
	for _, ext := range []string{"PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SIZE", "SMTPUTF8"} {
		if ok, _ := c.Extension(ext); !ok {
			t.Errorf("extension %s not advertised", ext)
		}
	}
	if ok, param := c.Extension("SIZE"); !ok || param != "1048576" {
		t.Errorf("SIZE %q, want 1048576", param)
	}
	msg := "Subject: interop\r\n\r\nHello.\r\n.leading dot\r\n"
	// go-smtp xtext-encodes ENVID and ORCPT: "+" and "=" become +2B
	// and +3D, which the message must keep as sent.
	if err := c.Mail("owner@list.test", &gosmtp.MailOptions{Size: int64(len(msg)), Return: gosmtp.DSNReturnHeaders, EnvelopeID: "list=42+x"}); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	var accepted []string
	for _, to := range []string{"alice@a.test", "bounce-bob@b.test", "not an address", "defer-carol@c.test", "dave@d.test"} {
		var opts *gosmtp.RcptOptions
		if to == "alice@a.test" {
			opts = &gosmtp.RcptOptions{Notify: []gosmtp.DSNNotify{gosmtp.DSNNotifySuccess, gosmtp.DSNNotifyFailure},
				OriginalRecipientType: gosmtp.DSNAddressTypeRFC822, OriginalRecipient: "Alice+list@a.test"}
		}
		err := c.Rcpt(to, opts)
		if to == "not an address" {
			var se *gosmtp.SMTPError
			if !errors.As(err, &se) || se.Code != 501 {
				t.Errorf("RCPT %s: %v, want 501", to, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("RCPT %s: %v", to, err)
		}
		accepted = append(accepted, to)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	resp, err := w.CloseWithLMTPResponse()
	var lerr gosmtp.LMTPDataError
	if !errors.As(err, &lerr) {
		t.Fatalf("final dot: %v, want per-recipient errors", err)
	}
	if len(resp)+len(lerr) != len(accepted) {
		t.Errorf("%d successes and %d failures for %d recipients", len(resp), len(lerr), len(accepted))
	}
	for _, to := range accepted {
		switch {
		case strings.HasPrefix(to, "bounce"):
			if e := lerr[to]; e == nil || e.Code != 550 || e.EnhancedCode != (gosmtp.EnhancedCode{5, 1, 1}) {
				t.Errorf("%s: %v, want 550 5.1.1", to, e)
			}
		case strings.HasPrefix(to, "defer"):
			if e := lerr[to]; e == nil || e.Code != 451 || !e.Temporary() {
				t.Errorf("%s: %v, want 451", to, e)
			}
		default:
			if resp[to] == nil {
				t.Errorf("%s: no success reply (errors %v)", to, lerr)
			}
		}
	}
	if err := c.Quit(); err != nil {
		t.Errorf("QUIT: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("driver: %v", err)
	}
	m := <-got
	if string(m.Data) != msg || m.From.Addr != "owner@list.test" || len(m.Rcpts) != 4 || !m.EightBit {
		t.Errorf("message as delivered: %+v data %q", m, m.Data)
	}
	wantDSN := []RcptDSN{{"SUCCESS,FAILURE", "RFC822;Alice+2Blist@a.test"}, {}, {}, {}}
	if m.Ret != "HDRS" || m.EnvID != "list+3D42+2Bx" || fmt.Sprint(m.DSN) != fmt.Sprint(wantDSN) {
		t.Errorf("DSN parameters RET %q ENVID %q %q, want HDRS list+3D42+2Bx %q", m.Ret, m.EnvID, m.DSN, wantDSN)
	}
}
