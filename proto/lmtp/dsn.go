package lmtp

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// DSN's parameters (RFC 3461 §4): checked strictly here, then kept as
// the caller sent them (xtext still encoded, keywords upper-cased), since
// the SMTP side sends them on unchanged. See the package doc for what
// advertising DSN commits us to.

// RcptDSN is one recipient's DSN parameters.
type RcptDSN struct {
	// Notify is NOTIFY= upper-cased: "NEVER", or some of SUCCESS,
	// FAILURE and DELAY, comma-separated in the caller's order; "" when
	// not given.
	Notify string
	// ORcpt is ORCPT= as given: addr-type ";" the address, still
	// xtext-encoded (utf-8-addr-xtext or -unitext for addr-type utf-8,
	// RFC 6533 §3); "" when not given.
	ORcpt string
}

// notifyKeywords are NOTIFY's list elements (RFC 3461 §4.1).
var notifyKeywords = [...]string{"SUCCESS", "FAILURE", "DELAY"}

// parseRet checks MAIL's RET= (RFC 3461 §4.3): FULL or HDRS in any case,
// returned upper-cased (as constants: the message keeps no piece of the
// command line).
func parseRet(val string, hasVal bool) (string, error) {
	switch {
	case hasVal && strings.EqualFold(val, "FULL"):
		return "FULL", nil
	case hasVal && strings.EqualFold(val, "HDRS"):
		return "HDRS", nil
	}
	return "", cmdError(501, "5.5.4", "syntax: RET=FULL or RET=HDRS")
}

// parseEnvID checks MAIL's ENVID= (RFC 3461 §4.4): xtext of at most
// MaxEnvID characters.
func parseEnvID(val string, hasVal bool) (string, error) {
	if !hasVal {
		return "", cmdError(501, "5.5.4", "syntax: ENVID=xtext")
	}
	if len(val) > MaxEnvID {
		return "", cmdError(501, "5.5.4", "ENVID longer than "+strconv.Itoa(MaxEnvID)+" characters")
	}
	if why := xtextError(val); why != "" {
		return "", cmdError(501, "5.5.4", "bad ENVID: "+why)
	}
	return val, nil
}

// parseNotify checks RCPT's NOTIFY= (RFC 3461 §4.1): NEVER alone, or a
// comma list of SUCCESS, FAILURE and DELAY, each at most once, in any
// case; returned upper-cased.
func parseNotify(val string, hasVal bool) (string, error) {
	if !hasVal {
		return "", cmdError(501, "5.5.4", "syntax: NOTIFY=NEVER or NOTIFY= a list of SUCCESS, FAILURE, DELAY")
	}
	v := strings.ToUpper(val)
	if v == "NEVER" {
		return v, nil
	}
	var seen [len(notifyKeywords)]bool
	for kw := range strings.SplitSeq(v, ",") {
		if kw == "NEVER" {
			return "", cmdError(501, "5.5.4", "NOTIFY=NEVER cannot be combined with other values")
		}
		k := 0
		for k < len(notifyKeywords) && notifyKeywords[k] != kw {
			k++
		}
		switch {
		case kw == "":
			return "", cmdError(501, "5.5.4", "NOTIFY has an empty list element")
		case k == len(notifyKeywords):
			return "", cmdError(501, "5.5.4", "NOTIFY value not SUCCESS, FAILURE, DELAY or NEVER: "+echo(kw))
		case seen[k]:
			return "", cmdError(501, "5.5.4", "NOTIFY lists "+kw+" twice")
		}
		seen[k] = true
	}
	return v, nil
}

// parseORcpt checks RCPT's ORCPT= (RFC 3461 §4.2): addr-type ";" xtext,
// at most MaxORcpt characters; for addr-type utf-8, RFC 6533 §3's forms,
// UTF-8 included (the session refuses that without SMTPUTF8).
func parseORcpt(val string, hasVal bool) (string, error) {
	if !hasVal {
		return "", cmdError(501, "5.5.4", "syntax: ORCPT=addr-type;xtext")
	}
	if len(val) > MaxORcpt {
		return "", cmdError(501, "5.5.4", "ORCPT longer than "+strconv.Itoa(MaxORcpt)+" characters")
	}
	typ, addr, ok := strings.Cut(val, ";")
	if !ok || !atom(typ) {
		return "", cmdError(501, "5.5.4", "syntax: ORCPT=addr-type;xtext")
	}
	if addr == "" {
		return "", cmdError(501, "5.5.4", "ORCPT has an empty address")
	}
	why := ""
	if strings.EqualFold(typ, "utf-8") {
		why = utf8AddrError(addr)
	} else {
		why = xtextError(addr)
	}
	if why != "" {
		return "", cmdError(501, "5.5.4", "bad ORCPT: "+why)
	}
	return val, nil
}

