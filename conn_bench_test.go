package smtpfeed

import (
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
	"smtpfeed/reactor"
)

// BenchmarkRoundTrips measures what one fresh connection costs in round
// trips: a simnet host with a 20 ms reply delay takes one transaction of
// 100 recipients. Elapsed time from dial to the last verdict, divided by
// the delay, is about 4 with PIPELINING (greeting, EHLO, the MAIL/RCPT/
// DATA group, the message; the loopback connect is free) and about 104
// without (each RCPT waits for its reply).
func BenchmarkRoundTrips(b *testing.B) {
	const rtt = 20 * time.Millisecond
	cfg := sim.Config{Seed: 7, Domains: 8, Hosts: 8, Users: 100, RTT: rtt, NoPipelining: 0.5, DNSAddr: "127.0.0.1:0"}
	s, err := sim.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, pipelining := range []bool{true, false} {
		name := "lockstep"
		if pipelining {
			name = "pipelined"
		}
		b.Run(name, func(b *testing.B) {
			host, rcpts := simHostWith(b, s.World, pipelining)
			loop, err := reactor.New(nil)
			if err != nil {
				b.Fatal(err)
			}
			defer loop.Shutdown()
			msg := smtp.NewMessage([]byte(sim.TestMessage))
			var total time.Duration
			for b.Loop() {
				var run connRun
				start := time.Now()
				c, err := DialSMTP(loop, host.Name, s.HostAddr(host), ConnConfig{SMTP: smtp.Config{Hostname: "feed.test"}}, run.handlers(true))
				if err != nil {
					b.Fatal(err)
				}
				tx := &smtp.Envelope{From: sim.ListSender, Msg: msg}
				for _, a := range rcpts {
					tx.Rcpts = append(tx.Rcpts, smtp.Recipient{Addr: a})
				}
				c.Add(tx)
				var done time.Duration
				for !run.closed {
					if err := loop.Step(time.Second); err != nil {
						b.Fatal(err)
					}
					if len(run.results) == len(rcpts) && done == 0 {
						done = time.Since(start)
					}
				}
				for _, r := range run.results {
					if r.Status != smtp.Delivered {
						b.Fatalf("%v", r)
					}
				}
				total += done
			}
			b.ReportMetric(float64(total)/float64(b.N)/float64(host.RTT), "rtts/transaction")
		})
	}
}

// simHostWith picks a live host of w with or without PIPELINING and the
// recipients of a domain whose first MX it is.
func simHostWith(b *testing.B, w *sim.World, pipelining bool) (*sim.Host, []string) {
	for _, d := range w.Domains {
		if d.Kind != sim.KindNormal || len(d.MX) == 0 {
			continue
		}
		h := d.MX[0].Host
		if h.Kind != sim.HostLive || h.Pipelining != pipelining || h.HeloOnly {
			continue
		}
		var rcpts []string
		for _, u := range d.Users {
			rcpts = append(rcpts, u+"@"+d.Name)
		}
		return h, rcpts
	}
	b.Fatalf("no live host with pipelining=%v in the world", pipelining)
	return nil, nil
}
