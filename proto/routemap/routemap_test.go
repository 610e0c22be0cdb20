package routemap

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
)

const testMap = `# routes
example.com        relay.example.net    # a host
*.example.com      [192.0.2.25]
lists.example.com  MX                   # exempt from the line above
*.deep.example.com A
Example.ORG.       a
bücher.example     [IPv6:2001:db8::25]
xn--caf-dma.example [2001:DB8::26]
*.test             mx
relay2.example     Relay.Example.NET.

   	# indented comment
ipv4mapped.example [::ffff:192.0.2.9]
mx.example         mx.                  # the host "mx", not the keyword
`

func TestLookup(t *testing.T) {
	m, err := Parse("routes.map", strings.NewReader(testMap))
	if err != nil {
		t.Fatal(err)
	}
	host := func(h string, line int) Route { return Route{Kind: Host, Host: h, Line: line} }
	lit := func(a string, line int) Route { return Route{Kind: Literal, Addr: netip.MustParseAddr(a), Line: line} }
	tests := []struct {
		domain string
		want   Route
		ok     bool
	}{
		{"example.com", host("relay.example.net", 2), true},
		{"EXAMPLE.COM.", host("relay.example.net", 2), true},
		{"a.example.com", lit("192.0.2.25", 3), true},
		{"a.b.example.com", lit("192.0.2.25", 3), true},
		{"lists.example.com", Route{Kind: MX, Line: 4}, true},
		{"x.lists.example.com", lit("192.0.2.25", 3), true}, // an exact line covers no names below
		{"deep.example.com", lit("192.0.2.25", 3), true},    // *.deep is below deep, not deep itself
		{"x.deep.example.com", Route{Kind: A, Line: 5}, true},
		{"y.x.deep.example.com", Route{Kind: A, Line: 5}, true}, // the longest suffix wins
		{"example.org", Route{Kind: A, Line: 6}, true},
		{"www.example.org", Route{}, false},
		{"bücher.example", lit("2001:db8::25", 7), true},
		{"BÜCHER.example", lit("2001:db8::25", 7), true},
		{"xn--bcher-kva.example", lit("2001:db8::25", 7), true},
		{"café.example", lit("2001:db8::26", 8), true},
		{"x.test", Route{Kind: MX, Line: 9}, true},
		{"test", Route{}, false},
		{"relay2.example", host("relay.example.net", 10), true},
		{"ipv4mapped.example", lit("192.0.2.9", 13), true},
		{"mx.example", host("mx", 14), true},
		{"com", Route{}, false},
		{"example.net", Route{}, false},
		{"[192.0.2.1]", Route{}, false},
		{"", Route{}, false},
		{"a..example.com", Route{}, false},
	}
	for _, tc := range tests {
		got, ok := m.Lookup(tc.domain)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Lookup(%q) = %v (%+v), %v; want %v (%+v), %v", tc.domain, got, got, ok, tc.want, tc.want, tc.ok)
		}
	}
	if m.Len() != 11 {
		t.Errorf("Len() = %d, want 11", m.Len())
	}
	// Lines that name the same relay share its name.
	a, _ := m.Lookup("example.com")
	b, _ := m.Lookup("relay2.example")
	if a.Host != b.Host || a.Host != "relay.example.net" {
		t.Errorf("hosts %q and %q, want both relay.example.net", a.Host, b.Host)
	}
}

