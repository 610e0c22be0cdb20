//go:build mta

package smtpfeed

import (
	"fmt"
	"testing"
)

// postfixMain is the test's main.cf, set with postconf -e on a copy of
// the package's /etc/postfix bind-mounted over it (%[1]s: the run
// directory). The queue and data directories are tmpfs in the run's mount
// namespace, no service is chrooted (postconf -F '*/*/chroot = n'), and the
// log goes to a file through postlogd. Bounces go to the alias "owner",
// appended to /var/mail/owner.
const postfixMain = `compatibility_level=3.6
myhostname=` + mtaHost + `
mydomain=lists.example
myorigin=$myhostname
mydestination=$myhostname, localhost
inet_interfaces=loopback-only
inet_protocols=ipv4
alias_maps=hash:/etc/postfix/aliases
alias_database=hash:/etc/postfix/aliases
local_recipient_maps=
biff=no
maillog_file=%[1]s/maillog
maillog_file_prefixes=/var, /tmp
smtp_connect_timeout=2s
`

// postfixBody is the MTA part of the run: the configuration, the spool
// on tmpfs, smtpfeed listening as user postfix (in production, a service
// of its own), Postfix started, submission with its sendmail command
// asking for DSN (postfixDSN), a wait until the queue holds only the
// deferred message and the bounce has been delivered.
const postfixBody = `
mount -t tmpfs -o mode=0755 tmpfs /var/spool/postfix || die "tmpfs spool"
mount -t tmpfs -o mode=0755 tmpfs /var/lib/postfix || die "tmpfs /var/lib/postfix"
chown postfix:postfix /var/lib/postfix
rm -rf $D/etc-postfix; cp -a /etc/postfix $D/etc-postfix
mount --bind $D/etc-postfix /etc/postfix || die "bind /etc/postfix"
: >/etc/postfix/main.cf
while read -r l; do [ -n "$l" ] && postconf -e "$l"; done <$D/main.cf.lines
postconf -F '*/*/chroot = n'
printf 'postmaster: root\nowner: /var/mail/owner\n' >/etc/postfix/aliases
postalias /etc/postfix/aliases || die postalias
postfix check >$D/postfix-check.log 2>&1 || die "postfix check: $(cat $D/postfix-check.log)"
if [ %[3]s = smtpfeed ]; then
	mkdir -p /var/spool/postfix/private; chown postfix /var/spool/postfix/private
	setpriv --reuid=postfix --regid=postfix --init-groups \
		%[2]s/smtpfeed -L unix:/var/spool/postfix/private/smtpfeed -sessions 20 \
		-c ` + mtaHost + ` -l stderr -nameserver 127.0.0.1 -t connect=2s -allow-local 127.0.0.0/8 2>>$D/smtpfeed.log &
	waitFor '[ -S /var/spool/postfix/private/smtpfeed ]' 30 || die "smtpfeed -L: no socket: $(cat $D/smtpfeed.log)"
fi
postfix start >$D/postfix-start.log 2>&1 || die "postfix start: $(cat $D/postfix-start.log)"
waitFor '[ -S /var/spool/postfix/public/pickup ]' 30 || die "postfix: no pickup socket"
T0=$(now)
sendmail -oi -N success,failure,delay -R full -V ` + mtaEnvID + ` -f ` + mtaSender + ` $(cat $E/rcpts) <$E/message || die "submission: $?"
# Settled: the only message left is deferred, and the bounce is delivered.
settled() {
	local q; q=$(postqueue -j 2>/dev/null)
	[ -n "$q" ] && ! printf '%%s\n' "$q" | grep -qv '"queue_name": *"deferred"' && [ -s /var/mail/owner ]
}
waitFor settled 180 || echo "postfix: not settled after 180 s"
T1=$(now)
postqueue -p >$D/queue.txt 2>&1
cat /var/mail/owner >$D/mailbox.txt 2>/dev/null
postfix stop >/dev/null 2>&1
`

// postfixDSN is what Postfix sends on for the submission's -N
// success,failure,delay -R full -V (FAILURE: the test looks for the
// bounces in the sender's mailbox), and its log (maillog_file).
var postfixDSN = &mtaDSN{ret: "FULL", envID: mtaEnvID, notify: "SUCCESS,FAILURE,DELAY", orcpt: true, mtaLog: "maillog"}

func TestMTAPostfix(t *testing.T) {
	requireMTA(t, "postfix", "postfix", "postconf", "postqueue", "setpriv")
	e := newMTAEnv(t)
	e.dsn = postfixDSN
	e.compare(t, "Postfix", func(mode, dir string) string {
		lines := fmt.Sprintf(postfixMain, dir)
		if mode == "smtpfeed" {
			lines += postfixFeed
		}
		mtaWrite(t, dir+"/main.cf.lines", lines)
		return fmt.Sprintf(postfixBody, dir, e.bin, mode)
	})
}
