package resolv

import "encoding/binary"

// AppendTCP appends msg to b framed for TCP: its length in two octets,
// then the message (RFC 1035 §4.2.2, RFC 7766).
func AppendTCP(b, msg []byte) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(msg))), msg...)
}

// TCPLength reports the length of the message a TCP stream announces in
// its first two octets; false until both are in.
func TCPLength(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	return int(binary.BigEndian.Uint16(b)), true
}
