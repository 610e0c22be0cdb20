package proto

// Printable replaces every byte outside printable ASCII with '?' and cuts
// s to at most limit bytes, ending in "..." when cut, so that text from a
// peer can be logged and passed on without control characters or line
// breaks. Text that is already fit comes back as it is, without a copy:
// it is called once per recipient.
func Printable(s string, limit int) string {
	clean := len(s) <= limit
	for i := 0; clean && i < len(s); i++ {
		clean = s[i] >= 0x20 && s[i] <= 0x7e
	}
	if clean {
		return s
	}
	cut := len(s) > limit
	if cut {
		s = s[:max(limit-3, 0)]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if cut {
		b = append(b, "..."...)
	}
	return string(b)
}
