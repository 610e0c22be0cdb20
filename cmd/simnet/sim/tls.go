package sim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sync/atomic"
	"time"
)

// STARTTLS in the world.
//
// A host that offers STARTTLS has a self-signed certificate for its name,
// made when the world starts (no files). After the 220 the session's raw
// reads feed a tls.Server through chunkConn, whose writes wait for the
// host's RTT after the client's last bytes arrived: each handshake
// flight costs a round trip, as on a network. A host with TLSBroken
// offers STARTTLS and then speaks only TLS 1.0 and 1.1, which every
// modern client refuses: the handshake fails. TLS12Only hosts cap at
// TLS 1.2 (a full handshake of two round trips).

// SelfSigned makes a self-signed ECDSA P-256 certificate for names,
// valid from an hour ago for a year.
func SelfSigned(names ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	cn := "simnet"
	if len(names) > 0 {
		cn = names[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// makeCerts gives every host that offers STARTTLS its certificate.
func makeCerts(w *World) error {
	for _, h := range w.Hosts {
		if !h.StartTLS {
			continue
		}
		c, err := SelfSigned(h.Name)
		if err != nil {
			return fmt.Errorf("sim: certificate for %s: %w", h.Name, err)
		}
		h.cert = &c
	}
	return nil
}

// Cert is the host's certificate; nil when it does not offer STARTTLS.
func (h *Host) Cert() *tls.Certificate { return h.cert }

// serverTLS is the host's TLS configuration.
func (h *Host) serverTLS() *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{*h.cert}}
	switch {
	case h.TLSBroken:
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	case h.TLS12Only:
		cfg.MaxVersion = tls.VersionTLS12
	}
	return cfg
}

// chunkConn is the raw side of a session after STARTTLS: reads come
// from the session's stamped chunks, writes wait out the RTT.
type chunkConn struct {
	net.Conn
	raw  <-chan chunk
	done <-chan struct{}
	rest []byte
	rtt  time.Duration
	// last is when the last bytes read arrived, in Unix nanoseconds;
	// inHandshake is true until the handshake ends. After it the session
	// times its replies itself (flush).
	last        atomic.Int64
	inHandshake atomic.Bool
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.rest) == 0 {
		select {
		case ch, ok := <-c.raw:
			if !ok {
				return 0, net.ErrClosed
			}
			c.rest = ch.b
			c.last.Store(ch.at.UnixNano())
		case <-c.done:
			return 0, net.ErrClosed
		}
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

func (c *chunkConn) Write(p []byte) (int, error) {
	if d := time.Until(time.Unix(0, c.last.Load()).Add(c.rtt)); c.inHandshake.Load() && d > 0 {
		select {
		case <-time.After(d):
		case <-c.done:
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(p)
}

// startTLS switches the session into TLS: it returns the channel of
// plaintext chunks that replaces the raw one. The handshake runs on the
// goroutine that reads the plaintext.
func (ss *session) startTLS(raw <-chan chunk) <-chan chunk {
	cc := &chunkConn{Conn: ss.c, raw: raw, done: ss.done, rtt: ss.rtt}
	cc.last.Store(time.Now().UnixNano())
	cc.inHandshake.Store(true)
	tc := tls.Server(cc, ss.h.serverTLS())
	ss.w = tc
	out := make(chan chunk, 16)
	go func() {
		defer close(out)
		err := tc.Handshake()
		cc.inHandshake.Store(false)
		if err != nil {
			return
		}
		ss.tlsVersion = tls.VersionName(tc.ConnectionState().Version)
		buf := make([]byte, readBuffer)
		for {
			n, err := tc.Read(buf)
			if n > 0 {
				select {
				case out <- chunk{bytes.Clone(buf[:n]), time.Now()}:
				case <-ss.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}
