package tlspolicy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/idna"
)

// Policy is one domain's TLS requirement.
type Policy struct {
	Level Level
	// Match are the MX host name patterns of a Secure policy:
	// "mx.example.com" (that name), "*.example.com" (one label more,
	// as MTA-STS's mx patterns), ".example.com" (any name below). Empty:
	// any MX host, as long as its certificate verifies for its name.
	Match []string
}

// MatchesMX reports whether an MX host name is one the policy allows.
func (p *Policy) MatchesMX(host string) bool {
	if len(p.Match) == 0 {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, m := range p.Match {
		switch {
		case strings.HasPrefix(m, "*."):
			head, rest, ok := strings.Cut(host, ".")
			if ok && head != "" && rest == m[2:] {
				return true
			}
		case strings.HasPrefix(m, "."):
			if strings.HasSuffix(host, m) && len(host) > len(m) {
				return true
			}
		case host == m:
			return true
		}
	}
	return false
}

// Table is a policy file: each line a domain, a level and the level's
// attributes, in the shape of Postfix's smtp_tls_policy_maps:
//
//	# comments and blank lines are skipped
//	example.com     dane
//	.example.com    encrypt              (every domain below example.com)
//	example.net     secure match=mx1.example.net:*.mail.example.net
//
// A domain's own line wins over a parent's "." line; the nearest
// parent wins among those.
type Table struct {
	exact  map[string]*Policy
	parent map[string]*Policy // keyed by the parent's name, without its dot
}

// MaxLine bounds one line of a policy file.
const MaxLine = 64 << 10

// Parse reads a policy file. name is used in errors.
func Parse(name string, r io.Reader) (*Table, error) {
	t := &Table{exact: map[string]*Policy{}, parent: map[string]*Policy{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), MaxLine)
	for n := 1; sc.Scan(); n++ {
		if err := t.line(sc.Bytes()); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

func (t *Table) line(b []byte) error {
	if i := bytes.IndexByte(b, '#'); i >= 0 {
		b = b[:i]
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return nil
	}
	if len(fields) < 2 {
		return fmt.Errorf("%q has no security level", fields[0])
	}
	key, sub, err := domainKey(fields[0])
	if err != nil {
		return err
	}
	level, err := ParseLevel(fields[1])
	if err != nil {
		return err
	}
	p := &Policy{Level: level}
	for _, attr := range fields[2:] {
		k, v, _ := strings.Cut(attr, "=")
		switch strings.ToLower(k) {
		case "match":
			if level != Secure {
				return fmt.Errorf("match= is for the secure level, not %s", level)
			}
			for _, m := range strings.Split(v, ":") {
				pat, err := pattern(m)
				if err != nil {
					return err
				}
				p.Match = append(p.Match, pat)
			}
		case "servername":
			// What MTA-STS resolvers write for Postfix: the SNI is the
			// MX host's name, which is what smtpfeed sends anyway.
			if !strings.EqualFold(v, "hostname") {
				return fmt.Errorf("servername=%q: only servername=hostname is supported", v)
			}
		default:
			return fmt.Errorf("unknown attribute %q (known: match=, servername=hostname)", attr)
		}
	}
	if sub {
		t.parent[key] = p
	} else {
		t.exact[key] = p
	}
	return nil
}

// domainKey normalises a domain of the file: lower case, A-labels, no
// trailing dot; sub reports a leading dot.
func domainKey(s string) (key string, sub bool, err error) {
	if strings.HasPrefix(s, ".") {
		s, sub = s[1:], true
	}
	d, err := normalize(s)
	if err != nil {
		return "", false, fmt.Errorf("domain %q: %w", s, err)
	}
	return d, sub, nil
}

func normalize(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", fmt.Errorf("empty name")
	}
	d, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", err
	}
	d = strings.ToLower(d)
	if len(d) > 253 {
		return "", fmt.Errorf("name longer than 253 octets")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("empty or over-long label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("%q is not a letter, digit or hyphen", c)
			}
		}
	}
	return d, nil
}

func pattern(m string) (string, error) {
	switch {
	case strings.HasPrefix(m, "*."):
		d, err := normalize(m[2:])
		return "*." + d, wrapPattern(m, err)
	case strings.HasPrefix(m, "."):
		d, err := normalize(m[1:])
		return "." + d, wrapPattern(m, err)
	}
	d, err := normalize(m)
	return d, wrapPattern(m, err)
}

func wrapPattern(m string, err error) error {
	if err != nil {
		return fmt.Errorf("match pattern %q: %w", m, err)
	}
	return nil
}

// Len is the number of lines with a policy.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.exact) + len(t.parent)
}

// Lookup finds the policy for a recipient domain: its own line, else
// the nearest parent's "." line. ok is false when none applies.
func (t *Table) Lookup(domain string) (p *Policy, ok bool) {
	if t.Len() == 0 {
		return nil, false
	}
	d, err := normalize(domain)
	if err != nil {
		return nil, false
	}
	if p, ok := t.exact[d]; ok {
		return p, true
	}
	for {
		_, rest, more := strings.Cut(d, ".")
		if !more {
			return nil, false
		}
		if p, ok := t.parent[rest]; ok {
			return p, true
		}
		d = rest
	}
}

// Any reports a policy that may need TLS: a connection opened for
// domains that do not need it still offers it to those that do.
func (t *Table) Any(f func(*Policy) bool) bool {
	if t == nil {
		return false
	}
	for _, p := range t.exact {
		if f(p) {
			return true
		}
	}
	for _, p := range t.parent {
		if f(p) {
			return true
		}
	}
	return false
}
