package smtp

import (
	"errors"
	"fmt"
)

// needsSevenBit reports a transaction whose message this server must get
// in 7 bit: it has 8-bit octets and the server does not offer 8BITMIME.
// An SMTPUTF8 message is left alone: its headers are 8-bit by nature,
// and a server that takes SMTPUTF8 takes 8-bit content with it (RFC 6531
// §3.1 has it offer 8BITMIME), while one that does not refuses it anyway.
func (c *Client) needsSevenBit(tx *Envelope) bool {
	return tx.Msg.EightBit && !c.ext.EightBitMIME && !tx.SMTPUTF8
}

// outgoing is tx's message as this server gets it: the 7-bit form when
// it needs one. A message that does not convert never gets this far
// (refuseLocally), so its error is not seen here.
func (c *Client) outgoing(tx *Envelope) *Message {
	if c.needsSevenBit(tx) {
		if m, err := tx.Msg.SevenBit(); err == nil {
			return m
		}
	}
	return tx.Msg
}

// refuseEightBit is the local refusal of a message this server needs in
// 7 bit and that cannot be converted: RFC 3463's 5.6.3, conversion
// required but not supported.
func (c *Client) refuseEightBit(tx *Envelope) (Reply, error) {
	if !c.needsSevenBit(tx) {
		return Reply{}, nil
	}
	_, err := tx.Msg.SevenBit()
	if err == nil {
		return Reply{}, nil
	}
	text := "5.6.3 8-bit message cannot be converted to 7 bit for a server without 8BITMIME"
	if errors.Is(err, ErrEightBitHeader) {
		text = "5.6.3 8-bit header cannot be converted to 7 bit for a server without 8BITMIME"
	}
	return Reply{Code: 554, Enhanced: EnhancedCode{5, 6, 3}, Lines: []string{text}},
		fmt.Errorf("server does not offer 8BITMIME: %w", err)
}
