package smtpfeed

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
	"smtpfeed/proto/tlspolicy"
)

// policyRun is an engine whose resolver asks a DNSSEC-validating test
// zone and whose connections go to one go-smtp server (serving tlsCfg,
// nil for no STARTTLS), under the policy file policies.
type policyRun struct{ *zoneRun }

func newPolicyRun(t *testing.T, records []string, servfail []string, tlsCfg *tls.Config, policies string, tweak func(*Config)) *policyRun {
	t.Helper()
	be := &goSMTPBackend{}
	smtpAddr := serveSMTPTLS(t, be, "mx.shared.test", 100, tlsCfg)
	z := newZone(t, records...)
	z.ad = true
	for _, n := range servfail {
		z.servfail[n] = true
	}
	dnsAddr := z.serve(t)
	table, err := tlspolicy.Parse("policy", strings.NewReader(policies))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Resolver: ResolverConfig{Servers: []netip.AddrPort{dnsAddr}, IPv4Only: true, Timeout: 2 * time.Second, TrustAD: true},
		SMTP:     smtp.Config{Hostname: "feed.test"},
		Port:     smtpAddr.Port(), ConnectTimeout: time.Second, IdleTime: time.Second,
		TLS: TLSConfig{Level: tlspolicy.May, Policies: table},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := NewEngine(newLoop(t, nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &policyRun{zoneRun: &zoneRun{e: e, be: be, answers: map[int][]Outcome{}}}
}

// twoNames are the records of one server address under two MX names:
// mx.shared.test, whose TLSA record names cert's key, and
// mx.other.test, whose record names nothing.
func twoNames(cert *tls.Certificate) []string {
	return []string{
		"mx.shared.test. 300 IN A 127.0.0.1",
		"mx.other.test. 300 IN A 127.0.0.1",
		"_25._tcp.mx.shared.test. 300 IN TLSA 3 1 1 " + spkiHash(cert),
		"_25._tcp.mx.other.test. 300 IN TLSA 3 1 1 " + strings.Repeat("ab", 32),
	}
}

// spkiHash is the hex SHA-256 of a certificate's key: a 3 1 1 TLSA.
func spkiHash(c *tls.Certificate) string {
	sum := sha256.Sum256(c.Leaf.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// TestEngineTLSPiggyback: one server address is the MX of six domains
// with six policies, reached under two names. The session is TLS, and
// each domain rides it only so far as it meets that domain's policy:
// the DANE domain whose TLSA matches, the opportunistic one, the
// encrypt one and the secure one whose MX name and certificate pass go
// in one transaction on one connection; the DANE domain whose MX name
// has a TLSA record the certificate does not match, and the secure one
// whose MX is not among its names, are deferred 4.7.5 and never sent.
func TestEngineTLSPiggyback(t *testing.T) {
	cert := serverCert(t, "mx.shared.test")
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	records := append(twoNames(&cert),
		"dane.test. 300 IN MX 10 mx.shared.test.",
		"may.test. 300 IN MX 10 mx.shared.test.",
		"encrypt.test. 300 IN MX 10 mx.shared.test.",
		"secure.test. 300 IN MX 10 mx.shared.test.",
		"wrongmx.test. 300 IN MX 10 mx.shared.test.",
		"strict.test. 300 IN MX 10 mx.other.test.",
	)
	policies := `
dane.test     dane
strict.test   dane
encrypt.test  encrypt
secure.test   secure match=mx.shared.test
wrongmx.test  secure match=*.elsewhere.test
`
	run := newPolicyRun(t, records, nil, &tls.Config{Certificates: []tls.Certificate{cert}}, policies,
		func(c *Config) { c.TLS.Roots = roots })
	rcpts := []string{"a@dane.test", "b@may.test", "c@encrypt.test", "d@secure.test", "e@wrongmx.test", "f@strict.test"}
	got := run.deliver(t, rcpts...)
	want := []struct {
		code     int
		enhanced string
		verified string
	}{{250, "2.0.0", "dane"}, {250, "2.0.0", "none"}, {250, "2.0.0", "none"}, {250, "2.0.0", "secure"},
		{451, "4.7.5", ""}, {451, "4.7.5", ""}}
	for i, w := range want {
		o := got[i]
		if o.Code != w.code || o.Enhanced != w.enhanced || o.Verified != w.verified {
			t.Errorf("%s: %d %s verified=%q (%s), want %d %s verified=%q", rcpts[i], o.Code, o.Enhanced, o.Verified, o.Text, w.code, w.enhanced, w.verified)
		}
		if o.Code == 250 && !strings.HasPrefix(o.TLS, "TLSv1.3/") {
			t.Errorf("%s: tls=%q, want TLSv1.3", rcpts[i], o.TLS)
		}
	}
	if !strings.Contains(got[4].Text, "matches none of the policy's names") || !strings.Contains(got[5].Text, "TLSA") {
		t.Errorf("deferral texts %q / %q should say why", got[4].Text, got[5].Text)
	}
	msgs := run.be.received()
	if len(msgs) != 1 {
		t.Fatalf("%d messages received, want one transaction", len(msgs))
	}
	slices.Sort(msgs[0].rcpts)
	if w := []string{"a@dane.test", "b@may.test", "c@encrypt.test", "d@secure.test"}; !slices.Equal(msgs[0].rcpts, w) || msgs[0].tls != "TLS 1.3" {
		t.Errorf("received %v over %q, want %v over TLS 1.3", msgs[0].rcpts, msgs[0].tls, w)
	}
	if st := run.e.Stats(); st.Connections != 1 || st.TLS != 1 {
		t.Errorf("stats %+v: want one TLS connection", st)
	}
}

// TestEngineTLSRequiredWithoutTLS: a server without STARTTLS gets the
// opportunistic domain in plaintext; the encrypt, dane-only and secure
// domains are deferred 4.7.5, and a DANE domain whose TLSA lookup fails
// is too, never sent in plaintext.
func TestEngineTLSRequiredWithoutTLS(t *testing.T) {
	records := []string{
		"may.test. 300 IN MX 10 mx.shared.test.",
		"encrypt.test. 300 IN MX 10 mx.shared.test.",
		"daneonly.test. 300 IN MX 10 mx.shared.test.",
		"danefail.test. 300 IN MX 10 mx.broken.test.",
		"mx.shared.test. 300 IN A 127.0.0.1",
		"mx.broken.test. 300 IN A 127.0.0.1",
	}
	policies := "encrypt.test encrypt\ndaneonly.test dane-only\ndanefail.test dane\n"
	run := newPolicyRun(t, records, []string{"_25._tcp.mx.broken.test."}, nil, policies, nil)
	rcpts := []string{"a@may.test", "b@encrypt.test", "c@daneonly.test", "d@danefail.test"}
	got := run.deliver(t, rcpts...)
	if got[0].Code != 250 || got[0].Verified != "plaintext" {
		t.Errorf("%s: %v verified=%q, want delivered in plaintext", rcpts[0], got[0], got[0].Verified)
	}
	for i, why := range []string{"does not offer STARTTLS", "no DNSSEC-signed TLSA", "TLSA lookup for mx.broken.test failed"} {
		o := got[i+1]
		if o.Code != 451 || o.Enhanced != "4.7.5" || !strings.Contains(o.Text, why) {
			t.Errorf("%s: %v, want 451 4.7.5 saying %q", rcpts[i+1], o, why)
		}
	}
	if msgs := run.be.received(); len(msgs) != 1 || len(msgs[0].rcpts) != 1 || msgs[0].tls != "" {
		t.Errorf("received %+v, want only may.test's recipient, in plaintext", msgs)
	}
}

// TestEngineTLSFallbackKeepsPolicy: a DANE domain whose first MX name
// has TLSA records the certificate does not match falls back to its
// second MX, which is the same address under a name whose records do
// match: it goes on the same connection in a later transaction,
// verified by the second name's records.
func TestEngineTLSFallbackKeepsPolicy(t *testing.T) {
	cert := serverCert(t, "mx.shared.test")
	records := append(twoNames(&cert),
		"fallback.test. 300 IN MX 10 mx.other.test.",
		"fallback.test. 300 IN MX 20 mx.shared.test.",
	)
	run := newPolicyRun(t, records, nil, &tls.Config{Certificates: []tls.Certificate{cert}}, "fallback.test dane\n", nil)
	got := run.deliver(t, "a@fallback.test", "b@fallback.test")
	for _, o := range got {
		if o.Code != 250 || o.Verified != "dane" {
			t.Errorf("%v verified=%q, want delivered verified by DANE (mx.shared.test's records)", o, o.Verified)
		}
	}
	if st := run.e.Stats(); st.Connections != 1 {
		t.Errorf("%d connections, want the one", st.Connections)
	}
}

// TestEngineDANESimWorld: in a signed simnet world at level dane, hosts
// whose TLSA record names their key get the message verified; hosts
// whose record matches nothing get none of it (451 4.7.5 unless another
// MX of the domain passes); hosts without TLSA get it opportunistically.
// An implicit-MX domain's records are under its own name.
func TestEngineDANESimWorld(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Domains, cfg.Hosts = 200, 30
	cfg.StartTLS, cfg.DNSSEC, cfg.DANEMatch, cfg.DANEMismatch = 30, true, 0.3, 0.3
	s := startWorld(t, cfg)
	run := newEngineRun(t, s, func(c *Config) {
		c.TLS.Level = tlspolicy.DANE
		c.Resolver.TrustAD = true
	})
	rcpts := s.World.Addresses()
	run.deliver(rcpts, 60*time.Second)
	seen := map[string]int{}
	for i, a := range rcpts {
		o := run.answers[i][0]
		if o.Relay == "" {
			continue
		}
		h := s.World.HostByName(strings.SplitN(o.Relay, "[", 2)[0])
		if h == nil {
			continue
		}
		seen[h.TLSA]++
		switch {
		case h.TLSA == "mismatch":
			t.Errorf("%s: %v at %s, whose TLSA record matches nothing", a, o, h.Name)
		case h.TLSA == "match" && o.Code/100 == 2 && o.Verified != "dane":
			t.Errorf("%s: delivered at %s verified=%q, want dane", a, h.Name, o.Verified)
		case h.TLSA == "" && o.Code/100 == 2 && o.Verified != "none" && !h.TLSBroken && h.StartTLS:
			t.Errorf("%s: delivered at %s verified=%q, want none (no TLSA: opportunistic)", a, h.Name, o.Verified)
		}
	}
	refused := 0
	for i := range rcpts {
		if o := run.answers[i][0]; o.Enhanced == "4.7.5" {
			refused++
		}
	}
	if seen["match"] == 0 || seen[""] == 0 || refused == 0 {
		t.Errorf("decided at hosts by TLSA %v, %d deferred 4.7.5: want every kind", seen, refused)
	}
	for _, d := range s.Report().Deliveries {
		if h := s.World.HostByName(d.Host); h.TLSA == "mismatch" {
			t.Errorf("%s reached %s, whose TLSA record matches nothing", d.Rcpt, h.Name)
		}
	}
}
