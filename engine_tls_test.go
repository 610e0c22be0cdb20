package smtpfeed

import (
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/tlspolicy"
)

// TestEngineSTARTTLS: at level may every host that offers STARTTLS
// gets the message inside TLS (1.3, or 1.2 where that is the most the
// host speaks); a host whose handshake fails gets it in plaintext on a
// second connection, and is remembered; a host without STARTTLS gets
// plaintext. Every recipient is answered once, as the world expects.
func TestEngineSTARTTLS(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Domains, cfg.Hosts = 300, 40
	cfg.StartTLS, cfg.TLSBroken, cfg.TLS12Only = 0.5, 0.15, 0.15
	s := startWorld(t, cfg)
	run := newEngineRun(t, s, func(c *Config) { c.TLS.Level = tlspolicy.May })
	rcpts := s.World.Addresses()
	run.deliver(rcpts, 60*time.Second)
	run.check(rcpts)

	rep := s.Report()
	byRcpt := map[string]sim.Delivery{}
	for _, d := range rep.Deliveries {
		byRcpt[d.Rcpt] = d
	}
	seen := map[string]int{}
	for i, a := range rcpts {
		o := run.answers[i][0]
		d, ok := byRcpt[a]
		if !ok {
			continue
		}
		h := s.World.HostByName(d.Host)
		var want, wantLog string
		switch {
		case h.TLSBroken || !h.StartTLS:
			want, wantLog = "", "none"
		case h.TLS12Only:
			want, wantLog = "TLS 1.2", "TLSv1.2/"
		default:
			want, wantLog = "TLS 1.3", "TLSv1.3/"
		}
		kind := "plaintext"
		if h.TLSBroken {
			kind = "broken"
		} else if want != "" {
			kind = want
		}
		seen[kind]++
		if d.TLS != want {
			t.Errorf("%s at %s (starttls=%v broken=%v tls12=%v): host saw TLS %q, want %q", a, h.Name, h.StartTLS, h.TLSBroken, h.TLS12Only, d.TLS, want)
		}
		if !strings.HasPrefix(o.TLS, wantLog) {
			t.Errorf("%s at %s: logged tls=%q, want %q...", a, h.Name, o.TLS, wantLog)
		}
		if want == "" && o.Verified != "plaintext" || want != "" && o.Verified != "none" {
			t.Errorf("%s at %s: logged verified=%q", a, h.Name, o.Verified)
		}
	}
	for _, k := range []string{"TLS 1.3", "TLS 1.2", "broken", "plaintext"} {
		if seen[k] == 0 {
			t.Errorf("no recipient went to a %s host: %v", k, seen)
		}
	}
	st := run.e.Stats()
	if st.TLS == 0 || st.Plaintext == 0 || st.TLSBroken == 0 {
		t.Errorf("stats %+v: want TLS, plaintext and broken connections counted", st)
	}
	if st.HandshakeCPU <= 0 || st.HandshakeTime <= 0 {
		t.Errorf("handshake time %v, worker time %v: want both measured", st.HandshakeTime, st.HandshakeCPU)
	}
}
