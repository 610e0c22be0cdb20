package smtpfeed

import (
	"errors"

	"golang.org/x/sys/unix"

	"smtpfeed/reactor"
)

// localFault tells this host's failures from the remote host's. A
// failure of ours (no descriptor, no buffer, a source address this host
// does not have) says nothing of the remote host, so it must not put
// the address into the reachability cache, where it would be skipped
// for DownTime, and its recipients hear that the fault is ours. It
// returns the enhanced code (RFC 3463) the recipients get: 4.3.0 when a
// resource ran out, 4.4.0 when the local network setup is at fault.
// Everything else (refused, timed out, unreachable, reset) is the remote
// host's or the network's on its way there; so is a family this host
// cannot use (EAFNOSUPPORT, IPv6 off): skipping that address for
// DownTime sends its recipients to the host's other family, as a host
// with no IPv6 route (ENETUNREACH) does.
func localFault(err error) (enhanced string, local bool) {
	switch {
	case err == nil:
		return "", false
	case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE),
		errors.Is(err, unix.ENOBUFS), errors.Is(err, unix.ENOMEM):
		return "4.3.0", true
	case errors.Is(err, unix.EADDRNOTAVAIL), errors.Is(err, unix.EADDRINUSE), errors.Is(err, unix.EACCES),
		errors.Is(err, unix.EPERM), errors.Is(err, reactor.ErrSourceFamily):
		return "4.4.0", true
	}
	return "", false
}
