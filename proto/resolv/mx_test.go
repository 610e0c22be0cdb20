package resolv

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// sameMX compares records by preference and host; glue has tests of its
// own.
func sameMX(a, b []MX) bool {
	return slices.EqualFunc(a, b, func(x, y MX) bool { return x.Pref == y.Pref && x.Host == y.Host })
}

func TestOrder(t *testing.T) {
	in := []MX{{Pref: 20, Host: "b."}, {Pref: 10, Host: "a."}, {Pref: 20, Host: "c."}, {Pref: 10, Host: "a."}, {Pref: 30, Host: "a."}, {Pref: 20, Host: "d."}}
	seen := map[string]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		got := Order(in, rng.IntN)
		if len(got) != 4 || got[0].Pref != 10 || got[0].Host != "a." {
			t.Fatalf("Order(%v) = %v, want a. at 10 first and 4 hosts", in, got)
		}
		for _, m := range got[1:] {
			if m.Pref != 20 {
				t.Fatalf("Order(%v) = %v, want the rest at 20", in, got)
			}
		}
		seen[got[1].Host] = true
	}
	if len(seen) != 3 {
		t.Errorf("Order: first of the equal preferences took %d values in 200 runs, want 3 (random order)", len(seen))
	}
}

func TestDropSelf(t *testing.T) {
	own := func(h string) bool { return h == "me." }
	for _, c := range []struct {
		name string
		in   []MX
		want []MX
		self bool
	}{
		{"absent", []MX{{Pref: 10, Host: "a."}, {Pref: 20, Host: "b."}}, []MX{{Pref: 10, Host: "a."}, {Pref: 20, Host: "b."}}, false},
		{"middle", []MX{{Pref: 10, Host: "a."}, {Pref: 20, Host: "b."}, {Pref: 20, Host: "me."}, {Pref: 30, Host: "c."}}, []MX{{Pref: 10, Host: "a."}}, true},
		{"best", []MX{{Pref: 10, Host: "me."}, {Pref: 20, Host: "b."}}, []MX{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, self := DropSelf(c.in, own)
			if !sameMX(got, c.want) || self != c.self {
				t.Errorf("DropSelf(%v) = %v, %v, want %v, %v", c.in, got, self, c.want, c.self)
			}
		})
	}
}

func TestNullMX(t *testing.T) {
	for _, c := range []struct {
		in   []MX
		want bool
	}{{[]MX{{Pref: 0, Host: "."}}, true}, {[]MX{{Pref: 0, Host: "."}, {Pref: 10, Host: "a."}}, false}, {nil, false}} {
		if got := IsNullMX(c.in); got != c.want {
			t.Errorf("IsNullMX(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := Usable([]MX{{Pref: 0, Host: "."}, {Pref: 10, Host: "a."}}); !sameMX(got, []MX{{Pref: 10, Host: "a."}}) {
		t.Errorf("Usable = %v, want [{10 a.}]", got)
	}
}

func TestOrderKeepsGlue(t *testing.T) {
	glue := []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	in := []MX{{Pref: 20, Host: "a.", Glue: glue}, {Pref: 10, Host: "b."}, {Pref: 5, Host: "a.", Glue: glue}}
	got := Order(in, rand.New(rand.NewPCG(1, 2)).IntN)
	if len(got) != 2 || got[0].Host != "a." || !slices.Equal(got[0].Glue, glue) || got[1].Glue != nil {
		t.Errorf("Order(%v) = %v, want a. at 5 with its glue, then b. without", in, got)
	}
}
