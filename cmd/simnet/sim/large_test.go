package sim

import (
	"fmt"
	"io"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestLargeWorld starts the full-size world the command serves by
// default, samples it, and shuts it down.
func TestLargeWorld(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Domains, cfg.Hosts = 10000, 1000
	start := time.Now()
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("10000 domains / 1000 hosts started in %v", time.Since(start))
	defer func() {
		start := time.Now()
		s.Close()
		t.Logf("closed in %v", time.Since(start))
	}()
	w := s.World
	if got := len(w.Recipients); got != 30000 {
		t.Errorf("recipients: got %v, want 30000", got)
	}
	for _, d := range []*Domain{w.Domains[0], w.Domains[4999], w.Domains[9999]} {
		if !d.deliverable() || d.Kind == KindTruncate {
			continue
		}
		r := mustQuery(t, s, d.Name, dns.TypeMX, "udp")
		if d.Kind == KindImplicit {
			r = mustQuery(t, s, d.Name, dns.TypeA, "udp")
		}
		if len(r.Answer) == 0 {
			t.Errorf("%s (%s): got no answer records, want some", d.Name, d.Kind)
		}
	}
	d := plainDomain(t, w, KindNormal)
	h := d.MXHosts()[len(d.MXHosts())-1]
	c := dial(t, s, h)
	c.expect("220 ")
	c.send("HELO t", "MAIL FROM:<a@b.test>", "RCPT TO:<"+d.Users[0]+"@"+d.Name+">", "DATA")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("hi", ".", "QUIT")
	c.expect("250 ")
	c.expect("221 ")
	if r := s.Report(); r.Delivered != 1 || r.ConnectionsPerHost[h.Name] != 1 {
		t.Errorf("report: got %d delivered, %d connections on %s, want 1 and 1", r.Delivered, r.ConnectionsPerHost[h.Name], h.Name)
	}
}

// TestBoundIsReachable plays an omniscient client against a world with
// delays and checks that the bound is a lower bound that can be met.
func TestBoundIsReachable(t *testing.T) {
	const dd, rtt = 60 * time.Millisecond, 30 * time.Millisecond
	cfg := tinyConfig()
	cfg.DNSDelay, cfg.RTT = dd, rtt
	s := startSim(t, cfg)
	w := s.World
	var d *Domain
	for _, c := range w.DomainsOf(KindNormal) {
		if c.MXHosts()[0].Pipelining && !c.MXHosts()[0].HeloOnly {
			d = c
			break
		}
	}
	if d == nil {
		t.Fatal("no normal domain on a pipelining host")
	}
	rcpt := d.Users[0] + "@" + d.Name
	bound, _ := w.Bound(rcpt)
	start := time.Now()
	mustQuery(t, s, d.Name, dns.TypeMX, "udp")
	c := dial(t, s, d.MXHosts()[0])
	c.expect("220 ")
	c.send("EHLO t")
	c.expect("250 ")
	c.send("MAIL FROM:<a@b.test>", "RCPT TO:<"+rcpt+">", "DATA")
	c.expect("250 ")
	c.reply()
	c.expect("354 ")
	c.send("x", ".")
	c.expect("250 ")
	if got := time.Since(start); got < bound || got > bound*15/10 {
		t.Errorf("omniscient client done after %v, want in [%v, %v]", got, bound, bound*15/10)
	}
}

// TestConcurrentDeliveries delivers to many hosts at once, as a client
// would, and checks that the report saw each delivery once.
func TestConcurrentDeliveries(t *testing.T) {
	cfg := tinyConfig()
	cfg.Domains, cfg.Hosts, cfg.RTT = 400, 60, 5*time.Millisecond
	s := startSim(t, cfg)
	var ds []*Domain
	for _, d := range s.World.DomainsOf(KindNormal) {
		if !strings.Contains(strings.Join(d.Users, " "), "-") {
			ds = append(ds, d)
		}
	}
	ds = ds[:min(len(ds), 100)]
	errs := make(chan error, len(ds))
	for _, d := range ds {
		go func() {
			c, err := smtp.Dial(s.HostAddr(d.MXHosts()[0]).String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			err = c.Mail(ListSender)
			for _, u := range d.Users {
				if err == nil {
					err = c.Rcpt(u + "@" + d.Name)
				}
			}
			var wc io.WriteCloser
			if err == nil {
				wc, err = c.Data()
			}
			if err == nil {
				wc.Write([]byte(TestMessage))
				err = wc.Close()
			}
			if err == nil {
				err = c.Quit()
			}
			if err != nil {
				err = fmt.Errorf("%s: %w", d.Name, err)
			}
			errs <- err
		}()
	}
	for range ds {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	r := s.Report()
	if got, want := r.Delivered, len(ds)*cfg.Users; got != want {
		t.Errorf("delivered: got %v, want %v", got, want)
	}
	if got, want := r.Transactions, len(ds); got != want {
		t.Errorf("transactions: got %v, want %v", got, want)
	}
	if len(r.Duplicates) != 0 {
		t.Errorf("duplicates: got %v, want none", r.Duplicates)
	}
	for _, d := range r.Deliveries {
		if d.Hash != MessageSHA256() {
			t.Errorf("%s: got hash %v, want %v", d.Rcpt, d.Hash, MessageSHA256())
			break
		}
	}
}

// BenchmarkGenerate generates the benchmark's big worlds, up to the
// million recipients of feedbench's -worlds 1m, and reports the time per
// recipient.
func BenchmarkGenerate(b *testing.B) {
	for _, size := range []struct{ domains, hosts, users int }{{20000, 2000, 5}, {100000, 10000, 10}} {
		cfg := DefaultConfig()
		cfg.Domains, cfg.Hosts, cfg.Users = size.domains, size.hosts, size.users
		b.Run(fmt.Sprintf("%d-recipients", size.domains*size.users), func(b *testing.B) {
			for b.Loop() {
				if _, err := Generate(cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size.domains*size.users), "ns/recipient")
		})
	}
}
