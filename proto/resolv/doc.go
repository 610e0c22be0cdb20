// Package resolv is smtpfeed's DNS wire, sans I/O: it packs queries and
// classifies answers with miekg/dns, and orders MX records the way RFC 5321
// §5.1 asks. It opens no socket and reads no clock: the resolver in the root
// package does the I/O and hands bytes in.
//
// Invariants:
//   - An answer counts only when its ID, question name (case
//     insensitive), type and class match the query it claims to answer;
//     anything else is ErrMismatch and the caller keeps waiting, except a
//     response with the query's ID whose records do not parse:
//     ErrMalformed, a broken server the caller stops waiting for. (The
//     source address is the socket's business: the resolver's sockets are
//     connected, so the kernel drops datagrams from anyone else.)
//   - Nothing is preallocated from a count a peer controls, and input is
//     capped at MaxMessage bytes, so a hostile answer costs bounded memory.
//   - Additional-section addresses are kept only for names that are
//     targets of the MX records in the same answer (RFC 2181 §5.4.1 ranks
//     the section below answers; forged extras are a known attack).
//
// resolv imports nothing else of smtpfeed.
package resolv
