package smtp

import "testing"

func TestVERPSender(t *testing.T) {
	tests := []struct {
		v          VERP
		from, rcpt string
		want       string
	}{
		{DefaultVERP, "list-bounces@lists.test", "user@dom.test", "list-bounces+user=dom.test@lists.test"},
		{VERP{'-', '='}, "owner-list@lists.test", "a.b@c.test", "owner-list-a.b=c.test@lists.test"},
		{DefaultVERP, "", "user@dom.test", ""}, // a bounce stays a bounce
		{DefaultVERP, "bounces", "user@dom.test", "bounces+user=dom.test"},
		// A quoted part on either side: the result is quoted as one.
		{DefaultVERP, "list@lists.test", `"odd user"@b.test`, `"list+odd user=b.test"@lists.test`},
		{DefaultVERP, `"my list"@lists.test`, "u@b.test", `"my list+u=b.test"@lists.test`},
		{DefaultVERP, "list@lists.test", `"a\"b"@c.test`, `"list+a\"b=c.test"@lists.test`},
		// The delimiter joins atoms: no quotes needed.
		{DefaultVERP, "list.@lists.test", "u@b.test", "list.+u=b.test@lists.test"},
		// A delimiter that is no atext makes the joined part need quotes.
		{VERP{' ', '='}, "list@lists.test", "u@b.test", `"list u=b.test"@lists.test`},
		{DefaultVERP, "list@lists.test", "ü@b.test", "list+ü=b.test@lists.test"}, // SMTPUTF8
	}
	for _, tt := range tests {
		if got := tt.v.Sender(tt.from, tt.rcpt); got != tt.want {
			t.Errorf("VERP%q.Sender(%q, %q) = %q, want %q", string([]byte{tt.v.Plus, tt.v.Equals}), tt.from, tt.rcpt, got, tt.want)
		}
	}
}
