//go:build mta

package smtpfeed

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// mtaDSN is what a test's submission asks of DSN (RFC 3461), as the MTA
// sends it on: a host offering DSN must get it in both runs, from the
// MTA's own SMTP client and from smtpfeed, which had it from the MTA
// over LMTP.
type mtaDSN struct {
	ret, envID, notify string // RET=, ENVID=, NOTIFY= as the MTA sends them
	// orcpt: the MTA sends an ORCPT for every recipient (Postfix, the
	// original recipient). Either way, smtpfeed must pass on the ORCPT
	// the MTA's own client sends for that recipient, or none.
	orcpt bool
	// mtaLog is the MTA's log file in the run directory, which must show
	// the relayed-no-DSN answers; "" when the run keeps none.
	mtaLog string
}

// mtaEnvID is the ENVID the submissions give: plain xtext, which
// sendmail takes as it is and Postfix sends unchanged.
const mtaEnvID = "smtpfeed-mta-test-42"

// dsnParams picks DSN's parameters out of MAIL or RCPT parameters as
// simnet recorded them.
func dsnParams(params string) map[string]string {
	m := map[string]string{}
	for _, p := range strings.Fields(params) {
		k, v, _ := strings.Cut(p, "=")
		switch k = strings.ToUpper(k); k {
		case "RET", "ENVID", "NOTIFY", "ORCPT":
			m[k] = v
		}
	}
	return m
}

// relayedNoDSN finds smtpfeed's log lines for recipients delivered to a
// host without DSN whose NOTIFY asked for SUCCESS.
var relayedNoDSN = regexp.MustCompile(`to=<([^>]*)>.*dsn=2\.1\.5, stat=Sent relayed-no-DSN \(250 relayed to [^ ]+, which does not offer DSN: no success notice will come`)

// checkDSN: in both runs every delivery to a host offering DSN carried
// the submission's RET, ENVID and NOTIFY (and an ORCPT if the MTA sends
// one), and every delivery to another host none of them; the ORCPT
// smtpfeed passed on is the one the MTA's own client sends for that
// recipient. Via smtpfeed, exactly
// the recipients delivered to hosts without DSN are answered and logged
// relayed-no-DSN (the submission's NOTIFY includes SUCCESS).
func (e *mtaEnv) checkDSN(t *testing.T, feed, own *mtaRun) {
	t.Helper()
	want := e.dsn
	ownORcpt := map[string]string{}
	for _, r := range []*mtaRun{own, feed} {
		var with, bad []string
		without := map[string]bool{}
		for _, d := range r.report.Deliveries {
			rcpt := strings.ToLower(d.Rcpt)
			m, rp := dsnParams(d.MailParams), dsnParams(d.RcptParams)
			if !e.world.dsnHosts[d.Host] {
				without[rcpt] = true
				if len(m)+len(rp) > 0 {
					bad = append(bad, fmt.Sprintf("%s at %s, which has no DSN: MAIL %q RCPT %q", d.Rcpt, d.Host, d.MailParams, d.RcptParams))
				}
				continue
			}
			if len(with) == 0 {
				t.Logf("%s: %s at %s got MAIL %q RCPT %q", r.name, d.Rcpt, d.Host, d.MailParams, d.RcptParams)
			}
			with = append(with, rcpt)
			if r == own {
				ownORcpt[rcpt] = rp["ORCPT"]
			}
			orcptOK := (rp["ORCPT"] != "" || !want.orcpt) && (r == own || rp["ORCPT"] == ownORcpt[rcpt])
			if m["RET"] != want.ret || m["ENVID"] != want.envID || rp["NOTIFY"] != want.notify || !orcptOK {
				bad = append(bad, fmt.Sprintf("%s at %s: MAIL %q RCPT %q (own client's ORCPT %q)", d.Rcpt, d.Host, d.MailParams, d.RcptParams, ownORcpt[rcpt]))
			}
		}
		if len(with) == 0 || len(without) == 0 {
			t.Errorf("%s: %d deliveries to hosts with DSN and %d without, want some of each", r.name, len(with), len(without))
		}
		if len(bad) > 0 {
			t.Errorf("%s: %d deliveries with wrong DSN parameters (want RET=%s ENVID=%s NOTIFY=%s and the own client's ORCPT at hosts with DSN, none elsewhere), e.g.\n%s",
				r.name, len(bad), want.ret, want.envID, want.notify, strings.Join(mtaFirst(bad, 5), "\n"))
		}
		if r != feed {
			continue
		}
		log := mtaRead(r.dir + "/smtpfeed.log")
		marked := map[string]bool{}
		for _, m := range relayedNoDSN.FindAllStringSubmatch(log, -1) {
			marked[strings.ToLower(m[1])] = true
		}
		var unmarked, extra []string
		for a := range without {
			if !marked[a] {
				unmarked = append(unmarked, a)
			}
		}
		for a := range marked {
			if !without[a] {
				extra = append(extra, a)
			}
		}
		if len(unmarked) > 0 || len(extra) > 0 {
			t.Errorf("%s: of %d recipients delivered to hosts without DSN, %d not logged relayed-no-DSN (e.g. %v); %d others logged so (e.g. %v)\nlog:\n%s",
				r.name, len(without), len(unmarked), mtaFirst(unmarked, 3), len(extra), mtaFirst(extra, 3), mtaTail(log, 10))
		}
		t.Logf("%s: %d recipients relayed to hosts without DSN, e.g. %s", r.name, len(marked), mtaFirstLine(log, "relayed-no-DSN"))
		if want.mtaLog != "" {
			mlog := mtaRead(r.dir + "/" + want.mtaLog)
			if n := strings.Count(mlog, "which does not offer DSN: no success notice will come"); n != len(without) {
				t.Errorf("%s: %s shows %d relayed-no-DSN answers, want %d", r.name, want.mtaLog, n, len(without))
			}
			t.Logf("%s: %s: %s", r.name, want.mtaLog, strings.TrimSpace(mtaFirstLine(mlog, "which does not offer DSN")))
		}
	}
}
