//go:build mta

package smtpfeed

import (
	"fmt"
	"testing"
)

// sendmailMC is the test's sendmail.mc (%[1]s: the run directory, %[2]s:
// the smtpfeed lines or nothing for sendmail's own SMTP client). The
// queue, /var/lib/sendmail and /var/mail are tmpfs in the run's mount
// namespace (sendmail refuses an alias file under the world-writable
// /tmp). The bounces go to the alias "owner", appended to
// /var/mail/owner.
const sendmailMC = "divert(-1)dnl\ndivert(0)dnl\n" +
	"include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n" +
	"OSTYPE(`debian')dnl\n" +
	"define(`confDOMAIN_NAME', `" + mtaHost + "')dnl\n" +
	"define(`ALIAS_FILE', `/var/lib/sendmail/aliases')dnl\n" +
	"undefine(`confHOST_STATUS_DIRECTORY')dnl\n" +
	"define(`confDONT_PROBE_INTERFACES', `True')dnl\n" +
	"define(`confDELIVERY_MODE', `background')dnl\n" +
	"FEATURE(`nocanonify')dnl\n" +
	"%[2]s" +
	"MAILER(`local')dnl\n" +
	"MAILER(`smtp')dnl\n"

// sendmailBody is the MTA part of the run: build the .cf, submit with
// sendmail's own command (background delivery, as a list server would)
// asking for DSN (sendmailDSN), wait until no sendmail or mailer process
// is left, list the queue.
const sendmailBody = `
mount -t tmpfs -o mode=0700 tmpfs /var/spool/mqueue || die "tmpfs mqueue"
mount -t tmpfs -o mode=0755 tmpfs /var/lib/sendmail || die "tmpfs /var/lib/sendmail"
printf '#!/bin/sh\nexec %[2]s/smtpfeed "$@" 2>>%[1]s/smtpfeed.log\n' >$D/smtpfeed-wrap
chmod 755 $D/smtpfeed-wrap
: >$D/smtpfeed.log; chmod 666 $D/smtpfeed.log
printf 'postmaster: root\nMAILER-DAEMON: postmaster\nowner: "|cat >>/var/mail/owner"\n' >/var/lib/sendmail/aliases
m4 $D/sendmail.mc >$D/sendmail.cf || die "m4 sendmail.mc"
CF=$D/sendmail.cf
sendmail -C $CF -bi || die "newaliases"
T0=$(now)
sendmail -C $CF -oi -N success,failure -R hdrs -V ` + mtaEnvID + ` -f ` + mtaSender + ` $(cat $E/rcpts) <$E/message || die "submission: $?"
waitFor '! pgrep -x "sendmail|smtpfeed" >/dev/null' 180 || die "sendmail still delivering after 180 s"
T1=$(now)
sendmail -C $CF -bp >$D/queue.txt 2>&1
cat /var/mail/owner >$D/mailbox.txt 2>/dev/null
`

// sendmailDSN is what sendmail sends on for the submission's -N
// success,failure -R hdrs -V. It sends an ORCPT only for a recipient
// that came with one, and these come on the command line; its log goes
// to no file here.
var sendmailDSN = &mtaDSN{ret: "HDRS", envID: mtaEnvID, notify: "SUCCESS,FAILURE"}

func TestMTASendmail(t *testing.T) {
	requireMTA(t, "sendmail-bin sendmail-cf m4", "sendmail", "m4", "/usr/share/sendmail/cf/m4/cf.m4")
	e := newMTAEnv(t)
	e.dsn = sendmailDSN
	e.compare(t, "sendmail", func(mode, _ string) string {
		mailer := ""
		if mode == "smtpfeed" {
			mailer = sendmailFeed
		}
		return mtaSendmailScript(t, e, mode, mailer)
	})
}

// mtaSendmailScript writes the run's sendmail.mc and returns the MTA part.
func mtaSendmailScript(t *testing.T, e *mtaEnv, mode, mailer string) string {
	t.Helper()
	dir := e.dir + "/" + mode
	if mailer != "" {
		mailer = fmt.Sprintf(mailer, dir)
	}
	mtaWrite(t, dir+"/sendmail.mc", fmt.Sprintf(sendmailMC, dir, mailer))
	return fmt.Sprintf(sendmailBody, dir, e.bin)
}
