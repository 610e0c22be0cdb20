package smtp

import "strings"

// VERP gives every recipient an envelope sender of its own (Variable
// Envelope Return Paths), so that a bounce names the recipient it is
// for whatever the bouncing server writes: the sender
// list-bounces@lists.example becomes, for user@dom.example,
// list-bounces+user=dom.example@lists.example, with Plus and Equals as
// the delimiters (Postfix's "+=" by default). Each recipient then has a
// transaction of its own; a pipelining server takes them one after
// another without a round trip between them (RFC 2920 §3.1).
type VERP struct {
	Plus, Equals byte
}

// DefaultVERP has Postfix's delimiters.
var DefaultVERP = VERP{Plus: '+', Equals: '='}

// Sender is the reverse path for rcpt. The null sender stays null: a
// bounce must not bounce (RFC 5321 §4.5.5).
func (v VERP) Sender(from, rcpt string) string {
	if from == "" {
		return ""
	}
	slocal, sdomain := splitPath(from)
	rlocal, rdomain := splitPath(rcpt)
	quoted := isQuoted(slocal) || isQuoted(rlocal)
	local := unquote(slocal) + string(v.Plus) + unquote(rlocal) + string(v.Equals) + rdomain
	if quoted || !dotAtom(local) {
		local = quote(local)
	}
	if sdomain == "" {
		return local
	}
	return local + "@" + sdomain
}

// splitPath cuts a mailbox at its last '@': a quoted local part may hold
// one of its own.
func splitPath(p string) (local, domain string) {
	if k := strings.LastIndexByte(p, '@'); k >= 0 {
		return p[:k], p[k+1:]
	}
	return p, ""
}

func isQuoted(s string) bool { return len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' }

// unquote undoes a quoted local part's quoting (RFC 5321 §4.1.2).
func unquote(s string) string {
	if !isQuoted(s) {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.ContainsRune(s, '\\') {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// dotAtom reports a local part that needs no quoting: atoms of atext
// (RFC 5322 §3.2.3; octets over 127 are SMTPUTF8's, RFC 6531) joined by
// single dots.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80, c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Trace is the Received field put before the message in a transaction
// of one recipient, naming that recipient in its for clause (RFC 5321
// §4.4), so that a bounce parser finds the address the copy was sent
// to: Head, the recipient's address, then Tail. Both are made once per
// message; each transaction writes the three pieces before the shared
// message bytes, so no copy of the message is made per recipient.
type Trace struct {
	Head string // "Received: by host (smtpfeed)\r\n\tfor <"
	Tail string // ">; date\r\n"
}

// field is the trace field for rcpt.
func (t *Trace) field(rcpt string) []byte {
	b := make([]byte, 0, len(t.Head)+len(rcpt)+len(t.Tail))
	return append(append(append(b, t.Head...), rcpt...), t.Tail...)
}
