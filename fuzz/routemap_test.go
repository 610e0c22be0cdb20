package fuzz

import (
	"bytes"
	"strings"
	"testing"

	"smtpfeed/proto/routemap"
)

var routeMapSeeds = []string{
	"example.com relay.example.net\n*.example.com [192.0.2.25]\nlists.example.com MX # exempt\n",
	"*.deep.example.com A\nExample.ORG. a\n",
	"bücher.example [IPv6:2001:db8::25]\nxn--caf-dma.example [2001:DB8::26]\n",
	"example.com [300.1.1.1]\n",
	"example.com\n",
	"example.com MX\nEXAMPLE.com. A\n",
	"*. MX\n* A\na.*.b MX\n",
	"example.com 192.0.2.1\nexample.org [fe80::1%eth0]\n",
	"example.com MX\r\nexample.org A",
	"mx.example mx.\n",
}

// FuzzRouteMap: any bytes either parse into a map or are refused with
// an error naming the file and a line, never a panic; whatever parses,
// every domain it names looks up to its own route, every name below a
// "*." line that no line names itself looks up to that line's route,
// and a comment after the file changes nothing.
func FuzzRouteMap(f *testing.F) {
	for _, s := range routeMapSeeds {
		f.Add([]byte(s), "a.example.com")
	}
	f.Fuzz(func(t *testing.T, file []byte, domain string) {
		m, err := routemap.Parse("routes.map", bytes.NewReader(file))
		commented := append(append([]byte(nil), file...), "\n# a comment\n\n"...)
		m2, err2 := routemap.Parse("routes.map", bytes.NewReader(commented))
		if (err == nil) != (err2 == nil) || err == nil && m.Len() != m2.Len() {
			t.Fatalf("a trailing comment changed the parse: %v / %v", err, err2)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "routes.map:") {
				t.Fatalf("error %q does not name the file and line", err)
			}
			if m != nil {
				t.Fatalf("a map returned with the error %v", err)
			}
			return
		}
		routes := map[string]routemap.Route{}
		for d, r := range m.All() {
			routes[d] = r
		}
		if len(routes) != m.Len() {
			t.Fatalf("All yielded %d routes, Len says %d", len(routes), m.Len())
		}
		for d, r := range routes {
			if r.Line < 1 || r.Kind < routemap.MX || r.Kind > routemap.Host {
				t.Fatalf("%s: route %+v", d, r)
			}
			if r.Kind == routemap.Literal && !r.Addr.IsValid() || r.Kind == routemap.Host && (r.Host == "" || r.Host != strings.ToLower(r.Host)) {
				t.Fatalf("%s: route %+v lacks its address or host", d, r)
			}
			name, wild := strings.CutPrefix(d, "*.")
			want := r
			if wild {
				// A name one label below: its own line wins if it has
				// one; no "*." line can be a longer match for it.
				name = "probe." + name
				if own, ok := routes[name]; ok {
					want = own
				}
			}
			if len(name) > 253 {
				continue
			}
			for _, ask := range []string{name, strings.ToUpper(name) + "."} {
				if got, ok := m.Lookup(ask); !ok || got != want {
					t.Fatalf("Lookup(%q) = %+v, %v; want %+v (from %s)", ask, got, ok, want, d)
				}
			}
		}
		if r, ok := m.Lookup(domain); ok && r.Line < 1 {
			t.Fatalf("Lookup(%q) = %+v without a line", domain, r)
		}
	})
}
