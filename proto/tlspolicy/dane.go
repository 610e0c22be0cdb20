package tlspolicy

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// TLSA is one TLSA record's data (RFC 6698 §2.1).
type TLSA struct {
	Usage, Selector, MatchingType uint8
	Data                          []byte
}

// The fields' values RFC 7672 §3.1 lets SMTP use.
const (
	UsageDANETA = 2 // the record names a trust anchor of the chain
	UsageDANEEE = 3 // the record names the server's own key or certificate

	SelectorCert = 0 // the whole certificate, DER
	SelectorSPKI = 1 // its SubjectPublicKeyInfo, DER

	MatchFull   = 0
	MatchSHA256 = 1
	MatchSHA512 = 2
)

func (r TLSA) String() string {
	return fmt.Sprintf("%d %d %d %x", r.Usage, r.Selector, r.MatchingType, r.Data)
}

// Usable reports a record SMTP may use: DANE-TA(2) or DANE-EE(3),
// selector Cert(0) or SPKI(1), matching Full(0), SHA2-256(1) or
// SHA2-512(2) with a digest of the right length. PKIX-TA(0) and
// PKIX-EE(1) are not for SMTP (RFC 7672 §3.1.3); others are unknown.
// Unusable records are ignored, as if absent.
func (r TLSA) Usable() bool {
	if r.Usage != UsageDANETA && r.Usage != UsageDANEEE {
		return false
	}
	if r.Selector != SelectorCert && r.Selector != SelectorSPKI {
		return false
	}
	switch r.MatchingType {
	case MatchFull:
		return len(r.Data) > 0
	case MatchSHA256:
		return len(r.Data) == sha256.Size
	case MatchSHA512:
		return len(r.Data) == sha512.Size
	}
	return false
}

// Usable keeps the usable records.
func Usable(rs []TLSA) []TLSA {
	var out []TLSA
	for _, r := range rs {
		if r.Usable() {
			out = append(out, r)
		}
	}
	return out
}

// matches reports whether the record names cert.
func (r TLSA) matches(cert *x509.Certificate) bool {
	var data []byte
	switch r.Selector {
	case SelectorCert:
		data = cert.Raw
	case SelectorSPKI:
		data = cert.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch r.MatchingType {
	case MatchFull:
		return bytes.Equal(data, r.Data)
	case MatchSHA256:
		sum := sha256.Sum256(data)
		return bytes.Equal(sum[:], r.Data)
	case MatchSHA512:
		sum := sha512.Sum512(data)
		return bytes.Equal(sum[:], r.Data)
	}
	return false
}

// ErrNoUsableTLSA: the host's TLSA records are all unusable, so DANE
// asks for TLS but cannot check the certificate.
var ErrNoUsableTLSA = errors.New("no usable TLSA record")

// VerifyDANE checks the chain a server sent against a host's TLSA
// records. A DANE-EE(3) record must name the server's own certificate
// or key, with no check of names or dates (RFC 7672 §3.1.1). A DANE-TA(2)
// record must name a certificate of the chain, to which the server's
// certificate must chain, valid now and issued for one of names: the
// MX host's name (RFC 7672 §3.1.2, §3.2.2).
func VerifyDANE(chain []*x509.Certificate, records []TLSA, names []string, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("server sent no certificate")
	}
	usable := 0
	var taErr error
	for _, r := range records {
		if !r.Usable() {
			continue
		}
		usable++
		switch r.Usage {
		case UsageDANEEE:
			if r.matches(chain[0]) {
				return nil
			}
		case UsageDANETA:
			for k, cert := range chain {
				if !r.matches(cert) {
					continue
				}
				err := chainsTo(chain, k, names, now)
				if err == nil {
					return nil
				}
				taErr = err
			}
		}
	}
	switch {
	case usable == 0:
		return ErrNoUsableTLSA
	case taErr != nil:
		return fmt.Errorf("certificate does not match the TLSA records: %w", taErr)
	}
	return fmt.Errorf("certificate matches none of %d TLSA records", usable)
}

// chainsTo checks that the leaf chains to chain[ta] and names one of
// names.
func chainsTo(chain []*x509.Certificate, ta int, names []string, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(chain[ta])
	inter := x509.NewCertPool()
	for k, c := range chain[1:] {
		if k+1 != ta {
			inter.AddCert(c)
		}
	}
	var err error
	for _, name := range names {
		_, err = chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name,
			CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err == nil {
			return nil
		}
	}
	return err
}

// VerifyPKIX checks the chain a server sent against roots (nil: the
// system's) for the MX host's name: the Secure level, and MTA-STS's
// certificate check (RFC 8461 §4.2).
func VerifyPKIX(chain []*x509.Certificate, host string, roots *x509.CertPool, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host, CurrentTime: now})
	return err
}
