package lmtp

import (
	"strings"
	"testing"
)

// PathTests is shared with the fuzz targets' seeds.
var PathTests = []struct {
	in        string
	allowNull bool
	want      Path
	err       string // substring of the error; "" for none
}{
	{"<a@b.test>", false, Path{"a@b.test", "a", "b.test"}, ""},
	{"<>", true, Path{}, ""},
	{"<>", false, Path{}, "null address not allowed"},
	{"<Mixed.Case@Example.ORG>", false, Path{"Mixed.Case@Example.ORG", "Mixed.Case", "Example.ORG"}, ""},
	{"<@a.test,@b.test:u@d.test>", false, Path{"u@d.test", "u", "d.test"}, ""},
	{"<@a.test:u@d.test>", false, Path{"u@d.test", "u", "d.test"}, ""},
	{"<@a.test,b.test:u@d.test>", false, Path{}, "bad source route"},
	{"<@a.test u@d.test>", false, Path{}, "source route without"},
	{`<"john doe"@a.test>`, false, Path{`"john doe"@a.test`, `"john doe"`, "a.test"}, ""},
	{`<"a\"b@c"@a.test>`, false, Path{`"a\"b@c"@a.test`, `"a\"b@c"`, "a.test"}, ""},
	{`<"unterminated@a.test>`, false, Path{}, "bad local part"},
	{`<""@a.test>`, false, Path{}, "bad local part"},
	{"<u@[192.0.2.1]>", false, Path{"u@[192.0.2.1]", "u", "[192.0.2.1]"}, ""},
	{"<u@[IPv6:2001:db8::1]>", false, Path{"u@[IPv6:2001:db8::1]", "u", "[IPv6:2001:db8::1]"}, ""},
	// One literal parser with the resolver's: an IPv4-mapped IPv6
	// literal is refused here, not accepted and then bounced.
	{"<u@[ipv6:::ffff:192.0.2.1]>", false, Path{}, "bad IPv6 address literal"},
	{"<u@[x-tag:stuff]>", false, Path{}, "unsupported address literal"},
	{"<u@[192.0.2.256]>", false, Path{}, "bad IPv4"},
	{"<u@[IPv6:192.0.2.1]>", false, Path{}, "bad IPv6"},
	{"<u@[2001:db8::1]>", false, Path{}, "unsupported address literal"},
	{"<u@[192.0.2.1>", false, Path{}, "bad address literal"},
	{"<jörg@bücher.test>", false, Path{"jörg@bücher.test", "jörg", "bücher.test"}, ""},
	{"<a@b\xff>", false, Path{}, "not valid UTF-8"},
	{"a@b.test", false, Path{}, "angle brackets"},
	{"<a@b.test", false, Path{}, "angle brackets"},
	{"<a@>", false, Path{}, "empty domain"},
	{"<@b.test>", false, Path{}, "source route without"},
	{"<a>", false, Path{}, "without @domain"},
	{"<.a@b.test>", false, Path{}, "bad local part"},
	{"<a.@b.test>", false, Path{}, "bad local part"},
	{"<a..b@b.test>", false, Path{}, "bad local part"},
	{"<a b@b.test>", false, Path{}, "bad local part"},
	{"<a@b.test.>", false, Path{}, "empty label"},
	{"<a@-b.test>", false, Path{}, "begins or ends with '-'"},
	{"<a@b_c.test>", false, Path{}, "bad character"},
	{"<a@b@c.test>", false, Path{}, "bad character"},
	{"<" + strings.Repeat("l", 64) + "@b.test>", false, Path{strings.Repeat("l", 64) + "@b.test", strings.Repeat("l", 64), "b.test"}, ""},
	{"<" + strings.Repeat("l", 65) + "@b.test>", false, Path{}, "local part longer than 64"},
	{"<a@" + strings.Repeat("d.", 126) + "test>", false, Path{}, "domain longer than 255"},
	{"<a@" + strings.Repeat("d", 300) + ">", false, Path{}, "domain longer than 255"},
	{"<" + strings.Repeat("l", 64) + "@" + strings.Repeat("d.", 94) + "test>", false, Path{}, "path longer than 256"},
	{"<@" + strings.Repeat("r", 250) + ".test:a@b.test>", false, Path{}, "path longer than 256"},
}

func TestParsePath(t *testing.T) {
	for _, tt := range PathTests {
		t.Run(tt.in[:min(len(tt.in), 40)], func(t *testing.T) {
			got, err := ParsePath(tt.in, tt.allowNull)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParsePath(%q) = %v, %v, want error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePath(%q) = %#v, %v, want %#v", tt.in, got, err, tt.want)
			}
			// The address is fit to send on: it parses again to itself.
			again, err := ParsePath("<"+got.Addr+">", tt.allowNull)
			if err != nil || again != got {
				t.Fatalf("ParsePath(<%s>) = %#v, %v, want %#v", got.Addr, again, err, got)
			}
		})
	}
}

func TestSplitAddress(t *testing.T) {
	for _, tc := range []struct{ addr, local, domain string }{
		{"u@Example.ORG", "u", "example.org"},
		{`"a@b"@c.test`, `"a@b"`, "c.test"},
		{"u@[192.0.2.1]", "u", "[192.0.2.1]"},
		{"nobody", "", ""},
		{"@d.test", "", ""},
		{"u@", "", ""},
	} {
		local, domain, err := SplitAddress(tc.addr)
		if (err != nil) != (tc.local == "") || local != tc.local || domain != tc.domain {
			t.Errorf("SplitAddress(%q) = %q, %q, %v; want %q, %q", tc.addr, local, domain, err, tc.local, tc.domain)
		}
	}
}
