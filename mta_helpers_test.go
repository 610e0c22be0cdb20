//go:build mta

// The MTA integration tests: a real sendmail, Exim or Postfix
// takes a message for a list of recipients from its own sendmail command,
// hands it to smtpfeed, and smtpfeed delivers into simnet. Each run happens
// in network, mount and PID namespaces of its own (unshare --kill-child),
// so the MTA, simnet and smtpfeed use port 25, port 53 and the spool
// directories with their defaults and all die with the run. Only one MTA
// package can be installed at a time on Debian, so the tests sit behind the
// "mta" build tag and .ci/run installs each MTA before running its test:
//
//	make test-mta MTA_RUN=Sendmail
package smtpfeed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// mtaWorldFlags describe the world every MTA test delivers to: 1,000
// recipients (250 domains of 4 users) on 150 hosts 10 ms away, 20 of them
// deferred (450 4.2.0 at RCPT) and 20 bounced (550 5.1.1 at RCPT); half
// the hosts offer DSN and record the DSN parameters they get. Dead
// hosts, unanswered names and the DNS kinds whose outcome depends on the
// client's policy (null MX, NXDOMAIN, CNAME, which sendmail rewrites) are
// left out, so every recipient's fate is one of the three and a run takes
// seconds, not connect timeouts.
var mtaWorldFlags = []string{
	"-seed", "1", "-domains", "250", "-users", "4", "-hosts", "150", "-rtt", "10ms",
	"-defer-rcpts", "20", "-bounce-rcpts", "20",
	"-dead-hosts", "0", "-dead-first", "0", "-refuse-hosts", "0", "-silent", "0",
	"-nxdomain", "0", "-null-mx", "0", "-cname", "0", "-dsn", "0.5",
}

// The list's envelope sender: a local mailbox on the MTA's host, where the
// bounces (DSNs) arrive. (mtaHost is in deploy_test.go.)
const (
	mtaSender   = "owner@" + mtaHost
	mtaListAddr = "list@" + mtaHost
)

// mtaRunTimeout bounds one run (namespace setup, simnet, MTA, delivery).
const mtaRunTimeout = 4 * time.Minute

// mtaEnv is what one MTA test shares between its runs.
type mtaEnv struct {
	dir   string // world-readable: the MTAs' mailers run as other users
	bin   string // simnet, smtpfeed
	world mtaWorld
	// dsn, when set, is what the submission asks of DSN, checked in
	// both runs (checkDSN).
	dsn *mtaDSN
}

// mtaWorld is the recipient list and the expected fate of each.
type mtaWorld struct {
	rcpts                      []string
	deliver, deferred, bounced []string
	dsnHosts                   map[string]bool // the hosts offering DSN, by name
}

// requireMTA fails the test when CI=true and one of the programs is
// missing (.ci/run installs them), and skips it otherwise.
func requireMTA(t *testing.T, pkg string, progs ...string) {
	t.Helper()
	var missing []string
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			if _, err := os.Stat(p); err != nil {
				missing = append(missing, p)
			}
		}
	}
	for _, p := range []string{"unshare", "ip", "mount"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	ci := os.Getenv("CI") == "true"
	switch {
	case len(missing) > 0 && ci:
		t.Fatalf("%s missing and CI=true: .ci/run installs %s before make test-mta", strings.Join(missing, ", "), pkg)
	case len(missing) > 0:
		t.Skipf("%s not installed (%s missing): apt-get install %s, then make test-mta", pkg, strings.Join(missing, ", "), pkg)
	case os.Geteuid() != 0 && ci:
		t.Fatalf("the %s test must run as root (namespaces, port 25), and CI=true", pkg)
	case os.Geteuid() != 0:
		t.Skipf("the %s test needs root (namespaces, port 25)", pkg)
	}
}

var (
	mtaToolsOnce sync.Once
	mtaToolsDir  string
	mtaToolsErr  error
)

// mtaTools builds simnet and smtpfeed once per test binary.
func mtaTools(t *testing.T) string {
	t.Helper()
	mtaToolsOnce.Do(func() {
		mtaToolsDir, mtaToolsErr = os.MkdirTemp("", "smtpfeed-mta-bin")
		if mtaToolsErr != nil {
			return
		}
		for _, p := range []string{"simnet", "smtpfeed"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(mtaToolsDir, p), "./cmd/"+p).CombinedOutput()
			if err != nil {
				mtaToolsErr = fmt.Errorf("go build ./cmd/%s: %v\n%s", p, err, out)
				return
			}
		}
		mtaToolsErr = os.Chmod(mtaToolsDir, 0o755)
	})
	if mtaToolsErr != nil {
		t.Fatal(mtaToolsErr)
	}
	return mtaToolsDir
}

