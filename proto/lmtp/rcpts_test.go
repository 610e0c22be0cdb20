package lmtp

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestRcptList(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    int
		addr func(i int) string
	}{
		{"one", 1, func(int) string { return "a@b.test" }},
		{"across blocks and chunks", 3000, func(i int) string { return fmt.Sprintf("user%d@d%05d.test", i, i/5) }},
		{"longest addresses", 100, func(i int) string {
			return fmt.Sprintf("%03d", i) + strings.Repeat("l", MaxLocalPart-3) + "@" + strings.Repeat("d", MaxPath-MaxLocalPart-3)
		}},
		{"lengths around the block size", 600, func(i int) string { return strings.Repeat("x", 1+i%250) + "@b" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var l rcptList
			var want []string
			for i := range tt.n {
				a := tt.addr(i)
				want = append(want, a)
				l.add(a)
			}
			if l.n != tt.n {
				t.Fatalf("n = %d, want %d", l.n, tt.n)
			}
			got := l.take()
			if !slices.Equal(got, want) {
				t.Fatalf("take() differs from what was added: %d addresses, want %d", len(got), len(want))
			}
			if len(got) != cap(got) {
				t.Errorf("take() capacity %d for %d addresses", cap(got), len(got))
			}
			if again := l.take(); len(again) != 0 || l.n != 0 {
				t.Errorf("second take() = %d addresses, n = %d; want none", len(again), l.n)
			}
		})
	}
}
