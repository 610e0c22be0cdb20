package smtpfeed

// The descriptors other than SMTP connections that smtpfeed may hold at
// once, kept out of the connection limit: a connect that fails for want
// of a descriptor fails its recipients (a local failure), and a resolver
// or a listener that cannot open one stalls every message.
const (
	// stdioFDs are standard input, output and error.
	stdioFDs = 3
	// udpFDsPerServer: a server's queries rotate over udpSockets
	// sockets, and a retired one stays open until its last answer is in
	// or given up while its successor already carries queries, so twice
	// that at worst.
	udpFDsPerServer = 2 * udpSockets
	// tcpFDs: a truncated answer is asked again over TCP, one socket per
	// query (RFC 7766 §5); MX and address answers seldom truncate, so a
	// fixed share rather than one per outstanding query.
	tcpFDs = 64
	// fdMargin covers the poller, the signal pipe, the syslog socket, the
	// listening socket and what the runtime and the C library open.
	fdMargin = 16
)

// FDReserve is how many descriptors to keep for everything but SMTP
// connections with servers name servers and at most sessions LMTP
// sessions at once (0 on standard input and output, which stdioFDs
// counts).
func FDReserve(servers, sessions int) uint64 {
	return uint64(stdioFDs + max(servers, 1)*udpFDsPerServer + tcpFDs + fdMargin + max(sessions, 0))
}
