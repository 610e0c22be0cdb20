package smtpfeed

// maxInterned bounds the table of MX host names: past it the table starts
// over, so a server naming ever new hosts costs at most this many entries.
const maxInterned = 1 << 16

// intern returns the resolver's one copy of an MX host name. Thousands of
// domains name the same few mail hosts; every MX answer cached, and every
// result handed out, would otherwise hold a copy of its own for as long
// as it lives.
func (r *Resolver) intern(name string) string {
	if s, ok := r.names[name]; ok {
		return s
	}
	if len(r.names) >= maxInterned {
		r.names = make(map[string]string)
	}
	r.names[name] = name
	return name
}
