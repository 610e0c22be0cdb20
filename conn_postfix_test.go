package smtpfeed

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
)

// postfixDomain is the only domain the private Postfix accepts mail for.
const postfixDomain = "postfix.test"

// postfixRefused is refused at RCPT TO by an access map, so one
// transaction carries a mixed result.
const postfixRefused = "bounce@" + postfixDomain

// postfix is a private Postfix instance: its own config, queue, data and
// mail directories under a test's temporary directory, listening on one
// loopback port. The system's instance, its config and port 25 are not
// touched.
type postfix struct {
	bin     string
	conf    string // config_directory: main.cf, master.cf
	queue   string // queue_directory
	maildir string // the one Maildir every recipient is delivered into
	maillog string
	addr    netip.AddrPort
}

// postfixMainCf is the instance's main.cf. Every setting the test depends
// on is spelled out rather than left to defaults that differ between
// Postfix versions. Two keep the delivered message as it was sent, apart
// from the trace fields: local_header_rewrite_clients empty treats
// 127.0.0.1 as the remote client it stands for here, so cleanup adds no
// Date or Message-ID; enable_original_recipient = no keeps the virtual
// agent from adding X-Original-To, which is not a trace field.
func postfixMainCf(dir string, uid, gid int) string {
	return fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.%[2]s
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
local_header_rewrite_clients =
enable_original_recipient = no
virtual_mailbox_domains = %[2]s
virtual_mailbox_base = %[1]s/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:%[3]d
virtual_gid_maps = static:%[5]d
virtual_minimum_uid = 1
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access inline:{ { %[4]s = REJECT no such user } }, permit_mynetworks, reject_unauth_destination
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
smtpd_tls_security_level = may
smtpd_tls_chain_files = %[1]s/etc/tls.pem
smtpd_tls_loglevel = 1
`, dir, postfixDomain, uid, postfixRefused, gid)
}

// startPostfix configures and starts a private Postfix, waits until its
// smtpd greets, and stops it (and every process it started) when the test
// ends.
func startPostfix(t *testing.T) *postfix {
	t.Helper()
	bin, err := exec.LookPath("postfix")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/postfix"); serr == nil {
			bin, err = "/usr/sbin/postfix", nil
		}
	}
	ci := os.Getenv("CI") == "true"
	if err != nil {
		if ci {
			t.Fatal("postfix not installed, and CI=true: .ci/run installs it (apt-get install postfix)")
		}
		t.Skip("postfix not installed (apt-get install postfix): skipping the interop test against a real Postfix smtpd")
	}
	if os.Geteuid() != 0 {
		// The master starts its daemons as root and they drop to the
		// postfix user; the virtual agent writes as the mailbox owner.
		if ci {
			t.Fatal("the Postfix interop test must run as root (postfix start), and CI=true")
		}
		t.Skip("not root: skipping the interop test against a private Postfix (postfix start needs root)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("user nobody, the owner of the test Maildir: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	dir := t.TempDir()
	// t.TempDir makes its directory and the one above it 0700; the
	// daemons run as user postfix and the virtual agent as nobody, and
	// each must reach the queue or the mailboxes.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for d := filepath.Dir(filepath.Dir(dir)); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Fatalf("%s is not searchable by others: the postfix daemons cannot reach %s below it (set TMPDIR elsewhere)", d, dir)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	pf := &postfix{
		bin:     bin,
		conf:    filepath.Join(dir, "etc"),
		queue:   filepath.Join(dir, "queue"),
		maildir: filepath.Join(dir, "mail", "box"),
		maillog: filepath.Join(dir, "maillog"),
	}
	// The queue directory itself belongs to root; postfix start (its
	// check step, as in postfix check) creates the subdirectories with the owners and modes postfix-files gives
	// them. The mailbox base belongs to the mailbox owner, as the
	// virtual agent creates the Maildir with the recipient's rights.
	for _, d := range []string{pf.conf, pf.queue, filepath.Join(dir, "mail")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "mail"), uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pf.conf, "main.cf"), []byte(postfixMainCf(dir, uid, gid)), 0o644); err != nil {
		t.Fatal(err)
	}
	// smtpd offers STARTTLS (level may) with a certificate made here:
	// key and chain in one PEM file, read by smtpd as root at start.
	if err := os.WriteFile(filepath.Join(pf.conf, "tls.pem"), postfixTLSChain(t, "mx."+postfixDomain), 0o600); err != nil {
		t.Fatal(err)
	}
	pf.addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(postfixFreePort(t)))
	master, err := postfixMasterCf(pf.addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pf.conf, "master.cf"), master, 0o644); err != nil {
		t.Fatal(err)
	}
	// Postfix reads a config file only once its mtime is a second or two
	// in the past (a guard against half-written files), sleeping 300 ms
	// at a time until it is: backdating the new files saves seconds.
	old := time.Now().Add(-time.Minute)
	for _, f := range []string{"main.cf", "master.cf"} {
		if err := os.Chtimes(filepath.Join(pf.conf, f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(pf.maillog)
			t.Logf("postfix maillog:\n%s", log)
		}
	})
	// Stop whatever started, even if the start is reported failed.
	t.Cleanup(func() { pf.stop(t) })
	if out, err := pf.run("start"); err != nil {
		t.Fatalf("postfix start: %v\n%s", err, out)
	}
	pf.waitGreeting(t, 10*time.Second)
	return pf
}

// postfixTLSChain is a PEM file of a new key and its self-signed
// certificate for name, as smtpd_tls_chain_files takes it.
func postfixTLSChain(t *testing.T, name string) []byte {
	t.Helper()
	c, err := sim.SelfSigned(name)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	return b.Bytes()
}

// postfixMasterCf is Debian's master.cf with two changes: the public
// smtpd listens on addr instead of port 25, and no service is chrooted,
// since a chroot would be the private queue directory, which holds none
// of the files (resolv.conf, services, libraries) Debian copies into
// /var/spool/postfix for its own instance.
func postfixMasterCf(addr netip.AddrPort) ([]byte, error) {
	orig, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	replaced := false
	for _, line := range strings.SplitAfter(string(orig), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || strings.HasPrefix(line, "#") || masterCfContinued(line[0]) {
			out.WriteString(line)
			continue
		}
		// service type private unpriv chroot wakeup maxproc command...
		if f[0] == "smtp" && f[1] == "inet" {
			f[0] = addr.String()
			replaced = true
		}
		f[4] = "n"
		out.WriteString(strings.Join(f, " ") + "\n")
	}
	if !replaced {
		return nil, errors.New("/etc/postfix/master.cf has no smtp inet service to replace")
	}
	return out.Bytes(), nil
}

// masterCfContinued reports a line starting with white space: the
// continuation of the entry above it.
func masterCfContinued(b byte) bool { return b == ' ' || b == '\t' }

// postfixFreePort is a loopback TCP port nobody listens on just now.
func postfixFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run runs the postfix command on this instance. Output goes to a file,
// not a pipe: the master it starts would hold a pipe open.
func (pf *postfix) run(args ...string) ([]byte, error) {
	out, err := os.CreateTemp("", "postfix-cmd")
	if err != nil {
		return nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command(pf.bin, append([]string{"-c", pf.conf}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, out, out
	err = cmd.Run()
	b, _ := os.ReadFile(out.Name())
	return b, err
}

// waitGreeting polls the smtpd port until it answers 220, or fails the
// test after limit.
func (pf *postfix) waitGreeting(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", pf.addr.String(), time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			if rerr == nil && strings.HasPrefix(line, "220 ") {
				fmt.Fprintf(c, "QUIT\r\n")
				c.Close()
				return
			}
			c.Close()
			err = fmt.Errorf("greeting %q: %v", line, rerr)
		}
		last = err
		time.Sleep(20 * time.Millisecond) // waiting for an external process to come up
	}
	t.Fatalf("postfix smtpd on %v did not greet within %v: %v", pf.addr, limit, last)
}

// masterPID is the master daemon's process ID, from its pid file.
func (pf *postfix) masterPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(pf.queue, "pid", "master.pid"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// stop ends the master and every daemon it started. postfix abort sends
// the master SIGTERM, which it passes on to its process group (it made
// itself a session leader) before exiting; unlike postfix stop it does
// not sleep a second between checks.
func (pf *postfix) stop(t *testing.T) {
	pid, err := pf.masterPID()
	if os.IsNotExist(err) {
		return // no master was started
	}
	if err != nil {
		t.Errorf("postfix master pid: %v", err)
		return
	}
	pgid, err := unix.Getpgid(pid)
	if err != nil || pgid != pid {
		t.Errorf("postfix master %d: process group %d, %v: want its own group", pid, pgid, err)
		pgid = 0
	}
	if out, err := pf.run("abort"); err != nil {
		t.Errorf("postfix abort: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for running(pid) || (pgid != 0 && groupRunning(pgid)) {
		if time.Now().After(deadline) {
			t.Errorf("postfix master %d or its daemons still running 10s after abort: killing them", pid)
			unix.Kill(pid, unix.SIGKILL)
			if pgid != 0 {
				unix.Kill(-pgid, unix.SIGKILL)
			}
			return
		}
		time.Sleep(10 * time.Millisecond) // waiting for external processes to exit
	}
}

// running reports whether pid is a live process: one that exists and is
// not a zombie waiting for an init that may never reap it.
func running(pid int) bool {
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !os.IsNotExist(err) // without /proc, trust kill
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// groupRunning reports whether any live process is in process group pgid.
func groupRunning(pgid int) bool {
	if err := unix.Kill(-pgid, 0); errors.Is(err, unix.ESRCH) {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true // without /proc, trust kill
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := unix.Getpgid(pid); err == nil && g == pgid && running(pid) {
			return true
		}
	}
	return false
}

// queueEmpty reports that Postfix holds no message in any queue: every
// delivery it will make has been made.
func (pf *postfix) queueEmpty() bool {
	for _, q := range []string{"maildrop", "incoming", "active", "deferred", "hold"} {
		empty := true
		filepath.WalkDir(filepath.Join(pf.queue, q), func(_ string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				empty = false
			}
			return nil
		})
		if !empty {
			return false
		}
	}
	return true
}

// delivered lists the complete messages in the Maildir: the virtual agent
// writes into tmp/ and renames into new/.
func (pf *postfix) delivered() []string {
	ents, _ := os.ReadDir(filepath.Join(pf.maildir, "new"))
	var files []string
	for _, e := range ents {
		files = append(files, filepath.Join(pf.maildir, "new", e.Name()))
	}
	return files
}

// stripTrace removes the trace header fields Postfix puts at the top of
// a delivered message (Return-Path, Delivered-To, Received, each possibly
// folded), and returns them by lowercased name along with the rest.
func stripTrace(msg []byte) (map[string][]string, []byte) {
	trace := map[string][]string{}
	for {
		name, _, ok := bytes.Cut(msg, []byte(":"))
		key := strings.ToLower(string(name))
		if !ok || (key != "return-path" && key != "delivered-to" && key != "received") {
			return trace, msg
		}
		// The field ends at the first line end not followed by folding
		// white space.
		end := 0
		for {
			i := bytes.IndexByte(msg[end:], '\n')
			if i < 0 {
				return trace, msg
			}
			end += i + 1
			if end >= len(msg) || (msg[end] != ' ' && msg[end] != '\t') {
				break
			}
		}
		value := strings.TrimSpace(string(msg[len(name)+1 : end]))
		trace[key] = append(trace[key], value)
		msg = msg[end:]
	}
}

// TestConnPostfixInterop delivers one message through the reactor to a
// real Postfix smtpd (Debian's) accepting for postfix.test, with one
// recipient refused at RCPT, inside TLS (smtpd_tls_security_level =
// may), and checks what Postfix put in the Maildir and that its log
// saw the session encrypted.
func TestConnPostfixInterop(t *testing.T) {
	start := time.Now()
	pf := startPostfix(t)
	t.Logf("postfix up on %v in %v", pf.addr, time.Since(start).Round(time.Millisecond))

	loop := newLoop(t, nil)
	raw := testMessage(300 << 10)
	addrs := []string{
		"alice@" + postfixDomain,
		"bob@" + postfixDomain,
		postfixRefused,
		"carol@" + postfixDomain,
		"dave@" + postfixDomain,
	}
	tx := listTx(raw, addrs...)
	run := &connRun{}
	c, err := DialSMTP(loop, "mx."+postfixDomain, pf.addr, tlsConnConfig(t, loop, &tls.Config{InsecureSkipVerify: true, ServerName: "mx." + postfixDomain}), run.handlers(true))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(tx)
	stepUntil(t, loop, func() bool { return run.closed }, 30*time.Second)
	if run.err != nil {
		t.Fatalf("session ended with %v, want a clean QUIT", run.err)
	}
	if !c.Extensions().Pipelining {
		t.Error("Postfix did not advertise PIPELINING")
	}
	st := c.TLS()
	if st == nil {
		t.Fatal("the session with Postfix ran in plaintext; want STARTTLS")
	}
	if len(run.results) != len(addrs) {
		t.Fatalf("%d results for %d recipients: %v", len(run.results), len(addrs), run.results)
	}
	accepted := map[string]bool{}
	for _, r := range run.results {
		a := tx.Rcpts[r.Rcpt].Addr
		if a == postfixRefused {
			// Postfix's own text for an access map REJECT.
			if r.Status != smtp.Bounced || r.Reply.Class() != 5 || !strings.Contains(r.Reply.Text(), "Recipient address rejected: no such user") {
				t.Errorf("%v, want bounced with Postfix's 5xx recipient rejection", r)
			}
			continue
		}
		if r.Status != smtp.Delivered || r.Reply.Code != 250 {
			t.Errorf("%v, want delivered with 250", r)
		}
		accepted[a] = true
	}

	// Postfix delivers after it has answered the final dot: wait until
	// its queue is empty and the Maildir holds a file per recipient.
	deadline := time.Now().Add(20 * time.Second)
	for !pf.queueEmpty() || len(pf.delivered()) < len(accepted) {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: queue empty %v, %d of %d messages in %s/new", pf.queueEmpty(), len(pf.delivered()), len(accepted), pf.maildir)
		}
		time.Sleep(20 * time.Millisecond) // waiting for an external process to deliver
	}
	files := pf.delivered()
	if len(files) != len(accepted) {
		t.Errorf("%d messages in the Maildir, want one per accepted recipient (%d)", len(files), len(accepted))
	}
	seen := map[string]int{}
	for _, f := range files {
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The comparison: Maildir stores lines ending in LF, and the MTA
		// prepends trace fields by design (Return-Path and Delivered-To
		// from the virtual agent, Received from smtpd). Removing exactly
		// those, from the top only, and turning LF back into CRLF must
		// give back every byte handed to Conn.
		trace, body := stripTrace(got)
		if rp := trace["return-path"]; len(rp) != 1 || rp[0] != "<"+tx.From+">" {
			t.Errorf("%s: Return-Path %q, want <%s>", f, rp, tx.From)
		}
		if len(trace["received"]) != 1 || !strings.Contains(trace["received"][0], "(Postfix)") {
			t.Errorf("%s: Received %q, want one from Postfix's smtpd", f, trace["received"])
		}
		dt := trace["delivered-to"]
		if len(dt) != 1 {
			t.Errorf("%s: Delivered-To %q, want one", f, dt)
			continue
		}
		seen[dt[0]]++
		if bytes.IndexByte(body, '\r') >= 0 {
			t.Errorf("%s: a CR in the Maildir file, want LF line ends only", f)
		}
		if crlf := bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n")); !bytes.Equal(crlf, raw) {
			i := 0
			for i < len(crlf) && i < len(raw) && crlf[i] == raw[i] {
				i++
			}
			t.Errorf("%s: message differs from what was handed in (%d vs %d bytes), first at byte %d: %q",
				f, len(crlf), len(raw), i, crlf[i:min(i+60, len(crlf))])
		}
	}
	for a := range accepted {
		if seen[a] != 1 {
			t.Errorf("%s: %d copies in the Maildir, want 1", a, seen[a])
		}
	}
	for a, n := range seen {
		if !accepted[a] {
			t.Errorf("%s: %d copies in the Maildir for a recipient not accepted", a, n)
		}
	}
	// smtpd_tls_loglevel 1: "Anonymous TLS connection established from
	// localhost[127.0.0.1]: TLSv1.3 with cipher ...".
	log, _ := os.ReadFile(pf.maillog)
	want := "TLS connection established from localhost[127.0.0.1]: " + versionName(st.Version) + " with cipher " + tls.CipherSuiteName(st.CipherSuite)
	if !bytes.Contains(log, []byte(want)) {
		t.Errorf("Postfix's log does not say %q", want)
	}
	t.Logf("%d recipients, %d delivered into the Maildir, %d bytes each, in %v", len(addrs), len(files), len(raw), time.Since(start).Round(time.Millisecond))
}
