package smtpfeed

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"runtime"
	"time"

	"smtpfeed/cache"
	"smtpfeed/proto/tlspolicy"
	"smtpfeed/reactor"
)

// TLSConfig is the engine's TLS policy.
type TLSConfig struct {
	// Level is every domain's level unless Policies names it (-T);
	// the zero value is tlspolicy.None, so callers set May for the
	// default.
	Level    tlspolicy.Level
	Policies *tlspolicy.Table // per-domain levels (-tls-policy); nil: none
	// Roots verify the Secure level's certificates; nil: the system's.
	Roots *x509.CertPool
	// Workers bounds the handshakes computing at once; 0: GOMAXPROCS.
	Workers int
	// BrokenTime is how long a host whose handshake failed gets
	// plaintext without trying STARTTLS; 0: the engine's DownTime.
	BrokenTime time.Duration
}

// WantsDANE reports a level or a policy that asks for DANE.
func (c TLSConfig) WantsDANE() bool {
	dane := func(p *tlspolicy.Policy) bool { return p.Level == tlspolicy.DANE || p.Level == tlspolicy.DANEOnly }
	return dane(&tlspolicy.Policy{Level: c.Level}) || c.Policies.Any(dane)
}

// tlsState is the engine's TLS machinery, made on the first connection
// that wants it.
type tlsState struct {
	base    *tls.Config // session tickets shared by every connection
	workers *reactor.TLSWorkers
	inbox   *reactor.Inbox
	broken  *cache.Hosts // hosts whose handshake failed: plaintext for a while
	sealBuf []byte
	plain   []byte
	deflt   tlspolicy.Policy
	// mayNeed: some policy may want TLS, so connections offer it even
	// at level none. strict: some policy is above may, so recipients
	// are checked as their transactions begin (admit); at the default
	// level nothing is, and no recipient pays for the check.
	mayNeed, strict bool
}

func newTLSState(cfg TLSConfig, downTime time.Duration) *tlsState {
	if cfg.BrokenTime <= 0 {
		cfg.BrokenTime = downTime
	}
	return &tlsState{
		broken: cache.NewHosts(cfg.BrokenTime),
		deflt:  tlspolicy.Policy{Level: cfg.Level},
		mayNeed: cfg.Level != tlspolicy.None ||
			cfg.Policies.Any(func(p *tlspolicy.Policy) bool { return p.Level != tlspolicy.None }),
		strict: cfg.Level > tlspolicy.May ||
			cfg.Policies.Any(func(p *tlspolicy.Policy) bool { return p.Level > tlspolicy.May }),
	}
}

// policyFor is a recipient domain's TLS policy.
func (e *Engine) policyFor(domain string) *tlspolicy.Policy {
	if p, ok := e.cfg.TLS.Policies.Lookup(domain); ok {
		return p
	}
	return &e.tls.deflt
}

// connTLS fills in the TLS half of a connection's configuration: none
// when nothing could want TLS, or while the host is remembered as
// failing its handshakes.
func (e *Engine) connTLS(cfg *ConnConfig, d *dest) error {
	t := e.tls
	if !t.mayNeed {
		return nil
	}
	if _, broken := t.broken.IsDown(d.addr, e.loop.Now()); broken {
		return nil
	}
	if t.base == nil {
		inbox, err := e.loop.Inbox()
		if err != nil {
			return err
		}
		workers := e.cfg.TLS.Workers
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		t.inbox, t.workers = inbox, reactor.NewTLSWorkers(workers)
		t.base = &tls.Config{
			// Opportunistic and encrypt levels check nothing; DANE and
			// secure check the chain after the handshake, per domain
			// (admit), since domains sharing a connection differ.
			InsecureSkipVerify: true,
			MinVersion:         tls.VersionTLS12,
			ClientSessionCache: tls.NewLRUClientSessionCache(4096),
		}
		t.sealBuf, t.plain = make([]byte, 16<<10), make([]byte, readBufferSize)
	}
	cfg.TLS, cfg.TLSWorkers, cfg.Inbox, cfg.SealBuf, cfg.PlainBuf = t.base, t.workers, t.inbox, t.sealBuf, t.plain
	return nil
}

// markTLSBroken remembers a host whose handshake failed.
func (e *Engine) markTLSBroken(d *dest, why string) {
	e.stats.TLSBroken++
	e.tls.broken.MarkDown(d.addr, why, e.loop.Now())
}

