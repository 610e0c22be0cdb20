package smtpfeed

import (
	"net/netip"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
)

// zoneRun is an engine whose resolver asks a test zone and whose
// connections go to one go-smtp server's port.
type zoneRun struct {
	e       *Engine
	be      *goSMTPBackend
	answers map[int][]Outcome
}

func newZoneRun(t *testing.T, records []string, tweak func(*Config)) *zoneRun {
	t.Helper()
	be, smtpAddr := startGoSMTP(t, 100)
	dnsAddr := newZone(t, records...).serve(t)
	cfg := Config{
		Resolver:       ResolverConfig{Servers: []netip.AddrPort{dnsAddr}, IPv4Only: true, Timeout: 2 * time.Second},
		SMTP:           smtp.Config{Hostname: "feed.test"},
		Port:           smtpAddr.Port(),
		ConnectTimeout: time.Second,
		IdleTime:       time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := NewEngine(newLoop(t, nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &zoneRun{e: e, be: be, answers: map[int][]Outcome{}}
}

func (z *zoneRun) deliver(t *testing.T, rcpts ...string) []Outcome {
	t.Helper()
	done := false
	answers := make([][]Outcome, len(rcpts))
	m := &Message{From: "list-bounces@lists.test", Rcpts: rcpts, Data: []byte(sim.TestMessage)}
	z.e.Deliver(m, func(i int, o Outcome) { answers[i] = append(answers[i], o) }, func() { done = true })
	stepUntil(t, z.e.loop, func() bool { return done }, 10*time.Second)
	out := make([]Outcome, len(rcpts))
	for i, a := range answers {
		if len(a) != 1 {
			t.Fatalf("%s: %d answers, want 1", rcpts[i], len(a))
		}
		out[i] = a[0]
	}
	return out
}
