package sim

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// tinyConfig is a world with a couple of domains of every kind and free
// ports; tests change what they need.
func tinyConfig() Config {
	return Config{
		Seed: 7, Domains: 40, Hosts: 12, Users: 3,
		Share: 4, ShareGroup: 2, DeadFirst: 2, RefuseFirst: 2, Crossed: 2, Implicit: 2, CNAME: 2,
		NullMX: 2, NXDomain: 2, Silent: 2, Truncate: 2, SecondMX: 0.5,
		DNSAddr: "127.0.0.1:0",
	}
}

func startSim(t *testing.T, cfg Config) *Sim {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func query(t *testing.T, s *Sim, name string, qtype uint16, network string, timeout time.Duration) (*dns.Msg, error) {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: timeout}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := c.Exchange(m, s.DNSAddr().String())
	return r, err
}

func mustQuery(t *testing.T, s *Sim, name string, qtype uint16, network string) *dns.Msg {
	t.Helper()
	r, err := query(t, s, name, qtype, network, 5*time.Second)
	if err != nil {
		t.Fatalf("query %s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

// client is a raw SMTP client that can pipeline.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, s *Sim, h *Host) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp4", s.HostAddr(h).String(), 5*time.Second)
	if err != nil {
		t.Fatalf("connect %s: %v", h.Name, err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// send writes all lines in one write.
// deliverOne sends, after the greeting, one message to rcpt and expects
// it accepted.
func (c *client) deliverOne(rcpt string) {
	c.t.Helper()
	c.expect("220 ")
	c.send("EHLO t", "MAIL FROM:<a@b.test>", "RCPT TO:<"+rcpt+">", "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 2.1.5")
	c.expect("354 ")
	c.send("hi", ".")
	c.expect("250 ")
}

func (c *client) send(lines ...string) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply: its code and all its lines.
func (c *client) reply() (int, []string) {
	c.t.Helper()
	var lines []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply after %q: %v", lines, err)
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			code, _ := strconv.Atoi(l[:min(3, len(l))])
			return code, lines
		}
	}
}

// expect reads a reply and checks that it starts with prefix.
func (c *client) expect(prefix string) []string {
	c.t.Helper()
	_, lines := c.reply()
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, prefix) {
		c.t.Fatalf("reply: got %q, want prefix %q", last, prefix)
	}
	return lines
}

// liveHost returns the first live host satisfying ok.
func liveHost(t *testing.T, w *World, ok func(*Host) bool) *Host {
	t.Helper()
	for _, h := range w.HostsOf(HostLive) {
		if ok(h) {
			return h
		}
	}
	t.Fatalf("no live host with the wanted features in the world")
	return nil
}

// domainOn returns a domain whose first MX is h.
func domainOn(t *testing.T, w *World, h *Host) *Domain {
	t.Helper()
	for _, d := range w.Domains {
		if hs := d.MXHosts(); len(hs) > 0 && hs[0] == h && d.Kind != KindCNAME {
			return d
		}
	}
	t.Fatalf("host %s is first MX of no domain", h.Name)
	return nil
}

// plainDomain returns the first domain of a kind with no defer-/bounce-
// users.
func plainDomain(t *testing.T, w *World, k DomainKind) *Domain {
	t.Helper()
	for _, d := range w.DomainsOf(k) {
		if !strings.Contains(strings.Join(d.Users, " "), "-") {
			return d
		}
	}
	t.Fatalf("no %s domain without marked users", k)
	return nil
}
