package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
)

// lmtpSessionFor is an LMTP session that hands msg, with the MAIL
// parameters params, to every recipient of s's world.
func lmtpSessionFor(s *sim.Sim, params string, msg []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "LHLO simnet.%s\r\nMAIL FROM:<%s>%s\r\n", sim.Zone, sim.ListSender, params)
	for _, r := range s.World.Recipients {
		fmt.Fprintf(&b, "RCPT TO:<%s>\r\n", r.Addr)
	}
	b.WriteString("DATA\r\n")
	b.Write(sim.DotStuff(msg))
	b.WriteString(".\r\nQUIT\r\n")
	return b.Bytes()
}

// received is what a server records of a message's wire form: the
// content, dot-stuffing undone, without the final dot.
func received(wire []byte) []byte {
	var out []byte
	for line := range bytes.SplitAfterSeq(bytes.TrimSuffix(wire, []byte(".\r\n")), []byte("\r\n")) {
		out = append(out, bytes.TrimPrefix(line, []byte("."))...)
	}
	return out
}

// TestEightBitThroughBinary: an 8-bit message reaches the hosts that
// offer 8BITMIME byte for byte and those that do not in the one 7-bit
// form; one with an 8-bit header is refused 554 5.6.3 for the latter
// and delivered to the former.
func TestEightBitThroughBinary(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Seed, cfg.Domains, cfg.Hosts, cfg.Users = 5, 12, 6, 2
	cfg.DeadFirst, cfg.RefuseFirst, cfg.DeadHosts, cfg.RefuseHosts, cfg.HeloOnly = 0, 0, 0, 0, 0
	cfg.DeferRcpts, cfg.BounceRcpts, cfg.NXDomain, cfg.NullMX, cfg.Silent = 0, 0, 0, 0, 0
	cfg.No8BitMIME = 3 // a count: half the hosts
	body := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n" +
		"Subject: menu\r\n\r\ncaf\xc3\xa9 cr\xc3\xa8me, " + strings.Repeat("\xc3\xa9", 60) + "\r\n.dot line\r\n"
	for _, tc := range []struct {
		name   string
		header string // put before body's fields
	}{
		{"8-bit body", ""},
		{"8-bit header", "X-Note: d\xc3\xa9j\xc3\xa0 vu\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sim.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			msg := []byte(tc.header + body)
			seven, convErr := smtp.NewMessage(msg).SevenBit()
			args := feedArgs(s, quickTimeouts...)
			out, errOut, err := smtpfeedChild(t, args, lmtpSessionFor(s, " BODY=8BITMIME", msg))
			if err != nil {
				t.Fatalf("smtpfeed: %v; stderr:\n%s", err, errOut)
			}
			tl := tallyLMTP(out)
			if len(tl.replies) != len(s.World.Recipients) {
				t.Fatalf("%d replies for %d recipients:\n%s", len(tl.replies), len(s.World.Recipients), out)
			}
			got := map[string]string{} // recipient -> hash received
			for _, d := range s.Report().Deliveries {
				got[strings.ToLower(d.Rcpt)] = d.Hash
			}
			eight, sevenSeen := 0, 0
			for i, r := range s.World.Recipients {
				h := r.Domain.MXHosts()[0]
				switch {
				case h.EightBitMIME:
					eight++
					if want := sim.HashMessage(msg); got[strings.ToLower(r.Addr)] != want || !strings.HasPrefix(tl.replies[i], "250 ") {
						t.Errorf("%s at %s (8BITMIME): reply %q, content changed or missing", r.Addr, h.Name, tl.replies[i])
					}
				case convErr != nil:
					if !strings.HasPrefix(tl.replies[i], "554 5.6.3 ") || got[strings.ToLower(r.Addr)] != "" {
						t.Errorf("%s at %s (no 8BITMIME, unconvertible): reply %q, delivered %v; want 554 5.6.3 and nothing sent", r.Addr, h.Name, tl.replies[i], got[strings.ToLower(r.Addr)] != "")
					}
				default:
					sevenSeen++
					if want := sim.HashMessage(received(seven.Wire())); got[strings.ToLower(r.Addr)] != want || !strings.HasPrefix(tl.replies[i], "250 ") {
						t.Errorf("%s at %s (no 8BITMIME): reply %q, content is not the 7-bit form", r.Addr, h.Name, tl.replies[i])
					}
				}
			}
			if eight == 0 || eight == len(s.World.Recipients) {
				t.Fatalf("world has %d of %d recipients on 8BITMIME hosts: want both kinds", eight, len(s.World.Recipients))
			}
			if (convErr == nil) != (sevenSeen > 0) {
				t.Fatalf("conversion error %v, %d recipients checked against the 7-bit form", convErr, sevenSeen)
			}
		})
	}
}
