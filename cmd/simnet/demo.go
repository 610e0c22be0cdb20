package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/miekg/dns"

	"smtpfeed/cmd/simnet/sim"
)

// runDemo (simnet -demo) starts a world and plays a client of its own
// against it: one query per domain kind, one pipelined SMTP transaction,
// a dead and a refusing host, then the report. It shows the simulated
// network alone, with no smtpfeed in it, for whoever changes simnet;
// `make demo` is feedbench's demo, smtpfeed delivering into a world.
func runDemo(cfg sim.Config, out io.Writer) error {
	raiseFileLimit()
	s, err := sim.Start(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	w := s.World
	fmt.Fprint(out, w.Summary())
	fmt.Fprintln(out, s.ReadyLine())

	fmt.Fprintln(out, "\nDNS, one domain of each kind (miekg/dns client over UDP):")
	server := s.DNSAddr().String()
	query := func(name string, qtype uint16, network string, timeout time.Duration) (*dns.Msg, error) {
		c := &dns.Client{Net: network, Timeout: timeout}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtype)
		r, _, err := c.Exchange(m, server)
		return r, err
	}
	show := func(label, name string, qtype uint16, network string) {
		r, err := query(name, qtype, network, 2*time.Second)
		if err != nil {
			fmt.Fprintf(out, "  %-13s %s %s: %v\n", label, name, dns.TypeToString[qtype], err)
			return
		}
		fmt.Fprintf(out, "  %-13s %s %s/%s: %s\n", label, name, dns.TypeToString[qtype], network, brief(r))
	}
	for _, k := range []sim.DomainKind{sim.KindNormal, sim.KindShare, sim.KindDeadFirst, sim.KindRefuseFirst,
		sim.KindCrossed, sim.KindImplicit, sim.KindCNAME, sim.KindNullMX, sim.KindNXDomain} {
		ds := w.DomainsOf(k)
		if len(ds) == 0 {
			continue
		}
		show(string(k), ds[0].Name, dns.TypeMX, "udp")
		switch k {
		case sim.KindShare, sim.KindCrossed:
			show("", ds[1].Name, dns.TypeMX, "udp")
		case sim.KindImplicit:
			show("", ds[0].Name, dns.TypeA, "udp")
		}
	}
	if ds := w.DomainsOf(sim.KindSilent); len(ds) > 0 {
		_, err := query(ds[0].Name, dns.TypeMX, "udp", 300*time.Millisecond)
		fmt.Fprintf(out, "  %-13s %s MX/udp: %v\n", "silent", ds[0].Name, errorText(err))
	}
	if ds := w.DomainsOf(sim.KindTruncate); len(ds) > 0 {
		show("truncate", ds[0].Name, dns.TypeMX, "udp")
		show("", ds[0].Name, dns.TypeMX, "tcp")
	}

	fmt.Fprintln(out, "\nSMTP, one pipelined transaction:")
	if err := demoSMTP(s, out); err != nil {
		fmt.Fprintln(out, "  error:", err)
	}
	for _, k := range []sim.HostKind{sim.HostDead, sim.HostRefuse} {
		if hs := w.HostsOf(k); len(hs) > 0 {
			start := time.Now()
			c, err := net.DialTimeout("tcp4", s.HostAddr(hs[0]).String(), 300*time.Millisecond)
			if c != nil {
				c.Close()
			}
			fmt.Fprintf(out, "  %-6s host %s connect: %v after %v\n", k, s.HostAddr(hs[0]), errorText(err),
				time.Since(start).Round(time.Millisecond))
		}
	}
	r := s.Report()
	fmt.Fprint(out, "\nreport: ", r.Summary())
	for _, d := range r.Deliveries {
		fmt.Fprintf(out, "  delivered %s on %s conn %d txn %d sha256 %s... (matches message: %v)\n",
			d.Rcpt, d.Host, d.Conn, d.Txn, d.Hash[:12], d.Hash == sim.MessageSHA256())
	}
	return nil
}

// demoSMTP delivers the test message to a few users of a normal domain
// through its first MX, pipelining MAIL/RCPT/DATA when the host allows.
func demoSMTP(s *sim.Sim, out io.Writer) error {
	var d *sim.Domain
	for _, c := range s.World.DomainsOf(sim.KindNormal) {
		h := c.MXHosts()[0]
		if h.Pipelining && !strings.Contains(strings.Join(c.Users, ","), "-") && (d == nil || h.Enhanced && h.EightBitMIME) {
			d = c
			if h.Enhanced && h.EightBitMIME {
				break // a host with every extension shows them all
			}
		}
	}
	if d == nil {
		return errors.New("no normal domain on a PIPELINING host")
	}
	h := d.MXHosts()[0]
	conn, err := net.DialTimeout("tcp4", s.HostAddr(h).String(), 2*time.Second)
	if err != nil {
		return fmt.Errorf("connect %s: %w", h.Name, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	bw := bufio.NewWriter(conn)
	read := func(n int) error {
		for range n {
			for {
				l, err := tp.ReadLine()
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "  S: %s\n", l)
				if len(l) < 4 || l[3] != '-' {
					break
				}
			}
		}
		return nil
	}
	send := func(lines ...string) {
		for _, l := range lines {
			fmt.Fprintf(out, "  C: %s\n", l)
			bw.WriteString(l + "\r\n")
		}
		bw.Flush()
	}
	if err := read(1); err != nil {
		return err
	}
	send("EHLO demo.simnet.test")
	if err := read(1); err != nil {
		return err
	}
	group := []string{"MAIL FROM:<" + sim.ListSender + ">"}
	for _, u := range d.Users {
		group = append(group, "RCPT TO:<"+u+"@"+d.Name+">")
	}
	group = append(group, "RCPT TO:<someone@elsewhere.example>", "DATA")
	send(group...)
	if err := read(len(group)); err != nil {
		return err
	}
	fmt.Fprintf(out, "  C: (message, %d bytes, dot-stuffed) .\n", len(sim.TestMessage))
	bw.Write(sim.DotStuff([]byte(sim.TestMessage)))
	bw.WriteString(".\r\n")
	bw.Flush()
	if err := read(1); err != nil {
		return err
	}
	send("QUIT")
	return read(1)
}

// brief prints a DNS reply on one line: rcode, flags, answer and
// additional records without TTL and class.
func brief(r *dns.Msg) string {
	var b strings.Builder
	b.WriteString(dns.RcodeToString[r.Rcode])
	if r.Truncated {
		b.WriteString(" TC")
	}
	rrs := func(label string, list []dns.RR) {
		var parts []string
		for _, rr := range list {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			f := strings.Fields(rr.String())
			if rr.Header().Rrtype == dns.TypeSOA {
				parts = append(parts, f[0]+" SOA")
				continue
			}
			parts = append(parts, strings.Join(append([]string{f[0], f[3]}, f[4:]...), " "))
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, " %s[%s]", label, strings.Join(parts, "; "))
		}
	}
	rrs("an", r.Answer)
	rrs("ns", r.Ns)
	rrs("ad", r.Extra)
	return b.String()
}

func errorText(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "connected"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer (timeout)"
	case strings.Contains(err.Error(), "refused"):
		return "connection refused"
	}
	return err.Error()
}
