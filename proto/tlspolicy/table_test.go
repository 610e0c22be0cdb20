package tlspolicy

import (
	"strings"
	"testing"
)

func TestParseAndLookup(t *testing.T) {
	file := `# a policy file
example.com        dane
.example.com       encrypt          # every name below
sub.example.com    may
Example.NET.       secure match=MX1.example.net:*.mail.example.net:.relay.example.net servername=hostname
bücher.example     dane-only

`
	tab, err := Parse("policy", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		domain string
		level  Level
		ok     bool
	}{
		{"example.com", DANE, true},
		{"EXAMPLE.com.", DANE, true},
		{"a.example.com", Encrypt, true},
		{"a.b.example.com", Encrypt, true},
		{"sub.example.com", May, true},
		{"x.sub.example.com", Encrypt, true}, // no ".sub.example.com" line: the nearest parent line
		{"example.net", Secure, true},
		{"xn--bcher-kva.example", DANEOnly, true},
		{"bücher.example", DANEOnly, true},
		{"other.org", 0, false},
		{"com", 0, false},
	} {
		p, ok := tab.Lookup(tc.domain)
		if ok != tc.ok || ok && p.Level != tc.level {
			t.Errorf("Lookup(%q) = %v %v, want %v %v", tc.domain, p, ok, tc.level, tc.ok)
		}
	}
	p, _ := tab.Lookup("example.net")
	for host, want := range map[string]bool{
		"mx1.example.net": true, "MX1.example.net.": true, "a.mail.example.net": true,
		"a.b.mail.example.net": false, "mail.example.net": false, "x.relay.example.net": true,
		"a.b.relay.example.net": true, "relay.example.net": false, "mx2.example.net": false,
	} {
		if got := p.MatchesMX(host); got != want {
			t.Errorf("MatchesMX(%q) = %v, want %v", host, got, want)
		}
	}
	if tab.Len() != 5 {
		t.Errorf("Len %d, want 5", tab.Len())
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"example.com\n", "policy:1: \"example.com\" has no security level"},
		{"\n\nexample.com verify\n", "policy:3: unknown TLS security level \"verify\""},
		{"example.com dane match=a.example\n", "match= is for the secure level"},
		{"example.com secure tafile=/x\n", "unknown attribute \"tafile=/x\""},
		{"example.com secure servername=other\n", "only servername=hostname"},
		{"exa..mple.com may\n", "domain \"exa..mple.com\""},
		{". may\n", "empty name"},
		{"example.com secure match=a..b\n", "match pattern \"a..b\""},
		{"example.com may\n" + strings.Repeat("x", MaxLine+1) + "\n", "token too long"},
	} {
		_, err := Parse("policy", strings.NewReader(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.40q): %v, want an error with %q", tc.file, err, tc.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for l := None; l < numLevels; l++ {
		got, err := ParseLevel(strings.ToUpper(l.String()))
		if err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %v, %v", l, got, err)
		}
	}
	if _, err := ParseLevel("fingerprint"); err == nil {
		t.Error("ParseLevel(fingerprint) took it")
	}
}
