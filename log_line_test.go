package smtpfeed

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"smtpfeed/proto/smtp"
)

// TestRecipientLogLine: the recipient line, appended by hand, reads as
// the sendmail-like format it stands for, whatever the outcome; and a
// line is not disturbed by the one before it (the buffer is reused).
func TestRecipientLogLine(t *testing.T) {
	format := func(r RcptLog) string {
		stat := map[smtp.Status]string{smtp.Delivered: "Sent", smtp.Deferred: "Deferred", smtp.Bounced: "Bounced"}[r.Outcome.Status]
		if r.Outcome.Status == smtp.Delivered && r.Outcome.RelayedNoDSN {
			stat = "Sent relayed-no-DSN"
		}
		relay, via, dup := r.Relay, "", ""
		if relay == "" {
			relay = "none"
		}
		if r.Outcome.TLS != "" {
			via = ", tls=" + r.Outcome.TLS + ", verified=" + r.Outcome.Verified
		}
		if r.Outcome.PossibleDuplicate {
			dup = ", possible duplicate"
		}
		s := int(r.Delay.Round(time.Second).Seconds())
		return fmt.Sprintf("%s: to=<%s>, delay=%02d:%02d:%02d, relay=%s%s, dsn=%s, stat=%s (%d %s)%s\n",
			r.ID, r.To, s/3600, s/60%60, s%60, relay, via, r.Outcome.Enhanced, stat, r.Outcome.Code, r.Outcome.Text, dup)
	}
	cases := []RcptLog{
		{ID: "m000001", To: "a@b.test", Relay: "mx.b.test[192.0.2.1]", Delay: 1500 * time.Millisecond,
			Outcome: Outcome{Status: smtp.Delivered, Code: 250, Enhanced: "2.0.0", Text: "delivered to mx.b.test[192.0.2.1]: Ok", TLS: "TLSv1.3", Verified: "untrusted"}},
		{ID: "m000002", To: "c@d.test", Delay: 49*time.Hour + 59*time.Minute + 59*time.Second,
			Outcome: Outcome{Status: smtp.Deferred, Code: 451, Enhanced: "4.4.3", Text: "no answer for d.test/MX"}},
		{ID: "m000003", To: "e@f.test", Relay: "mx.f.test[2001:db8::1]",
			Outcome: Outcome{Status: smtp.Bounced, Code: 550, Enhanced: "5.1.1", Text: "no such user", PossibleDuplicate: true}},
		{ID: "m4", To: "g@h.test", Relay: "r[192.0.2.9]", Delay: 9 * time.Minute,
			Outcome: Outcome{Status: smtp.Delivered, Code: 250, Enhanced: "2.1.5", Text: "relayed", RelayedNoDSN: true}},
	}
	var out bytes.Buffer
	l := NewTextLogger(&out)
	for _, c := range cases {
		out.Reset()
		l.Recipient(c)
		if got, want := out.String(), format(c); got != want {
			t.Errorf("line\n got %q\nwant %q", got, want)
		}
	}
	var zero bytes.Buffer
	TextLogger{W: &zero}.Recipient(cases[0]) // without NewTextLogger's buffer
	if got, want := zero.String(), format(cases[0]); got != want {
		t.Errorf("zero TextLogger's line\n got %q\nwant %q", got, want)
	}
}
