package resolv

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestOrder(t *testing.T) {
	in := []MX{{20, "b."}, {10, "a."}, {20, "c."}, {10, "a."}, {30, "a."}, {20, "d."}}
	seen := map[string]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		got := Order(in, rng.IntN)
		if len(got) != 4 || got[0] != (MX{10, "a."}) {
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
		{"absent", []MX{{10, "a."}, {20, "b."}}, []MX{{10, "a."}, {20, "b."}}, false},
		{"middle", []MX{{10, "a."}, {20, "b."}, {20, "me."}, {30, "c."}}, []MX{{10, "a."}}, true},
		{"best", []MX{{10, "me."}, {20, "b."}}, []MX{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, self := DropSelf(c.in, own)
			if !slices.Equal(got, c.want) || self != c.self {
				t.Errorf("DropSelf(%v) = %v, %v, want %v, %v", c.in, got, self, c.want, c.self)
			}
		})
	}
}

func TestNullMX(t *testing.T) {
	for _, c := range []struct {
		in   []MX
		want bool
	}{{[]MX{{0, "."}}, true}, {[]MX{{0, "."}, {10, "a."}}, false}, {nil, false}} {
		if got := IsNullMX(c.in); got != c.want {
			t.Errorf("IsNullMX(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := Usable([]MX{{0, "."}, {10, "a."}}); !slices.Equal(got, []MX{{10, "a."}}) {
		t.Errorf("Usable = %v, want [{10 a.}]", got)
	}
}