func TestRouteString(t *testing.T) {
	for _, tc := range []struct {
		r    Route
		want string
	}{
		{Route{Kind: MX}, "MX"},
		{Route{Kind: A}, "A"},
		{Route{Kind: Literal, Addr: netip.MustParseAddr("192.0.2.1")}, "[192.0.2.1]"},
		{Route{Kind: Literal, Addr: netip.MustParseAddr("2001:db8::1")}, "[2001:db8::1]"},
		{Route{Kind: Host, Host: "relay.example"}, "relay.example"},
		{Route{}, "kind?"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", 60) + "."
	tests := []struct {
		name, file, want string
	}{
		{"bad IPv4", "a.example MX\n\n\n\n\n\nexample.com [300.1.1.1]\n", `routes.map:7: "[300.1.1.1]": not an IP address`},
		{"no route", "example.com\n", `routes.map:1: "example.com" has no route`},
		{"no route after comment", "# x\nexample.com # MX\n", `routes.map:2: "example.com" has no route`},
		{"three fields", "example.com MX extra\n", `routes.map:1: "extra" after the route "MX"`},
		{"duplicate", "example.com MX\nother.example A\nEXAMPLE.com. [192.0.2.1]\n", `routes.map:3: "EXAMPLE.com." is routed on line 1 already`},
		{"duplicate wildcard", "*.example.com MX\n*.Example.com A\n", `routes.map:2: "*.Example.com" is routed on line 1 already`},
		{"duplicate U-label and A-label", "bücher.example MX\nxn--bcher-kva.example A\n", `routes.map:2: "xn--bcher-kva.example" is routed on line 1 already`},
		{"bare wildcard", "*. MX\n", `routes.map:1: "*.": want *.domain`},
		{"star alone", "* MX\n", `routes.map:1: domain "*": '*' is not a letter`},
		{"star inside", "a.*.example MX\n", `routes.map:1: domain "a.*.example": '*' is not a letter`},
		{"empty label", "a..example MX\n", `routes.map:1: domain "a..example": an empty label`},
		{"long label", strings.Repeat("a", 64) + ".example MX\n", `a label longer than 63 octets`},
		{"long name", strings.Repeat(long, 5) + "example MX\n", `longer than 253 octets`},
		{"bad U-label", "a\u200db.example MX\n", `not a valid internationalised domain name`},
		{"unclosed literal", "example.com [192.0.2.1\n", `routes.map:1: "[192.0.2.1": an address literal ends in "]"`},
		{"empty literal", "example.com []\n", `"[]": not an IP address`},
		{"zone", "example.com [fe80::1%eth0]\n", `"[fe80::1%eth0]": an address with a zone`},
		{"IPv6: prefix on IPv4", "example.com [IPv6:192.0.2.1]\n", `"[IPv6:192.0.2.1]": IPv6: before an IPv4 address`},
		{"unspecified", "example.com [0.0.0.0]\n", `"[0.0.0.0]": not an address a mail host can have`},
		{"unspecified6", "example.com [::]\n", `not an address a mail host can have`},
		{"multicast", "example.com [224.0.0.1]\n", `not an address a mail host can have`},
		{"broadcast", "example.com [255.255.255.255]\n", `not an address a mail host can have`},
		{"bare address", "example.com 192.0.2.1\n", `routes.map:1: "192.0.2.1": an address goes in brackets: [192.0.2.1]`},
		{"bare IPv6", "example.com 2001:db8::1\n", `"2001:db8::1": an address goes in brackets: [2001:db8::1]`},
		{"bad host", "example.com relay!.example\n", `routes.map:1: host "relay!.example": '!' is not a letter`},
		{"wildcard host", "example.com *.relay.example\n", `host "*.relay.example"`},
		{"dot host", "example.com .\n", `host ".": empty name`},
		{"long line", "a.example MX\n" + "example.com MX #" + strings.Repeat("x", MaxLine) + "\n", `routes.map:2: line longer than 1000 octets`},
		{"long last line", "a.example MX\n" + strings.Repeat("x", MaxLine+1), `routes.map:2: line longer than 1000 octets`},
		{"very long line", strings.Repeat("x", 3*MaxLine) + "\nexample.com MX\n", `routes.map:1: line longer than 1000 octets`},
		{"control byte", "exam\x00ple.com MX\n", `'\x00' is not a letter`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse("routes.map", strings.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%.60q) = %v, %v; want an error with %q", tc.file, m, err, tc.want)
			}
			if m != nil {
				t.Fatalf("Parse(%.60q) returned a map with its error", tc.file)
			}
		})
	}
}

