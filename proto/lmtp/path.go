package lmtp

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Path is a parsed reverse or forward path (RFC 5321 §4.1.2), source
// route dropped, case and quoting kept as given.
type Path struct {
	Addr   string // Local "@" Domain; "" for the null path <>
	Local  string // the local part as given, quotes and escapes kept
	Domain string // a domain, or an address literal with its brackets
}

// Null reports the null reverse path <>.
func (p Path) Null() bool { return p.Addr == "" }

// ASCII reports an address that needs no SMTPUTF8.
func (p Path) ASCII() bool {
	for i := 0; i < len(p.Addr); i++ {
		if p.Addr[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (p Path) String() string { return "<" + p.Addr + ">" }

// PathError is a path that does not parse; Reason says why.
type PathError struct {
	Reason string
}

func (e *PathError) Error() string { return e.Reason }

func pathError(format string, args ...any) (Path, error) {
	return Path{}, &PathError{Reason: fmt.Sprintf(format, args...)}
}

// ParsePath parses a path in angle brackets: <local@domain>, or <> when
// allowNull. A source route (<@a,@b:user@d>) is checked and dropped.
// Local parts may be quoted; domains may be address literals; UTF-8 is
// accepted in both (RFC 6531), whether it is allowed is the session's
// business.
func ParsePath(s string, allowNull bool) (Path, error) {
	if len(s) < 2 || s[0] != '<' || s[len(s)-1] != '>' {
		return pathError("address must be in angle brackets")
	}
	if !utf8.ValidString(s) {
		return pathError("address is not valid UTF-8")
	}
	in := s[1 : len(s)-1]
	if in == "" {
		if allowNull {
			return Path{}, nil
		}
		return pathError("null address not allowed here")
	}
	if in[0] == '@' {
		i := strings.IndexByte(in, ':')
		if i < 0 {
			return pathError("source route without ':'")
		}
		for _, hop := range strings.Split(in[:i], ",") {
			if len(hop) < 2 || hop[0] != '@' || checkDomain(hop[1:]) != "" {
				return pathError("bad source route")
			}
		}
		in = in[i+1:]
	}
	n := localPartEnd(in)
	if n < 0 {
		return pathError("bad local part")
	}
	local := in[:n]
	if n == len(in) || in[n] != '@' {
		return pathError("address without @domain")
	}
	domain := in[n+1:]
	if len(local) > MaxLocalPart {
		return pathError("local part longer than %d octets (RFC 5321 §4.5.3.1.1)", MaxLocalPart)
	}
	if len(domain) > MaxDomain {
		return pathError("domain longer than %d octets (RFC 5321 §4.5.3.1.2)", MaxDomain)
	}
	if why := checkDomain(domain); why != "" {
		return pathError("%s", why)
	}
	// Last, so that an over-long part is named as such.
	if len(s) > MaxPath {
		return pathError("path longer than %d octets (RFC 5321 §4.5.3.1.3)", MaxPath)
	}
	return Path{Addr: in, Local: local, Domain: domain}, nil
}

// localPartEnd is the length of the local part at the start of s: a
// Quoted-string or a Dot-string; -1 when there is none.
func localPartEnd(s string) int {
	if s == "" {
		return -1
	}
	if s[0] == '"' {
		for i := 1; i < len(s); i++ {
			switch c := s[i]; {
			case c == '"':
				if i == 1 {
					return -1 // "" is legal in RFC 5321 but names nobody
				}
				return i + 1
			case c == '\\':
				i++
				if i >= len(s) || s[i] < 32 || s[i] > 126 {
					return -1
				}
			case c < 32 || c == 127:
				return -1
			}
		}
		return -1
	}
	i := 0
	for i < len(s) && s[i] != '@' {
		if s[i] == '.' {
			if i == 0 || s[i-1] == '.' {
				return -1
			}
		} else if !atext(s[i]) {
			return -1
		}
		i++
	}
	if i == 0 || s[i-1] == '.' {
		return -1
	}
	return i
}

// atext is RFC 5322's atext, with RFC 6531's UTF-8 octets.
func atext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c >= utf8.RuneSelf:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkDomain returns why d is not a domain or address literal, "" when
// it is.
func checkDomain(d string) string {
	if d == "" {
		return "empty domain"
	}
	if d[0] == '[' {
		return checkLiteral(d)
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" {
			return "empty label in domain"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "domain label begins or ends with '-'"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c >= utf8.RuneSelf) {
				return "bad character in domain"
			}
		}
	}
	return ""
}

// checkLiteral checks an address literal, brackets included, with
// ParseLiteral.
func checkLiteral(d string) string {
	if _, err := ParseLiteral(d); err != nil {
		return err.Error()
	}
	return ""
}

// ParseLiteral reads an address literal, brackets included (RFC 5321
// §4.1.3): an IPv4 address, or "IPv6:" and an IPv6 address that is not
// an IPv4-mapped one (write the IPv4 address) and has no zone. A
// General-address-literal needs a tag registered with IANA, and none but
// IPv6 is: nothing could deliver to one, so it is refused. It is the one
// parser of literals: the LMTP side refuses at RCPT what the resolver
// could not route.
func ParseLiteral(d string) (netip.Addr, error) {
	if len(d) < 3 || d[0] != '[' || d[len(d)-1] != ']' {
		return netip.Addr{}, errors.New("bad address literal")
	}
	in := d[1 : len(d)-1]
	if len(in) > 5 && strings.EqualFold(in[:5], "IPv6:") {
		a, err := netip.ParseAddr(in[5:])
		if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
			return netip.Addr{}, errors.New("bad IPv6 address literal")
		}
		return a, nil
	}
	if strings.IndexByte(in, ':') >= 0 {
		return netip.Addr{}, errors.New("unsupported address literal")
	}
	a, err := netip.ParseAddr(in)
	if err != nil || !a.Is4() {
		return netip.Addr{}, errors.New("bad IPv4 address literal")
	}
	return a, nil
}

// SplitAddress splits a recipient address at its last "@" into local part
// and domain (lower case): what a Path's Addr holds, or an address given
// on the command line.
func SplitAddress(addr string) (local, domain string, err error) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", "", fmt.Errorf("recipient %q: want local-part@domain", addr)
	}
	return addr[:at], strings.ToLower(addr[at+1:]), nil
}
