// Package proto holds smtpfeed's sans-I/O protocol machines: bytes in,
// bytes out, a deadline and results, no syscalls and no clock reads. Each
// protocol lives in its own subpackage (the DNS wire and MX ordering, the
// SMTP client, the LMTP server session), so each is tested with
// transcripts and fuzzed without a socket.
//
// The package itself holds what the protocols share: Printable, which
// makes a peer's text fit for logs and replies. proto imports nothing
// else of smtpfeed.
package proto
