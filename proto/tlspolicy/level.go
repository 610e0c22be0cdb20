package tlspolicy

import (
	"fmt"
	"strings"
)

// Level is how much TLS a destination requires, in Postfix's terms
// (smtp_tls_security_level).
type Level uint8

const (
	// None: never STARTTLS; mail rides a TLS connection another domain
	// opened, but does not need it.
	None Level = iota
	// May: opportunistic. STARTTLS where offered, no certificate check;
	// plaintext where not offered, or after a failed handshake.
	May
	// Encrypt: TLS is mandatory, the certificate is not checked.
	Encrypt
	// DANE: where the MX host has DNSSEC-signed TLSA records the
	// certificate must match them (RFC 7672); where its records are all
	// unusable, TLS is still mandatory; without secure TLSA records, May.
	DANE
	// DANEOnly: as DANE, but a host without usable TLSA records is not
	// used.
	DANEOnly
	// Secure: TLS with a certificate that verifies against the system's
	// roots for the MX host's name, and an MX host name among the
	// policy's patterns (what an MTA-STS policy in mode enforce asks,
	// RFC 8461 §4.1, §4.2).
	Secure
	numLevels
)

var levelNames = [numLevels]string{None: "none", May: "may", Encrypt: "encrypt", DANE: "dane", DANEOnly: "dane-only", Secure: "secure"}

func (l Level) String() string {
	if l < numLevels {
		return levelNames[l]
	}
	return "invalid"
}

// ParseLevel reads a level's name, case-insensitively.
func ParseLevel(s string) (Level, error) {
	for l, name := range levelNames {
		if strings.EqualFold(s, name) {
			return Level(l), nil
		}
	}
	return 0, fmt.Errorf("unknown TLS security level %q (known: %s)", s, strings.Join(levelNames[:], ", "))
}
