// Package lmtp is smtpfeed's sans-I/O LMTP (RFC 2033) server side: the
// session machine the caller's MTA talks to, and the command and path
// parsers under it. Nothing here does a syscall, reads a clock or starts
// a goroutine. The driver feeds the caller's bytes in (Feed, EOF), writes
// what Output returns and reports it (Wrote), takes each complete message
// from Next and hands back one final reply per recipient (Answer).
//
// # The central invariant
//
// After a message's final dot the session writes exactly one reply per
// accepted RCPT, in RCPT order, before any other reply. Answer may come in
// any order; each reply is queued as soon as it and every earlier one is
// known and Output has room (see Back-pressure). A message over the size
// limit is never handed to Next: each of its recipients gets 552 5.3.4 at
// once. A message cut off by EOF is dropped and never handed out.
//
// # Back-pressure
//
// After the final dot the session reads no further command until every
// answer for that message is queued in Output, so replies can never
// overtake each other and at most one message is outstanding. Bytes that
// arrive meanwhile (a pipelining caller's next MAIL, say) are buffered;
// once maxBuffered is held, WantInput reports false and the driver should
// drop read interest until it turns true. Commands are likewise held while
// Output exceeds maxOutput, so a caller that pipelines without reading
// cannot grow our memory without bound. Answers too are queued only while
// Output is under maxOutput: the rest wait packed (24 octets each, see
// held) until Wrote makes room, rather than as a line each.
//
// # Why no DSN
//
// LHLO advertises PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME, SIZE and
// SMTPUTF8, not DSN. smtpfeed keeps no queue and cannot send delivery
// notifications itself: the caller does. Advertising DSN would oblige us
// to honour NOTIFY=SUCCESS and to send a "relayed" notice when the next
// hop lacks DSN, which we cannot; we would drop it silently. Without DSN
// the caller knows its NOTIFY went nowhere and issues "relayed" notices
// itself. So NOTIFY, ORCPT, RET and ENVID are refused as unknown
// parameters (555 5.5.4).
//
// # SMTPUTF8 end to end
//
// SMTPUTF8 is advertised because it is carried through: Message.SMTPUTF8
// tells the SMTP side to pass it on, or to bounce the recipient with 553
// 5.6.7 where the next hop lacks it. A non-ASCII address in a transaction
// whose MAIL lacked SMTPUTF8 is refused here with the same 553 5.6.7.
//
// # Line ends
//
// A line ends at LF, with or without a CR before it, in commands and in
// message data alike: "\n.\n" ends the data and a line after a bare LF
// that begins ".." is unstuffed. The caller is the local MTA, which ends
// lines and stuffs dots at the same places whether its mailer definition
// sends CRLF or LF (sendmail without E=\r\n sends LF), so taking only
// CRLF would hang on such a caller and deliver its stuffing. A bare CR is
// never a line end: it is content. Data keeps its line ends as they came;
// the SMTP side sends every line end as CRLF and dot-stuffs again, so no
// bare CR or LF reaches a server as a line end. Replies always end in
// CRLF.
package lmtp
