package lmtp

// Limits, each with its reason.
const (
	// MaxCommandLine is the longest command line, CRLF included: RFC
	// 5321 §4.5.3.1.4's 512, which extensions may lengthen, plus the
	// longest parameters an advertised extension adds to one command:
	// DSN's on RCPT (maxDSNRcptParams). Longer lines get 500 5.5.2 and
	// are discarded.
	MaxCommandLine = 512 + maxDSNRcptParams
	// MaxEnvID is the longest ENVID value, as sent, xtext and all (RFC
	// 3461 §4.4).
	MaxEnvID = 100
	// MaxORcpt is the longest ORCPT value, as sent, address type
	// included (RFC 3461 §4.2).
	MaxORcpt = 500
	// maxDSNRcptParams is the most DSN's parameters add to a RCPT
	// command: " NOTIFY=SUCCESS,FAILURE,DELAY" and " ORCPT=" with a
	// value of MaxORcpt.
	maxDSNRcptParams = len(" NOTIFY=SUCCESS,FAILURE,DELAY") + len(" ORCPT=") + MaxORcpt
	// MaxLocalPart is the longest local part (RFC 5321 §4.5.3.1.1).
	MaxLocalPart = 64
	// MaxDomain is the longest domain (RFC 5321 §4.5.3.1.2).
	MaxDomain = 255
	// MaxPath is the longest path, angle brackets and any source route
	// included (RFC 5321 §4.5.3.1.3).
	MaxPath = 256
	// DefaultMaxRcpts is the recipients per transaction when Config
	// leaves it 0. RFC 5321 §4.5.3.1.8's 100 is a floor; an LMTP caller
	// hands a whole list in one transaction, and each recipient costs us
	// only its address.
	DefaultMaxRcpts = 100000
	// DefaultMaxSize is the message size when Config leaves it 0:
	// Postfix's default message_size_limit, so whatever the caller
	// accepted by default we accept too.
	DefaultMaxSize = 10240000

	// maxBuffered is how much input is held while commands wait (for
	// answers, or for Output to drain) before WantInput turns false.
	maxBuffered = 64 << 10
	// maxOutput is how much unwritten output stops command processing: a
	// caller that pipelines without reading our replies is not followed.
	maxOutput = 64 << 10
	// maxReplyText caps the text of an answer, so a reply line stays
	// within RFC 5321 §4.5.3.1.5's 512 octets.
	maxReplyText = 400
	// maxEcho caps how much of a caller's command is quoted back.
	maxEcho = 40
)