// xtextError says why s is not xtext (RFC 3461 §4), "" when it is: every
// character from "!" to "~" but "+" and "=", or "+" and two upper-case
// hex digits.
func xtextError(s string) string {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			if i+2 >= len(s) || !upperHex(s[i+1]) || !upperHex(s[i+2]) {
				return "'+' not followed by two upper-case hex digits"
			}
			i += 2
		case c < '!' || c > '~' || c == '=':
			return "character " + byteName(c) + " not allowed in xtext"
		}
	}
	return ""
}

// utf8AddrError says why s is neither utf-8-addr-xtext nor
// utf-8-addr-unitext (RFC 6533 §3), "" when it is one: QCHAR ("!" to
// "~" but "+", "=" and "\"), UTF-8 beyond ASCII, and "\x{HEXPOINT}",
// HEXPOINT taken as two to six upper-case hex digits.
func utf8AddrError(s string) string {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError {
				return "invalid UTF-8"
			}
			i += n
			continue
		case c == '\\':
			n := embeddedUnicode(s[i:])
			if n == 0 {
				return `'\' not starting \x{HEXPOINT}`
			}
			i += n
			continue
		case c < '!' || c > '~' || c == '+' || c == '=':
			return "character " + byteName(c) + " not allowed in a utf-8 address"
		}
		i++
	}
	return ""
}

// embeddedUnicode is the length of the "\x{HEXPOINT}" s starts with, 0
// when it starts with none.
func embeddedUnicode(s string) int {
	if !strings.HasPrefix(s, `\x{`) {
		return 0
	}
	end := strings.IndexByte(s, '}')
	if end < len(`\x{`)+2 || end > len(`\x{`)+6 {
		return 0
	}
	for i := len(`\x{`); i < end; i++ {
		if !upperHex(s[i]) {
			return 0
		}
	}
	return end + 1
}

// atom reports RFC 5321's Atom: one or more atext characters.
func atom(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

func upperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

// byteName names a byte for a reply: quoted when printable, else in hex.
func byteName(c byte) string {
	if c > ' ' && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "0x" + strconv.FormatUint(uint64(c), 16)
}

// dsnList gathers a transaction's per-recipient DSN parameters beside its
// rcptList. A list without any costs nothing: vals stays nil until a
// recipient has some, then holds one entry per recipient. The ORCPT
// values, which differ per recipient, are packed as addresses are
// (orcpts); the NOTIFY values, few and alike, share one string while
// they repeat.
type dsnList struct {
	vals       []RcptDSN // ORcpt filled in by take
	orcpts     rcptList
	lastNotify string
}

// add records the parameters of recipient k (0-based, the next one).
func (d *dsnList) add(k int, notify, orcpt string) {
	if d.vals == nil {
		if notify == "" && orcpt == "" {
			return
		}
		d.vals = make([]RcptDSN, k)
		for range k {
			d.orcpts.add("")
		}
	}
	if notify != "" && notify != d.lastNotify {
		d.lastNotify = strings.Clone(notify) // notify may share a command line's memory
	}
	if notify != "" {
		notify = d.lastNotify
	}
	d.vals = append(d.vals, RcptDSN{Notify: notify})
	d.orcpts.add(orcpt)
}

// take hands out the recipients' parameters, nil when none had any, and
// empties the list.
func (d *dsnList) take() []RcptDSN {
	vals := d.vals
	if vals != nil {
		for i, o := range d.orcpts.take() {
			vals[i].ORcpt = o
		}
	}
	*d = dsnList{}
	return vals
}

// ascii reports s free of octets beyond US-ASCII.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