// TLSPolicyError is why a recipient did not go on a connection: the
// session does not meet its domain's TLS policy at this host. It is
// deferred 4.7.5 if no other host does.
type TLSPolicyError struct {
	Domain string
	Level  tlspolicy.Level
	Why    string
}

func (e *TLSPolicyError) Error() string {
	return fmt.Sprintf("TLS policy %s of %s not met: %s", e.Level, e.Domain, e.Why)
}

// admit is the connection's check of each recipient as its SMTP
// transaction begins: the session must meet the recipient's TLS policy
// at the MX host it reached this address by. Domains with different
// policies share a connection only so far as it satisfies each.
func (e *Engine) admit(c *Conn, r *rcpt) error {
	p := r.dom.tls
	if p.Level <= tlspolicy.May {
		return nil
	}
	host := &r.dom.mx[r.pos]
	fail := func(why string, args ...any) error {
		return &TLSPolicyError{Domain: r.dom.name, Level: p.Level, Why: fmt.Sprintf(why, args...)}
	}
	state := c.TLS()
	switch p.Level {
	case tlspolicy.Encrypt:
		if state == nil {
			return fail("%s", plaintextWhy(c))
		}
	case tlspolicy.Secure:
		if !p.MatchesMX(host.Name) {
			return fail("MX host %s matches none of the policy's names", host.Name)
		}
		if state == nil {
			return fail("%s", plaintextWhy(c))
		}
		if err := c.verified(certCheck{checkPKIX, host.Name}, func() error {
			return tlspolicy.VerifyPKIX(state.PeerCertificates, host.Name, e.cfg.TLS.Roots, e.loop.Now())
		}); err != nil {
			return fail("certificate of %s: %v", host.Name, err)
		}
	case tlspolicy.DANE, tlspolicy.DANEOnly:
		switch host.DANE {
		case daneNone:
			if p.Level == tlspolicy.DANEOnly {
				return fail("MX host %s has no DNSSEC-signed TLSA records", host.Name)
			}
			return nil // no DANE here: opportunistic
		case daneFailed:
			return fail("TLSA lookup for %s failed: %s", host.Name, host.TLSA.Err)
		}
		if state == nil {
			return fail("%s", plaintextWhy(c))
		}
		if !host.TLSA.Usable {
			return nil // unusable records only: TLS, unauthenticated
		}
		if err := c.verified(certCheck{checkDANE, host.Name}, func() error {
			return tlspolicy.VerifyDANE(state.PeerCertificates, host.TLSA.Records, []string{host.Name}, e.loop.Now())
		}); err != nil {
			return fail("%s: %v", host.Name, err)
		}
	}
	return nil
}

// plaintextWhy says why a session runs without TLS.
func plaintextWhy(c *Conn) string {
	if rep := c.TLSRefused(); rep != nil {
		return "server refused STARTTLS: " + rep.String()
	}
	if c.m.Extensions().StartTLS {
		return "STARTTLS not used with this host (its TLS failed recently)"
	}
	return "server does not offer STARTTLS"
}

// travel says how a recipient's message went, for its log line:
// "TLSv1.3/TLS_AES_128_GCM_SHA256" and dane, secure or none; or
// plaintext.
func travel(c *Conn, r *rcpt) (tlsText, verified string) {
	if !c.secure {
		return "none", "plaintext"
	}
	p, host := r.dom.tls, &r.dom.mx[r.pos]
	switch {
	case p.Level == tlspolicy.Secure:
		return c.tlsText, "secure"
	case (p.Level == tlspolicy.DANE || p.Level == tlspolicy.DANEOnly) && host.DANE == daneRecords && host.TLSA.Usable:
		return c.tlsText, "dane"
	}
	return c.tlsText, "none"
}

// sessionText names a session's TLS as the log says it:
// "TLSv1.3/TLS_AES_128_GCM_SHA256". Made once per session, not per
// recipient.
func sessionText(st *tls.ConnectionState) string {
	return versionName(st.Version) + "/" + tls.CipherSuiteName(st.CipherSuite)
}

// versionName names a TLS version as Postfix and OpenSSL log it.
func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	}
	return fmt.Sprintf("TLS-0x%04x", v)
}
