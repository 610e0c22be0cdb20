// Package tlspolicy is what smtpfeed requires of a destination's TLS:
// the security levels (none, may, encrypt, dane, dane-only, secure), the
// per-domain policy file that sets them in the shape of Postfix's
// smtp_tls_policy_maps (which an MTA-STS resolver can write), and DANE's
// check of a server's certificates against its TLSA records (RFC 7672,
// RFC 6698). It does no I/O.
package tlspolicy
