// Package smtp is smtpfeed's sans-I/O SMTP client side: the reply parser,
// enhanced status codes, the message's wire form (dot-stuffed, CRLF) and
// its 7-bit form for servers without 8BITMIME (quoted-printable, made
// once per message), and the pipelining client machine (Client), a queue
// of expected replies.
// Nothing here does a syscall or reads a clock; callers feed bytes in and
// take bytes and results out.
//
// Two kinds of failure are kept apart: a server that answered with a code
// (a Reply, whatever its class) and a server that sent something that is
// not SMTP (a *ProtocolError), after which the connection is never reused.
package smtp
