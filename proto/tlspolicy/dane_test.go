package tlspolicy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// issue makes a certificate for names signed by parent (self-signed when
// parent is nil), valid around now.
func issue(t *testing.T, cn string, names []string, ca bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, DNSNames: names,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: ca,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func digest(mt uint8, b []byte) []byte {
	switch mt {
	case MatchSHA256:
		s := sha256.Sum256(b)
		return s[:]
	case MatchSHA512:
		s := sha512.Sum512(b)
		return s[:]
	}
	return b
}

func TestVerifyDANE(t *testing.T) {
	ca, caKey := issue(t, "Example CA", nil, true, nil, nil)
	leaf, _ := issue(t, "mx.example.com", []string{"mx.example.com"}, false, ca, caKey)
	other, _ := issue(t, "other", []string{"other"}, true, nil, nil)
	chain := []*x509.Certificate{leaf, ca}
	ee := func(sel, mt uint8, c *x509.Certificate) TLSA {
		data := c.Raw
		if sel == SelectorSPKI {
			data = c.RawSubjectPublicKeyInfo
		}
		return TLSA{Usage: UsageDANEEE, Selector: sel, MatchingType: mt, Data: digest(mt, data)}
	}
	ta := func(sel, mt uint8, c *x509.Certificate) TLSA {
		r := ee(sel, mt, c)
		r.Usage = UsageDANETA
		return r
	}
	names := []string{"mx.example.com"}
	for _, tc := range []struct {
		name    string
		chain   []*x509.Certificate
		records []TLSA
		names   []string
		want    string // "" for a pass, else a part of the error
	}{
		{"EE SPKI SHA-256", chain, []TLSA{ee(1, 1, leaf)}, names, ""},
		{"EE cert SHA-512", chain, []TLSA{ee(0, 2, leaf)}, names, ""},
		{"EE cert full", chain, []TLSA{ee(0, 0, leaf)}, names, ""},
		{"EE ignores names", chain, []TLSA{ee(1, 1, leaf)}, []string{"elsewhere.example"}, ""},
		{"EE of another key", chain, []TLSA{ee(1, 1, other)}, names, "matches none of 1"},
		{"TA SPKI SHA-256", chain, []TLSA{ta(1, 1, ca)}, names, ""},
		{"TA cert full", chain, []TLSA{ta(0, 0, ca)}, names, ""},
		{"TA wrong name", chain, []TLSA{ta(1, 1, ca)}, []string{"mx.other.example"}, "does not match the TLSA"},
		{"TA not in chain", []*x509.Certificate{leaf}, []TLSA{ta(1, 1, ca)}, names, "matches none"},
		{"one good among bad", chain, []TLSA{ee(1, 1, other), {Usage: 1, Selector: 1, MatchingType: 1, Data: digest(1, leaf.Raw)}, ta(1, 1, ca)}, names, ""},
		{"PKIX-EE is unusable", chain, []TLSA{{Usage: 1, Selector: 1, MatchingType: 1, Data: digest(1, leaf.RawSubjectPublicKeyInfo)}}, names, "no usable TLSA"},
		{"bad digest length", chain, []TLSA{{Usage: 3, Selector: 1, MatchingType: 1, Data: []byte{1, 2, 3}}}, names, "no usable TLSA"},
		{"unknown matching type", chain, []TLSA{{Usage: 3, Selector: 1, MatchingType: 9, Data: []byte{1}}}, names, "no usable TLSA"},
		{"no certificate", nil, []TLSA{ee(1, 1, leaf)}, names, "no certificate"},
	} {
		err := VerifyDANE(tc.chain, tc.records, tc.names, now)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want a pass", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if got := Usable([]TLSA{ee(1, 1, leaf), {Usage: 0}, ta(0, 2, ca)}); len(got) != 2 {
		t.Errorf("Usable kept %d of 3, want 2", len(got))
	}
}

func TestVerifyPKIX(t *testing.T) {
	ca, caKey := issue(t, "Example CA", nil, true, nil, nil)
	leaf, _ := issue(t, "mx.example.com", []string{"mx.example.com"}, false, ca, caKey)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	chain := []*x509.Certificate{leaf, ca}
	if err := VerifyPKIX(chain, "mx.example.com", roots, now); err != nil {
		t.Errorf("valid chain: %v", err)
	}
	if err := VerifyPKIX(chain, "mx2.example.com", roots, now); err == nil {
		t.Error("wrong name passed")
	}
	if err := VerifyPKIX(chain, "mx.example.com", roots, now.Add(2*time.Hour)); err == nil {
		t.Error("expired certificate passed")
	}
	if err := VerifyPKIX(chain, "mx.example.com", x509.NewCertPool(), now); err == nil {
		t.Error("unknown root passed")
	}
}
