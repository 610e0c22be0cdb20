//go:build mta

package smtpfeed

import (
	"fmt"
	"testing"
)

// eximConf is the test's whole Exim configuration (%[1]s: the run
// directory, %[2]s: the remote router and %[3]s: its transport). It
// replaces Debian's split configuration as /etc/exim4/exim4.conf on a
// tmpfs in the run's mount namespace.
const eximConf = `primary_hostname = ` + mtaHost + `
qualify_domain = ` + mtaHost + `
domainlist local_domains = ` + mtaHost + ` : localhost
never_users = root
host_lookup =
rfc1413_query_timeout = 0s
log_file_path = /var/log/exim4/%%slog
spool_directory = /var/spool/exim4

begin routers

owner:
  driver = accept
  domains = +local_domains
  local_parts = owner
  transport = owner_mbox

%[2]s
begin transports

owner_mbox:
  driver = appendfile
  file = /var/mail/owner
  user = mail
  group = mail
  mode = 0666

%[3]s
begin retry

*  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h
`

const (
	eximOwnRouter = `dnslookup:
  driver = dnslookup
  domains = ! +local_domains
  transport = remote_smtp
  no_more
`
	eximOwnTransport = `remote_smtp:
  driver = smtp
`
)

// eximBody is the MTA part of the run: Exim's spool, log and
// configuration on tmpfs, submission with its sendmail command (delivery
// starts at once in the background), wait until no exim or mailer
// process is left, list the undelivered recipients.
const eximBody = `
for d in /var/spool/exim4 /var/log/exim4 /etc/exim4; do
	mount -t tmpfs -o mode=0750 tmpfs $d || die "tmpfs $d"
done
chown Debian-exim:Debian-exim /var/spool/exim4 /var/log/exim4
chmod 755 /etc/exim4
cp $D/exim4.conf /etc/exim4/exim4.conf
printf '#!/bin/sh\nexec %[2]s/smtpfeed "$@" 2>>%[1]s/smtpfeed.log\n' >$D/smtpfeed-wrap
chmod 755 $D/smtpfeed-wrap
: >$D/smtpfeed.log; chmod 666 $D/smtpfeed.log
exim4 -bV >/dev/null || die "exim4 -bV: $(exim4 -bV 2>&1 | tail -3)"
T0=$(now)
/usr/sbin/sendmail -oi -f ` + mtaSender + ` $(cat $E/rcpts) <$E/message || die "submission: $?"
waitFor '! pgrep -x "exim4|smtpfeed" >/dev/null' 180 || die "exim still delivering after 180 s"
T1=$(now)
exim4 -bpu >$D/queue.txt 2>&1
cat /var/mail/owner >$D/mailbox.txt 2>/dev/null
cp /var/log/exim4/mainlog $D/mainlog 2>/dev/null
`

func TestMTAExim(t *testing.T) {
	requireMTA(t, "exim4-daemon-light", "exim4")
	e := newMTAEnv(t)
	e.compare(t, "Exim", func(mode, dir string) string {
		router, transport := eximOwnRouter, eximOwnTransport
		if mode == "smtpfeed" {
			router, transport = eximFeedRouter, fmt.Sprintf(eximFeedTransport, dir)
		}
		mtaWrite(t, dir+"/exim4.conf", fmt.Sprintf(eximConf, dir, router, transport))
		return fmt.Sprintf(eximBody, dir, e.bin)
	})
}
