package routemap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// Limits of a route map.
const (
	// MaxLine bounds one line, its end not counted: the longest domain
	// and host (253 octets each as A-labels) with room for a comment. A
	// longer line is no route but a mistake (a binary file, a lost line
	// end), and reading it whole would let any file size one buffer.
	MaxLine = 1000
	// MaxRoutes bounds the routes of one map: a million lines is some
	// 30 MiB of file, about 100 MiB of memory (twice that while a reload
	// holds the old map and the new) and 1 to 2 s to read on the loop's
	// goroutine (BenchmarkParseMax: 1.2 s and 1.8 s on a shared 2-core
	// VM), far more than the domains anyone routes by hand.
	MaxRoutes = 1_000_000
	// maxName is RFC 1035's bound on a name's text form (§2.3.4's 255
	// octets on the wire, less the length octets).
	maxName = 253
	// maxLabel is RFC 1035's bound on one label.
	maxLabel = 63
)

// Kind is what a route does with a domain's mail.
type Kind uint8

const (
	MX      Kind = iota + 1 // the normal MX lookup (exempts a name from a "*." line)
	A                       // no MX lookup: the domain's own addresses, as an implicit MX
	Literal                 // one address, no lookup
	Host                    // another host, looked up as a mail domain is (as -m's host)
)

var kindNames = [...]string{"", "MX", "A", "literal", "host"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return "kind?"
}

// Route is where one line of the map sends a domain's mail.
type Route struct {
	Kind Kind
	Addr netip.Addr // Literal: the address
	Host string     // Host: its name, lower case, A-labels, no trailing dot
	Line int        // the line of the map that says so
}

// String is the route as a map would say it: MX, A, [192.0.2.1],
// [2001:db8::1] or a host name.
func (r Route) String() string {
	switch r.Kind {
	case Literal:
		return "[" + r.Addr.String() + "]"
	case Host:
		return r.Host
	}
	return r.Kind.String()
}

// Map is a parsed route map. It is never changed once Parse made it: a
// reload replaces it whole, and a lookup already made keeps its route.
type Map struct {
	exact map[string]Route // by domain
	below map[string]Route // "*.domain" lines, by domain
}

// Parse reads a route map; name (the file's) prefixes every error, with
// the line: "routes.map:7: "[300.1.1.1]": not an IP address". A file
// with any bad line is refused whole.
func Parse(name string, r io.Reader) (*Map, error) { return parse(name, r, MaxRoutes) }

// parse is Parse with the limit on routes given.
func parse(name string, r io.Reader, maxRoutes int) (*Map, error) {
	m := &Map{exact: map[string]Route{}, below: map[string]Route{}}
	hosts := map[string]string{} // one string per relay host, however many lines name it
	br := bufio.NewReaderSize(r, MaxLine+2)
	for n := 1; ; n++ {
		b, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return nil, fmt.Errorf("%s:%d: line longer than %d octets", name, n, MaxLine)
		case err != nil && !errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		line := bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
		if len(line) > MaxLine {
			return nil, fmt.Errorf("%s:%d: line longer than %d octets", name, n, MaxLine)
		}
		if perr := m.line(line, n, hosts, maxRoutes); perr != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, perr)
		}
		if err != nil { // io.EOF, after the last line
			return m, nil
		}
	}
}

// line adds one line's route, if it has one. It reads the line where
// the reader holds it: only the domain and the host are copied out.
func (m *Map) line(line []byte, n int, hosts map[string]string, maxRoutes int) error {
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	var f [3][]byte
	nf := 0
	for rest := line; nf < len(f); nf++ {
		f[nf], rest = field(rest)
		if f[nf] == nil {
			break
		}
	}
	switch nf {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%q has no route (want DOMAIN ROUTE: MX, A, [address] or a host)", f[0])
	case 3:
		return fmt.Errorf("%q after the route %q: one domain and one route a line", f[2], f[1])
	}
	key, wild, err := pattern(string(f[0]))
	if err != nil {
		return err
	}
	route, err := parseRoute(string(f[1]))
	if err != nil {
		return err
	}
	if route.Kind == Host {
		if h, ok := hosts[route.Host]; ok {
			route.Host = h
		} else {
			hosts[route.Host] = route.Host
		}
	}
	route.Line = n
	set := m.exact
	if wild {
		set = m.below
	}
	if old, dup := set[key]; dup {
		return fmt.Errorf("%q is routed on line %d already", f[0], old.Line)
	}
	if m.Len() >= maxRoutes {
		return fmt.Errorf("more than %d routes", maxRoutes)
	}
	set[key] = route
	return nil
}

