package smtp

import (
	"strconv"
	"strings"
)

// Extensions is what a server advertised in its EHLO reply.
type Extensions struct {
	Pipelining          bool  // RFC 2920
	EightBitMIME        bool  // RFC 6152
	DSN                 bool  // RFC 3461
	SMTPUTF8            bool  // RFC 6531
	EnhancedStatusCodes bool  // RFC 2034
	StartTLS            bool  // RFC 3207
	Size                bool  // RFC 1870: SIZE advertised
	MaxSize             int64 // the SIZE limit; 0 when none was given
	// RcptMax is LIMITS RCPTMAX= (RFC 9422): recipients per transaction
	// the server takes; 0 when not given.
	RcptMax int
}

// ParseExtensions reads the extension lines of a 250 EHLO reply: every
// line after the first (which greets), keyword first, case-insensitive.
// Unknown keywords and malformed parameters are ignored: a server that
// advertises something oddly simply does not get it used.
func ParseExtensions(r Reply) Extensions {
	var ext Extensions
	if r.Code != 250 || len(r.Lines) < 2 {
		return ext
	}
	for _, line := range r.Lines[1:] {
		keyword, param, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(keyword) {
		case "PIPELINING":
			ext.Pipelining = true
		case "8BITMIME":
			ext.EightBitMIME = true
		case "DSN":
			ext.DSN = true
		case "SMTPUTF8":
			ext.SMTPUTF8 = true
		case "ENHANCEDSTATUSCODES":
			ext.EnhancedStatusCodes = true
		case "STARTTLS":
			ext.StartTLS = true
		case "LIMITS":
			for _, kv := range strings.Fields(param) {
				k, v, _ := strings.Cut(kv, "=")
				if strings.EqualFold(k, "RCPTMAX") {
					if n, err := strconv.Atoi(v); err == nil && n > 0 {
						ext.RcptMax = n
					}
				}
			}
		case "SIZE":
			ext.Size = true
			if n, err := strconv.ParseInt(strings.TrimSpace(param), 10, 64); err == nil && n > 0 {
				ext.MaxSize = n
			}
		}
	}
	return ext
}