// TestParseEdges: what is not an error.
func TestParseEdges(t *testing.T) {
	tests := []struct {
		name, file string
		n          int
	}{
		{"empty", "", 0},
		{"comments only", "# nothing\n\n   \n\t# more\n", 0},
		{"no final newline", "example.com MX", 1},
		{"CRLF", "example.com MX\r\nexample.org A\r\n", 2},
		{"tabs", "example.com\t\t[192.0.2.1]\t# x\n", 1},
		{"comment glued on", "example.com MX#comment\n", 1},
		{"longest line", "example.com MX #" + strings.Repeat("x", MaxLine-len("example.com MX #")) + "\n", 1},
		{"exact and wildcard of one name", "example.com MX\n*.example.com A\n", 2},
		{"single label", "localhost [127.0.0.1]\n*.test relay\n", 2},
		{"underscore", "_dmarc.example.com MX\n", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse("routes.map", strings.NewReader(tc.file))
			if err != nil {
				t.Fatalf("Parse(%.60q): %v", tc.file, err)
			}
			if m.Len() != tc.n {
				t.Fatalf("Parse(%.60q): %d routes, want %d", tc.file, m.Len(), tc.n)
			}
		})
	}
}

// TestParseSplitReads: a reader that hands the file one byte at a time
// gives the same map as one that hands it whole.
func TestParseSplitReads(t *testing.T) {
	whole, err := Parse("routes.map", strings.NewReader(testMap))
	if err != nil {
		t.Fatal(err)
	}
	bytewise, err := Parse("routes.map", iotest.OneByteReader(strings.NewReader(testMap)))
	if err != nil {
		t.Fatal(err)
	}
	if whole.Len() != bytewise.Len() {
		t.Fatalf("%d routes read whole, %d byte by byte", whole.Len(), bytewise.Len())
	}
	for d, r := range whole.All() {
		if got, ok := bytewise.Lookup(strings.TrimPrefix(d, "*.")); strings.HasPrefix(d, "*.") {
			continue
		} else if !ok || got != r {
			t.Errorf("%s: %v, %v byte by byte; want %v", d, got, ok, r)
		}
	}
}

// TestParseReadError: a reader that fails says so with the line.
func TestParseReadError(t *testing.T) {
	r := iotest.TimeoutReader(iotest.OneByteReader(strings.NewReader("example.com MX\n")))
	_, err := Parse("routes.map", r)
	if err == nil || !strings.HasPrefix(err.Error(), "routes.map:1: ") {
		t.Fatalf("Parse over a failing reader: %v, want an error at routes.map:1", err)
	}
}

// TestMaxRoutes: one route more than the limit is refused, naming its
// line; the limit itself is taken.
func TestMaxRoutes(t *testing.T) {
	const limit = 3
	file := "a.example MX\n\n# comment\n*.a.example A\nb.example relay.example\n"
	m, err := parse("routes.map", strings.NewReader(file), limit)
	if err != nil || m.Len() != limit {
		t.Fatalf("%d routes: %v, %d routes read", limit, err, m.Len())
	}
	_, err = parse("routes.map", strings.NewReader(file+"c.example [192.0.2.1]\n"), limit)
	if want := "routes.map:6: more than 3 routes"; err == nil || err.Error() != want {
		t.Fatalf("%d routes: %v, want %q", limit+1, err, want)
	}
}

// BenchmarkParseMax: a map of MaxRoutes lines, as a reload reads it on
// the loop's goroutine.
func BenchmarkParseMax(b *testing.B) {
	var sb strings.Builder
	for i := range MaxRoutes {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&sb, "d%d.example.com relay%d.example.net\n", i, i%100)
		case 1:
			fmt.Fprintf(&sb, "*.d%d.example.com [192.0.2.%d]\n", i, i%250+1)
		case 2:
			fmt.Fprintf(&sb, "d%d.example.org A # a comment\n", i)
		default:
			fmt.Fprintf(&sb, "D%d.Example.ORG. mx\n", i)
		}
	}
	file := sb.String()
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse("routes.map", strings.NewReader(file))
		if err != nil || m.Len() != MaxRoutes {
			b.Fatalf("%v, %d routes", err, m.Len())
		}
	}
}

func TestNilMap(t *testing.T) {
	var m *Map
	if _, ok := m.Lookup("example.com"); ok || m.Len() != 0 {
		t.Fatal("a nil map routes something")
	}
	for range m.All() {
		t.Fatal("a nil map yields a route")
	}
}