// newMTAEnv builds the tools, generates the world and reads the expected
// outcome of every recipient.
func newMTAEnv(t *testing.T) *mtaEnv {
	t.Helper()
	e := &mtaEnv{dir: t.TempDir(), bin: mtaTools(t)}
	// The MTAs run mailers and local deliveries as unprivileged users.
	for _, d := range []string{filepath.Dir(e.dir), e.dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	wf := filepath.Join(e.dir, "world.json")
	args := append(slices.Clone(mtaWorldFlags), "-gen-only", "-world", wf)
	if out, err := exec.Command(filepath.Join(e.bin, "simnet"), args...).CombinedOutput(); err != nil {
		t.Fatalf("simnet -gen-only: %v\n%s", err, out)
	}
	b, err := os.ReadFile(wf)
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Recipients []struct {
			Addr   string      `json:"addr"`
			Expect sim.Outcome `json:"expect"`
		} `json:"recipients"`
		Hosts []struct {
			Name string `json:"name"`
			DSN  bool   `json:"dsn"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatalf("world.json: %v", err)
	}
	e.world.dsnHosts = map[string]bool{}
	for _, h := range w.Hosts {
		if h.DSN {
			e.world.dsnHosts[h.Name] = true
		}
	}
	if len(e.world.dsnHosts) == 0 || len(e.world.dsnHosts) == len(w.Hosts) {
		t.Fatalf("world: %d of %d hosts offer DSN, want some but not all", len(e.world.dsnHosts), len(w.Hosts))
	}
	for _, r := range w.Recipients {
		e.world.rcpts = append(e.world.rcpts, r.Addr)
		switch r.Expect {
		case sim.Delivered:
			e.world.deliver = append(e.world.deliver, r.Addr)
		case sim.Deferred:
			e.world.deferred = append(e.world.deferred, r.Addr)
		case sim.Bounced:
			e.world.bounced = append(e.world.bounced, r.Addr)
		default:
			t.Fatalf("world: recipient %s expects %q", r.Addr, r.Expect)
		}
	}
	if len(e.world.rcpts) != 1000 || len(e.world.deferred) == 0 || len(e.world.bounced) == 0 {
		t.Fatalf("world: %d recipients, %d deferred, %d bounced: want 1000 with some of each",
			len(e.world.rcpts), len(e.world.deferred), len(e.world.bounced))
	}
	if err := os.WriteFile(filepath.Join(e.dir, "rcpts"), []byte(strings.Join(e.world.rcpts, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	msg := "From: List Owner <" + mtaSender + ">\nTo: The List <" + mtaListAddr + ">\n" +
		"Subject: one message, 1000 recipients\n\nHello, list.\n.leading dot survives\n"
	if err := os.WriteFile(filepath.Join(e.dir, "message"), []byte(msg), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// mtaRun is what one run left behind.
type mtaRun struct {
	name    string
	dir     string
	report  sim.Report
	queue   string // the MTA's queue listing once settled
	mailbox string // the sender's mailbox: the DSNs
	// lastDelivery is from the submission to the last recipient simnet
	// accepted; settled from the submission to the queue holding only
	// what stays deferred (and the DSNs delivered).
	lastDelivery, settled time.Duration
}

// mtaPrelude sets up the namespace, starts simnet on 127.0.0.1:53 and
// port 25 of every host, and defines the helpers the MTA part uses:
// now, waitFor COND SECONDS, die MSG. The MTA part must set T0 (just
// before submitting) and T1 (once settled), leave the queue listing in
// $D/queue.txt and the sender's mailbox in $D/mailbox.txt.
const mtaPrelude = `set -u
D=%[1]s; B=%[2]s; E=%[3]s
now() { date +%%s.%%N; }
die() { echo "FAIL: $*"; exit 1; }
# waitFor COND SECONDS: poll COND every 0.1 s, false once SECONDS passed.
waitFor() { local end=$((SECONDS + $2)); until eval "$1"; do [ $SECONDS -lt $end ] || return 1; sleep 0.1; done; }
ip link set lo up || die "ip link set lo up"
hostname ` + mtaHost + `
printf 'nameserver 127.0.0.1\n' >$D/resolv.conf
printf '127.0.0.1\tlocalhost\n127.0.0.2\t` + mtaHost + ` mta\n' >$D/hosts
printf '` + mtaHost + `\n' >$D/mailname
mount --bind $D/resolv.conf /etc/resolv.conf || die "bind /etc/resolv.conf"
mount --bind $D/hosts /etc/hosts || die "bind /etc/hosts"
[ -e /etc/mailname ] && mount --bind $D/mailname /etc/mailname
mount -t tmpfs -o mode=1777 tmpfs /var/mail || die "tmpfs /var/mail"
sysctl -qw net.ipv4.tcp_syn_retries=2
$B/simnet %[4]s -dns 127.0.0.1:53 -smtp-port 25 -duration 10m -report $D/report.json >$D/simnet.out 2>$D/simnet.err &
SIMNET=$!
waitFor 'grep -q "simnet: ready" $D/simnet.out' 60 || die "simnet not ready: $(cat $D/simnet.err)"
T0=; T1=
`

// mtaEpilogue dumps simnet's report (SIGUSR1, to tie its clock to ours),
// stops simnet (the final report, with duplicates) and writes the times.
const mtaEpilogue = `
[ -n "$T0" ] && [ -n "$T1" ] || die "T0 or T1 not set"
rm -f $D/report.json
TD=$(now); kill -USR1 $SIMNET
waitFor '[ -s $D/report.json ] && tail -c 3 $D/report.json | grep -q "}"' 30 || die "no report on SIGUSR1"
mv $D/report.json $D/report-dump.json
kill -TERM $SIMNET; wait $SIMNET
printf 'submit=%s\nsettled=%s\ndump=%s\n' $T0 $T1 $TD >$D/times
echo DONE
`

// run runs one MTA part in fresh namespaces and reads what it left.
// compare runs the MTA twice on the same world, handing the list once to
// smtpfeed and once to the MTA's own SMTP client: script returns the MTA
// part of a run (mode "smtpfeed" or "own") whose files go in dir. Both
// runs are checked against the world, smtpfeed's summary line must be
// logged, and the two times go into one TIMING line.
func (e *mtaEnv) compare(t *testing.T, mta string, script func(mode, dir string) string) {
	t.Helper()
	runs := map[string]*mtaRun{}
	for _, mode := range []string{"smtpfeed", "own"} {
		r := e.run(t, mode, script(mode, filepath.Join(e.dir, mode)))
		e.check(t, r)
		if mode == "smtpfeed" {
			log := mtaRead(r.dir + "/smtpfeed.log")
			if !strings.Contains(log, "nrcpts=") {
				t.Errorf("smtpfeed logged no summary line:\n%s", mtaTail(log, 20))
			}
			t.Logf("smtpfeed's summary: %s", mtaGrep(log, "nrcpts="))
		}
		runs[mode] = r
	}
	if e.dsn != nil {
		e.checkDSN(t, runs["smtpfeed"], runs["own"])
	}
	e.logTimes(t, mta, runs["smtpfeed"], runs["own"])
}

func (e *mtaEnv) run(t *testing.T, name, body string) *mtaRun {
	t.Helper()
	r := &mtaRun{name: name, dir: filepath.Join(e.dir, name)}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(mtaPrelude, r.dir, e.bin, e.dir, strings.Join(mtaWorldFlags, " ")) + body + mtaEpilogue
	sf := filepath.Join(r.dir, "run.sh")
	if err := os.WriteFile(sf, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), mtaRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "-m", "-p", "-u", "-i", "-f", "--kill-child", "--mount-proc", "/bin/bash", sf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	os.WriteFile(filepath.Join(r.dir, "run.log"), out.Bytes(), 0o644)
	if err != nil || !strings.Contains(out.String(), "DONE") {
		t.Fatalf("%s run: %v (files in %s)\n%s", name, err, r.dir, mtaTail(out.String(), 60))
	}
	r.queue = mtaRead(filepath.Join(r.dir, "queue.txt"))
	r.mailbox = mtaRead(filepath.Join(r.dir, "mailbox.txt"))
	var dump sim.Report
	for _, f := range []struct {
		path string
		into *sim.Report
	}{{"report-dump.json", &dump}, {"report.json", &r.report}} {
		b, err := os.ReadFile(filepath.Join(r.dir, f.path))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, f.into); err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
	}
	times := map[string]float64{}
	for _, l := range strings.Fields(mtaRead(filepath.Join(r.dir, "times"))) {
		k, v, _ := strings.Cut(l, "=")
		times[k], _ = strconv.ParseFloat(v, 64)
	}
	secs := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	// simnet's origin on our clock: the dump's time less its elapsed.
	origin := times["dump"] - dump.Elapsed.Seconds()
	r.lastDelivery = secs(origin + r.report.LastDelivery.Seconds() - times["submit"]).Round(time.Millisecond)
	r.settled = secs(times["settled"] - times["submit"]).Round(time.Millisecond)
	t.Logf("%s: %s", name, strings.TrimSpace(r.report.Summary()))
	return r
}

// check asserts what every run must show: each deliverable recipient
// delivered exactly once and nothing else delivered, each deferred
// recipient still in the MTA's queue, each bounced recipient in a DSN to
// the sender with the remote server's diagnostic.
func (e *mtaEnv) check(t *testing.T, r *mtaRun) {
	t.Helper()
	got := map[string]int{}
	for _, d := range r.report.Deliveries {
		got[strings.ToLower(d.Rcpt)]++
	}
	var missing, twice []string
	for _, a := range e.world.deliver {
		switch got[strings.ToLower(a)] {
		case 0:
			missing = append(missing, a)
		case 1:
		default:
			twice = append(twice, a)
		}
		delete(got, strings.ToLower(a))
	}
	if len(missing) > 0 {
		t.Errorf("%s: %d of %d deliverable recipients never arrived, e.g. %v", r.name, len(missing), len(e.world.deliver), mtaFirst(missing, 5))
	}
	if len(twice) > 0 || len(r.report.Duplicates) > 0 {
		t.Errorf("%s: delivered more than once: %v (simnet duplicates: %v)", r.name, mtaFirst(twice, 5), r.report.Duplicates)
	}
	if len(got) > 0 {
		t.Errorf("%s: delivered recipients that should not have been: %v", r.name, got)
	}
	queue := strings.ToLower(r.queue)
	var notQueued []string
	for _, a := range e.world.deferred {
		if !strings.Contains(queue, strings.ToLower(a)) {
			notQueued = append(notQueued, a)
		}
	}
	if len(notQueued) > 0 {
		t.Errorf("%s: %d of %d deferred recipients not in the queue, e.g. %v\nqueue:\n%s", r.name, len(notQueued), len(e.world.deferred), mtaFirst(notQueued, 5), mtaTail(r.queue, 30))
	}
	// The queue holds the deferred recipients only.
	for _, a := range e.world.deliver {
		if strings.Contains(queue, "<"+strings.ToLower(a)+">") || strings.Contains(queue, " "+strings.ToLower(a)+"\n") {
			t.Errorf("%s: deliverable %s still in the queue", r.name, a)
			break
		}
	}
	mbox := strings.ToLower(r.mailbox)
	var noDSN []string
	for _, a := range e.world.bounced {
		if !strings.Contains(mbox, strings.ToLower(a)) {
			noDSN = append(noDSN, a)
		}
	}
	if len(noDSN) > 0 {
		t.Errorf("%s: %d of %d bounced recipients in no DSN to %s, e.g. %v\nmailbox:\n%s", r.name, len(noDSN), len(e.world.bounced), mtaSender, mtaFirst(noDSN, 5), mtaTail(r.mailbox, 40))
	}
	if len(e.world.bounced) > 0 {
		t.Logf("%s: DSN diagnostic: %s", r.name, strings.TrimSpace(mtaFirstLine(r.mailbox, "5.1.1")))
	}
	if len(e.world.deferred) > 0 {
		t.Logf("%s: queue line for %s: %s", r.name, e.world.deferred[0], strings.TrimSpace(mtaFirstLine(r.queue, e.world.deferred[0])))
	}
	// simnet's diagnostic: 550 5.1.1 <bounce-...>: Recipient address
	// rejected: mailbox unavailable (or User unknown).
	for _, want := range []string{"5.1.1", "recipient address rejected"} {
		if r.mailbox != "" && !strings.Contains(mbox, want) {
			t.Errorf("%s: the DSN lacks the remote diagnostic %q\nmailbox:\n%s", r.name, want, mtaTail(r.mailbox, 40))
		}
	}
}

// logTimes prints the comparison line.
func (e *mtaEnv) logTimes(t *testing.T, mta string, feed, own *mtaRun) {
	t.Helper()
	t.Logf("TIMING %s, %d recipients (%d deliverable, %d deferred, %d bounced): via smtpfeed last delivery %v, settled %v; %s's own SMTP client last delivery %v, settled %v",
		mta, len(e.world.rcpts), len(e.world.deliver), len(e.world.deferred), len(e.world.bounced),
		feed.lastDelivery, feed.settled, mta, own.lastDelivery, own.settled)
}

func mtaRead(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func mtaFirst(s []string, n int) []string { return s[:min(n, len(s))] }

func mtaTail(s string, lines int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// mtaWrite writes a file, making its directory.
func mtaWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mtaGrep returns the lines of s that contain sub.
func mtaGrep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// mtaFirstLine returns the first line of s containing every sub (any case).
func mtaFirstLine(s string, subs ...string) string {
	for _, l := range strings.Split(s, "\n") {
		ok := true
		for _, sub := range subs {
			ok = ok && strings.Contains(strings.ToLower(l), strings.ToLower(sub))
		}
		if ok {
			return l
		}
	}
	return "(none)"
}
