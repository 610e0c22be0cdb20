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
// # DSN
//
// LHLO advertises DSN (RFC 3461) besides PIPELINING, ENHANCEDSTATUSCODES,
// 8BITMIME, SIZE and SMTPUTF8. MAIL takes RET and ENVID, RCPT takes
// NOTIFY and ORCPT, each checked strictly: xtext as §4 defines it (for an
// ORCPT of type utf-8, RFC 6533's forms), NEVER alone, no keyword twice,
// ENVID at most MaxEnvID and ORCPT at most MaxORcpt characters. A bad
// value, or a parameter given twice, gets 501 5.5.4 saying which. The
// values are kept as the caller sent them, xtext still encoded and
// keywords upper-cased, and handed out with the Message (Ret, EnvID,
// DSN) for the SMTP side to send on unchanged to servers that offer
// DSN. A command line may be MaxCommandLine long to make room for them.
//
// Advertising DSN tells the caller that notices are the next hop's
// business from here: sendmail and Postfix then send no "relayed" notice
// of their own for a recipient we answer 250. A next hop that offers DSN
// gets the parameters and keeps that promise. For one that does not,
// RFC 3461 §4.3 asks the relaying MTA to send the "relayed" notice a
// NOTIFY=SUCCESS asks for; smtpfeed keeps no queue and sends no mail of
// its own, so it cannot. That recipient's answer is still 250 (the next
// hop took the message), with a text saying no success notice will
// come, and the log marks it (the engine's side, in the root package).
// Failures and delays need nothing of the kind: they come back to the
// caller as replies, and it sends their notices itself. The trade is
// deliberate: without DSN advertised the caller keeps NOTIFY, ORCPT,
// ENVID and RET to itself, and every hop after us that honours them
// (NOTIFY=NEVER included) never sees them.
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
