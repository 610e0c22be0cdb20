package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"smtpfeed/cmd/simnet/sim"
)

// lmtpSend delivers one message over a new LMTP session on the socket and
// returns each recipient's reply code.
func lmtpSend(sock string, from string, rcpts []string, body string) (map[string]int, error) {
	conn, err := net.DialTimeout("unix", sock, 10*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	cl := gosmtp.NewClientLMTP(conn)
	defer cl.Close()
	if err := cl.Hello("mta.test"); err != nil {
		return nil, err
	}
	if err := cl.Mail(from, nil); err != nil {
		return nil, err
	}
	for _, a := range rcpts {
		if err := cl.Rcpt(a, nil); err != nil {
			return nil, fmt.Errorf("RCPT %s: %w", a, err)
		}
	}
	w, err := cl.Data()
	if err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return nil, err
	}
	resp, err := w.CloseWithLMTPResponse()
	codes := map[string]int{}
	for a := range resp {
		codes[a] = 250
	}
	var lerr gosmtp.LMTPDataError
	if errors.As(err, &lerr) {
		for a, e := range lerr {
			codes[a] = e.Code
		}
	} else if err != nil {
		return nil, err
	}
	cl.Quit()
	return codes, nil
}

// TestListener: 50 concurrent LMTP sessions, each a different message to
// overlapping domains, all answered as the world says; a second round to
// the same hosts rides the connections the first left open; USR1 ends
// the listener with exit 0 and removes its socket.
func TestListener(t *testing.T) {
	s, err := sim.Start(sim.Config{Seed: 21, Domains: 60, Hosts: 12, Users: 10, BounceRcpts: 0.05, DNSAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	c := startChild(t, "-L", "unix:"+sock, "-sessions", "60", "-t", "idle=1m",
		"-nameserver", s.DNSAddr().String(), "-port", fmt.Sprint(s.SMTPPort()), "-c", "feed.test", "-l", "stderr", "-N", "4", "-allow-local", "127.0.0.0/8")
	waitForLog(t, c, "serving LMTP on unix:")
	all := s.World.Addresses()
	round := func(n int) {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			// Each session takes a different slice of the list: the
			// slices overlap in domains and hosts.
			rcpts := all[(i*11)%len(all):]
			rcpts = rcpts[:min(len(rcpts), 40)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf("Subject: round %d message %d\r\n\r\nhello\r\n", n, i)
				codes, err := lmtpSend(sock, sim.ListSender, rcpts, body)
				if err != nil {
					errs <- fmt.Errorf("session %d: %w", i, err)
					return
				}
				for _, a := range rcpts {
					want := map[sim.Outcome]int{sim.Delivered: 2, sim.Bounced: 5, sim.Deferred: 4}[s.World.Recipient(a).Expect]
					if codes[a]/100 != want {
						errs <- fmt.Errorf("session %d: %s got %d, want %dxx", i, a, codes[a], want)
						return
					}
				}
				if len(codes) != len(rcpts) {
					errs <- fmt.Errorf("session %d: %d replies for %d recipients", i, len(codes), len(rcpts))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	round(1)
	first := s.Report()
	round(2)
	second := s.Report()
	if second.Connections != first.Connections {
		t.Errorf("the second round opened %d connections, want 0 (reuse)", second.Connections-first.Connections)
	}
	t.Logf("%d connections, %d transactions for 100 messages", second.Connections, second.Transactions)
	// Every message differs, so nobody may get one twice.
	for _, d := range second.Duplicates {
		t.Errorf("duplicate delivery: %+v", d)
	}
	c.signal(syscall.SIGUSR1)
	if code := c.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGUSR1, want 0; log:\n%s", code, c.log())
	}
	if _, err := net.Dial("unix", sock); err == nil {
		t.Error("the socket still accepts after exit")
	}
}

// TestListenerDoor: the listener's flags reach it. A TCP listener serves
// loopback peers only unless -lmtp-allow names networks; a unix socket
// gets -socket-mode (0660 by default) whatever the umask.
func TestListenerDoor(t *testing.T) {
	freePort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	greet := func(addr, from string) string {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	for _, tc := range []struct {
		name  string
		extra []string
		from  string
		want  string
	}{
		{"loopback by default", nil, "127.0.0.9", "220 "},
		{"a network named", []string{"-lmtp-allow", "127.0.0.2/32"}, "127.0.0.2", "220 "},
		{"outside the networks named", []string{"-lmtp-allow", "127.0.0.2/32"}, "127.0.0.1", "421 4.7.1 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := freePort()
			c := startChild(t, append([]string{"-L", "tcp:" + addr, "-nameserver", "127.0.0.1:9", "-l", "stderr"}, tc.extra...)...)
			waitForLog(t, c, "serving LMTP on tcp:")
			if got := greet(addr, tc.from); !strings.HasPrefix(got, tc.want) {
				t.Errorf("a peer at %s heard %q, want %q...", tc.from, got, tc.want)
			}
			c.signal(syscall.SIGUSR1)
			c.wait(20 * time.Second)
		})
	}
	t.Run("socket mode", func(t *testing.T) {
		for _, mode := range []string{"", "0600"} {
			sock := filepath.Join(t.TempDir(), "lmtp.sock")
			args := []string{"-L", "unix:" + sock, "-nameserver", "127.0.0.1:9", "-l", "stderr"}
			want := os.FileMode(0o660)
			if mode != "" {
				args = append(args, "-socket-mode", mode)
				want = 0o600
			}
			c := startChild(t, args...)
			waitForLog(t, c, "serving LMTP on unix:")
			st, err := os.Stat(sock)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("-socket-mode %q: the socket has %03o, want %03o", mode, st.Mode().Perm(), want)
			}
			c.signal(syscall.SIGUSR1)
			c.wait(20 * time.Second)
		}
	})
}
