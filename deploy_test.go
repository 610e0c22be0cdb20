package smtpfeed

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The MTA configurations that hand mail to smtpfeed, as make test-mta
// runs them (the mta_*_test.go files) and as README.md's "Deploying"
// section gives them, less the test's paths. They live here, outside the
// mta build tag, so that TestDeployConfigsInREADME holds README to them
// on every make test.
//
// The one rule behind their timeouts: the MTA must wait for smtpfeed's
// answers longer than smtpfeed can take to give them. smtpfeed answers
// every recipient within its message deadline (-t message, 50m) plus
// DefaultDeadlineGrace (5m); an MTA that gave up sooner would retry
// recipients already delivered.
const mtaHost = "mta.lists.example"

// postfixFeed hands every remote recipient to smtpfeed's LMTP listener on
// a unix socket in the queue directory (a relative path is taken from
// there, so it works chrooted too), up to 100,000 recipients in one
// delivery instead of the default 50, and waits an hour for the
// answers after the final dot (lmtp_data_done_timeout, 600s by default).
const postfixFeed = `default_transport=lmtp:unix:private/smtpfeed
lmtp_destination_recipient_limit=100000
lmtp_data_done_timeout=3600s
`

// eximFeed hands every remote recipient to smtpfeed over LMTP on its
// stdin/stdout, all of a message's recipients in one batch (batch_max;
// the transport uses no $domain, so domains batch together). timeout
// bounds each wait for a response, the first answer after the dot
// included (5m by default). command is a wrapper that appends
// smtpfeed's stderr log to smtpfeed.log.
const (
	eximFeedRouter = `smtpfeed:
  driver = accept
  domains = ! +local_domains
  transport = smtpfeed
`
	eximFeedTransport = `smtpfeed:
  driver = lmtp
  command = %[1]s/smtpfeed-wrap -c ` + mtaHost + ` -l stderr -nameserver 127.0.0.1 -t connect=2s -allow-local 127.0.0.0/8
  batch_max = 100000
  user = Debian-exim
  timeout = 1h
`
)

// sendmailFeed routes all remote mail to smtpfeed: one envelope (r=) and
// one mailer process for the whole list, LMTP on stdin/stdout (F=z, no
// $u in A=), and sendmail's wait for the answers after the final dot
// stated (Timeout.datafinal: one hour, its default). P= is a wrapper that
// appends smtpfeed's stderr log to smtpfeed.log; in production drop it
// and let smtpfeed log to syslog.
const sendmailFeed = "define(`SMART_HOST', `smtpfeed:localhost')dnl\n" +
	"define(`confTO_DATAFINAL', `1h')dnl\n" +
	"MAILER_DEFINITIONS\n" +
	"Msmtpfeed, P=%[1]s/smtpfeed-wrap, F=mDFMuXz8, S=EnvFromSMTP/HdrFromSMTP,\n" +
	"\tR=EnvToSMTP, E=\\r\\n, L=990, r=100000, T=DNS/RFC822/SMTP,\n" +
	"\tA=smtpfeed -c $j -l stderr -nameserver 127.0.0.1 -t connect=2s -allow-local 127.0.0.0/8\n"

// TestDeployConfigsInREADME: every setting the MTA tests use, less the
// lines that carry the test's paths and flags, appears in README.md's
// configuration blocks, so the documented configuration is the tested
// one (spaces around "=" aside).
func TestDeployConfigsInREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	norm := regexp.MustCompile(`\s*=\s*`)
	space := regexp.MustCompile(`\s+`)
	clean := func(s string) string {
		return space.ReplaceAllString(norm.ReplaceAllString(strings.TrimSpace(s), "="), " ")
	}
	var blocks []string
	for i, part := range strings.Split(string(readme), "```") {
		if i%2 == 1 {
			blocks = append(blocks, clean(part))
		}
	}
	inREADME := func(line string) bool {
		for _, b := range blocks {
			if strings.Contains(b, clean(line)) {
				return true
			}
		}
		return false
	}
	for name, conf := range map[string]string{"postfix": postfixFeed, "exim router": eximFeedRouter, "exim transport": eximFeedTransport, "sendmail": sendmailFeed} {
		for _, line := range strings.Split(conf, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.Contains(line, "%[1]s") || strings.HasPrefix(line, "A=") {
				continue // the test's wrapper, paths and flags
			}
			if !inREADME(line) {
				t.Errorf("%s: the tested setting %q is not in README.md's configuration", name, line)
			}
		}
	}
}
