package resolv

import "slices"

// Order returns the MX records sorted by preference, records of equal
// preference in random order (RFC 5321 §5.1), each host once at its best
// preference. intn(n) returns a random int in [0, n).
func Order(mx []MX, intn func(n int) int) []MX {
	out := slices.Clone(mx)
	slices.SortStableFunc(out, func(a, b MX) int { return int(a.Pref) - int(b.Pref) })
	seen := make(map[string]bool, len(out))
	kept := out[:0]
	for _, m := range out {
		if !seen[m.Host] {
			seen[m.Host] = true
			kept = append(kept, m)
		}
	}
	for i := 0; i < len(kept); {
		j := i + 1
		for j < len(kept) && kept[j].Pref == kept[i].Pref {
			j++
		}
		run := kept[i:j]
		for k := len(run) - 1; k > 0; k-- {
			r := intn(k + 1)
			run[k], run[r] = run[r], run[k]
		}
		i = j
	}
	return kept
}

// IsNullMX reports whether the set is a null MX (RFC 7505): its only
// target is the root. A set mixing "." with real hosts is not; Usable
// drops the "." records from it.
func IsNullMX(mx []MX) bool {
	if len(mx) == 0 {
		return false
	}
	for _, m := range mx {
		if m.Host != "." {
			return false
		}
	}
	return true
}

// Usable drops null-MX records from a mixed set.
func Usable(mx []MX) []MX {
	return slices.DeleteFunc(slices.Clone(mx), func(m MX) bool { return m.Host == "." })
}

// DropSelf applies RFC 5321 §5.1: when one of our own names is in the
// ordered list, that preference and every worse one are dropped. It
// reports whether our name was found.
func DropSelf(ordered []MX, own func(host string) bool) ([]MX, bool) {
	for i, m := range ordered {
		if own(m.Host) {
			cut := i
			for cut > 0 && ordered[cut-1].Pref == m.Pref {
				cut--
			}
			return ordered[:cut:cut], true
		}
	}
	return ordered, false
}
