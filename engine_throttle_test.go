package smtpfeed

import (
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
)

// burstSlack is how long after a 421 the connects of the same burst
// (issued in one pass, before the engine read it) may still reach the
// host, on a loaded machine.
const burstSlack = 50 * time.Millisecond

// throttledWorld is oneHostWorld with its host throttled.
func throttledWorld(t *testing.T, users int, maxConns, msgsPerConn, rcptRate int) *sim.Sim {
	t.Helper()
	s := oneHostWorld(t, users, time.Millisecond, func(c *sim.Config) {
		c.ThrottleHosts, c.ProviderMaxConns, c.ProviderMsgsPerConn, c.ProviderRcptRate = 1, maxConns, msgsPerConn, rcptRate
	})
	if !s.World.Hosts[0].Throttled() {
		t.Fatal("the world's host has no throttle")
	}
	return s
}

// checkBackoff fails for every connection the host accepted after a 421
// and before the shortest back-off (3/4 of cfg's) had passed, but those
// accepted within slack (connects already in flight).
func checkBackoff(t *testing.T, rep sim.Report, backoff, slack time.Duration) {
	t.Helper()
	for _, v := range rep.ConnectsWithin(backoff * 3 / 4) {
		if v.Connect-v.Sent421 > slack {
			t.Errorf("%s accepted a connection %v after its 421 (%s), within the back-off", v.Host, v.Connect-v.Sent421, v.Kind)
		}
	}
}

// A host that takes three sessions at once: lanes beyond hear 421 4.7.0
// at the greeting, the window shrinks, no connect comes during the
// back-off, and every recipient is delivered once.
func TestEngineThrottleTooManyConnections(t *testing.T) {
	s := throttledWorld(t, 3000, 3, 0, 0)
	backoff := 200 * time.Millisecond
	r := newEngineRun(t, s, func(c *Config) { c.Backoff = backoff })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 60*time.Second)
	r.check(rcpts)
	rep := s.Report()
	hc := rep.Hosts[s.World.Hosts[0].Name]
	if hc.TooManyConns == 0 {
		t.Fatalf("the host never refused a connection (peak %d sessions): the test throttled nothing", hc.PeakSessions)
	}
	if st := r.e.Stats(); st.Throttled == 0 {
		t.Errorf("%d 421 greetings, engine counted no throttle", hc.TooManyConns)
	}
	checkBackoff(t, rep, backoff, burstSlack)
	// Slow start overshoots once; then the window stays at the host's
	// limit but for a probe (one more) now and then. It is read once
	// every lane's greeting (the 421s in flight) has come.
	f := r.e.flows[s.World.Hosts[0].Name]
	if f == nil {
		t.Fatal("the throttled host's flow was forgotten")
	}
	stepUntil(t, r.e.loop, func() bool {
		for _, d := range f.dests {
			for _, l := range d.lanes {
				if !l.ready {
					return false
				}
			}
		}
		return true
	}, 10*time.Second)
	if f.window > 3+1 {
		t.Errorf("flow %v: want its window at the host's 3 and a probe at most", f)
	}
	if hc.TooManyConns > 10 {
		t.Errorf("%d connections refused: the window did not settle under the host's 3", hc.TooManyConns)
	}
}

// A host that takes two messages a connection: the third MAIL hears 421
// 4.7.0, its recipients wait out the back-off and go again, on the one
// connection -P 1 allows, so that no connect can be in flight when the
// 421 comes. The engine learns the limit from that one 421; with
// -reuse-limit 2 the host never has to say it.
func TestEngineThrottleTooManyMessages(t *testing.T) {
	for _, reuse := range []int{0, 2} {
		t.Run("reuse-limit "+string(rune('0'+reuse)), func(t *testing.T) {
			s := throttledWorld(t, 800, 0, 2, 0)
			backoff := 200 * time.Millisecond
			r := newEngineRun(t, s, func(c *Config) { c.Backoff, c.ConnTransactions, c.HostConcurrency = backoff, reuse, 1 })
			rcpts := s.World.Addresses()
			r.deliver(rcpts, 60*time.Second)
			r.check(rcpts)
			rep := s.Report()
			hc := rep.Hosts[s.World.Hosts[0].Name]
			switch {
			case reuse == 0 && (hc.TooManyMsgs != 1 || r.e.Stats().Retried == 0):
				t.Errorf("%d 421s to MAIL, %d recipients retried; want one, and some retried", hc.TooManyMsgs, r.e.Stats().Retried)
			case reuse == 2 && hc.TooManyMsgs != 0:
				t.Errorf("-reuse-limit 2: %d 421s to MAIL, want none", hc.TooManyMsgs)
			}
			checkBackoff(t, rep, backoff, 0)
		})
	}
}

// A host that takes 500 recipients a second: those beyond hear 450 4.7.1
// at RCPT and are sent again after the back-off, in the same run.
func TestEngineThrottleRate(t *testing.T) {
	s := throttledWorld(t, 1500, 0, 0, 500)
	r := newEngineRun(t, s, func(c *Config) { c.Backoff = 200 * time.Millisecond })
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 60*time.Second)
	r.check(rcpts)
	hc := s.Report().Hosts[s.World.Hosts[0].Name]
	if hc.RateLimited == 0 || r.e.Stats().Retried == 0 {
		t.Errorf("%d recipients rate limited, %d retried: want some of each", hc.RateLimited, r.e.Stats().Retried)
	}
}

// When the message's deadline comes before the back-off ends, a
// throttled recipient hears the host's own refusal, once, not 4.4.7.
func TestEngineThrottleDeadline(t *testing.T) {
	s := throttledWorld(t, 300, 0, 0, 10)
	r := newEngineRun(t, s, func(c *Config) {
		c.Backoff, c.MessageTimeout = 2*time.Second, 1500*time.Millisecond
	})
	rcpts := s.World.Addresses()
	r.deliver(rcpts, 60*time.Second)
	throttled := 0
	for i, a := range rcpts {
		got := r.answers[i]
		if len(got) != 1 {
			t.Fatalf("%s: %d answers, want 1", a, len(got))
		}
		o := got[0]
		switch {
		case o.Status == smtp.Delivered:
		case o.Code == 450 && o.Enhanced == "4.7.1" && strings.Contains(o.Text, "rate limited"):
			throttled++
		default:
			t.Errorf("%s: %v, want delivered or the host's 450 4.7.1", a, o)
		}
	}
	if throttled == 0 {
		t.Error("no recipient was left throttled: the test proved nothing")
	}
}

// A host that refuses everyone in 4.7.1's words (a policy, not a rate)
// is asked again through maxDryBackoffs back-offs with nothing delivered,
// not for the message's whole deadline; then its own reply goes back.
func TestEngineThrottleNoProgress(t *testing.T) {
	z := newZoneRun(t, []string{"policy.test. 300 IN MX 10 mx.policy.test.", "mx.policy.test. 300 IN A 127.0.0.1"},
		func(c *Config) { c.Backoff = 20 * time.Millisecond })
	got := z.deliver(t, "policy1@policy.test", "policy2@policy.test")
	for _, o := range got {
		if o.Code != 450 || o.Enhanced != "4.7.1" {
			t.Errorf("%v, want the host's own 450 4.7.1", o)
		}
	}
	z.be.mu.Lock()
	refused := z.be.refused
	z.be.mu.Unlock()
	if want := 2 * (maxDryBackoffs + 1); refused != want {
		t.Errorf("the host refused %d RCPTs, want %d: each recipient once and once after each of %d back-offs",
			refused, want, maxDryBackoffs)
	}
}