// field splits the first field off b at ASCII white space; nil when b
// has none.
func field(b []byte) (f, rest []byte) {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return nil, nil
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

// pattern is a line's domain as the map keys it; wild reports "*.".
func pattern(s string) (key string, wild bool, err error) {
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		if rest == "" || rest == "." {
			return "", false, fmt.Errorf("%q: want *.domain, a domain after the \"*.\"", s)
		}
		s, wild = rest, true
	}
	key, err = normalize(s)
	if err != nil {
		return "", false, fmt.Errorf("domain %q: %v", s, err)
	}
	return key, wild, nil
}

// parseRoute reads a line's route.
func parseRoute(s string) (Route, error) {
	switch {
	case strings.EqualFold(s, "MX"):
		return Route{Kind: MX}, nil
	case strings.EqualFold(s, "A"):
		return Route{Kind: A}, nil
	case strings.HasPrefix(s, "["):
		a, err := parseLiteral(s)
		return Route{Kind: Literal, Addr: a}, err
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return Route{}, fmt.Errorf("%q: an address goes in brackets: [%s]", s, a)
	}
	h, err := normalize(s)
	if err != nil {
		return Route{}, fmt.Errorf("host %q: %v", s, err)
	}
	return Route{Kind: Host, Host: h}, nil
}

// parseLiteral reads "[192.0.2.1]", "[2001:db8::1]" or, as a domain
// literal says it (RFC 5321 §4.1.3), "[IPv6:2001:db8::1]".
func parseLiteral(s string) (netip.Addr, error) {
	in, ok := strings.CutSuffix(s[1:], "]")
	if !ok {
		return netip.Addr{}, fmt.Errorf("%q: an address literal ends in \"]\"", s)
	}
	v6 := len(in) > 5 && strings.EqualFold(in[:5], "IPv6:")
	if v6 {
		in = in[5:]
	}
	a, err := netip.ParseAddr(in)
	switch {
	case err != nil:
		return a, fmt.Errorf("%q: not an IP address", s)
	case a.Zone() != "":
		return a, fmt.Errorf("%q: an address with a zone names an interface of this host, not a mail host", s)
	case v6 && a.Is4():
		return a, fmt.Errorf("%q: IPv6: before an IPv4 address", s)
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return a, fmt.Errorf("%q: not an address a mail host can have", s)
	}
	return a, nil
}

// normalize is a name as the resolver asks it: lower case, an
// internationalised name as its A-label (IDNA 2008, UTS #46 lookup
// rules, as the resolver's lookupName), no trailing dot.
func normalize(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", errors.New("empty name")
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			a, err := idna.Lookup.ToASCII(s)
			if err != nil {
				return "", fmt.Errorf("not a valid internationalised domain name: %v", err)
			}
			s = a
			break
		}
	}
	s = strings.ToLower(s)
	if len(s) > maxName {
		return "", fmt.Errorf("longer than %d octets", maxName)
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return "", errors.New("an empty label")
		}
		if len(label) > maxLabel {
			return "", fmt.Errorf("a label longer than %d octets", maxLabel)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("%q is not a letter, digit, hyphen or underscore", c)
			}
		}
	}
	return s, nil
}

// Len is the number of routes.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return len(m.exact) + len(m.below)
}

// Lookup finds the route of a recipient domain (any case, trailing dot
// or not, a U-label or its A-label): its own line, else the longest
// "*." line it is below. ok is false when the map does not name it, or
// for what is no domain name (a domain literal).
func (m *Map) Lookup(domain string) (r Route, ok bool) {
	if m.Len() == 0 {
		return Route{}, false
	}
	d, err := normalize(domain)
	if err != nil {
		return Route{}, false
	}
	if r, ok := m.exact[d]; ok {
		return r, true
	}
	for i := 0; i < len(d); i++ {
		if d[i] != '.' {
			continue
		}
		if r, ok := m.below[d[i+1:]]; ok {
			return r, true
		}
	}
	return Route{}, false
}

// All yields every route with its domain as the map keys it:
// "example.com", or "*.example.com" for a line that covers the names
// below; in no particular order.
func (m *Map) All() iter.Seq2[string, Route] {
	return func(yield func(string, Route) bool) {
		if m == nil {
			return
		}
		for d, r := range m.exact {
			if !yield(d, r) {
				return
			}
		}
		for d, r := range m.below {
			if !yield("*."+d, r) {
				return
			}
		}
	}
}
