package smtp

import "fmt"

// EnhancedCode is an RFC 3463 status code, class.subject.detail. The zero
// value means none.
type EnhancedCode struct {
	Class, Subject, Detail int
}

// Valid reports whether the code is set.
func (c EnhancedCode) Valid() bool { return c.Class != 0 }

func (c EnhancedCode) String() string {
	if !c.Valid() {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", c.Class, c.Subject, c.Detail)
}

// ParseEnhancedCode reads an enhanced code at the start of text, followed
// by a space or the end of the text. It returns the zero code when there
// is none. Subject and detail have one to three digits (RFC 3463 §2).
func ParseEnhancedCode(text string) EnhancedCode {
	var parts [3]int
	i := 0
	for p := range parts {
		if p > 0 {
			if i >= len(text) || text[i] != '.' {
				return EnhancedCode{}
			}
			i++
		}
		start := i
		for i < len(text) && i-start < 4 && text[i] >= '0' && text[i] <= '9' {
			parts[p] = parts[p]*10 + int(text[i]-'0')
			i++
		}
		digits := i - start
		if digits == 0 || digits > 3 || (p == 0 && digits != 1) {
			return EnhancedCode{}
		}
	}
	if i < len(text) && text[i] != ' ' {
		return EnhancedCode{}
	}
	if parts[0] != 2 && parts[0] != 4 && parts[0] != 5 {
		return EnhancedCode{}
	}
	return EnhancedCode{Class: parts[0], Subject: parts[1], Detail: parts[2]}
}

// enhancedFor is the enhanced code of a reply's first line, trusted only
// when its class matches the reply code's: a "250 5.1.1" is a server bug,
// and passing on its 5.1.1 would misreport a success.
func enhancedFor(code int, firstLine string) EnhancedCode {
	ec := ParseEnhancedCode(firstLine)
	if ec.Class != code/100 {
		return EnhancedCode{}
	}
	return ec
}
