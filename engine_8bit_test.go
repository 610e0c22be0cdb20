package smtpfeed

import "testing"

// TestDeliveryCarriesBody8Bit: the caller's BODY=8BITMIME reaches the
// message the SMTP client sends, with or without an 8-bit octet in it.
func TestDeliveryCarriesBody8Bit(t *testing.T) {
	for _, tc := range []struct {
		data     string
		declared bool
	}{
		{"Subject: x\r\n\r\nascii\r\n", true},
		{"Subject: x\r\n\r\nascii\r\n", false},
		{"Subject: x\r\n\r\ncaf\xc3\xa9\r\n", false},
	} {
		j := newDelivery(&Engine{}, 1, &Message{Rcpts: []string{"a@b.test"}, Data: []byte(tc.data), EightBit: tc.declared}, nil, nil)
		if j.msg.Declared8Bit != tc.declared {
			t.Errorf("EightBit %v: smtp.Message.Declared8Bit = %v", tc.declared, j.msg.Declared8Bit)
		}
	}
}
