package smtpfeed

import (
	"fmt"
	"testing"
)

// TestStatsTransactions: the summary's transactions= counts SMTP
// transactions (MAIL sent), as simnet counts them, not the envelopes the
// engine hands to connections: 250 recipients at one host are one
// envelope and three transactions of at most 100.
func TestStatsTransactions(t *testing.T) {
	z := newZoneRun(t, []string{"one.test. MX 10 mx.one.test.", "mx.one.test. A 127.0.0.1"}, nil)
	rcpts := make([]string, 250)
	for i := range rcpts {
		rcpts[i] = fmt.Sprintf("u%d@one.test", i)
	}
	for i, o := range z.deliver(t, rcpts...) {
		if o.Code != 250 {
			t.Fatalf("%s: %v, want delivered", rcpts[i], o)
		}
	}
	if s := z.e.Stats(); s.Envelopes != 1 || s.Transactions != 3 {
		t.Errorf("envelopes %d, transactions %d; want 1 and 3", s.Envelopes, s.Transactions)
	}
}
