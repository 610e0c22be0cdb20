package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The Postfix peer: the same world delivered by Postfix's own SMTP client,
// in the same run, so that smtpfeed's figures stand beside an MTA's that
// list servers use today. Postfix asks the system resolver, which has no
// port but 53, and connects to port 25 only; so each of its runs is a
// child of feedbench in namespaces of its own (postfix_child.go), with
// the world listening on those ports.

// defaultPostfixWorlds are the worlds the peer runs unless -postfix says
// otherwise: those of the table. Not 100k and the larger ones,
// which take Postfix minutes; not the 10k variants, which differ in
// smtpfeed's flags alone.
const defaultPostfixWorlds = "paper,600,1k,dead-mx,dns-silent,10k"

// postfixLimit bounds one Postfix run's wait for its deliveries, past a
// dead MX's connect timeout and a silent domain's lookups; postfixSetup
// is the namespace, configuration and start beside it.
const (
	postfixLimit = 3 * time.Minute
	postfixSetup = 90 * time.Second
)

// postfixProbe says why the peer cannot run here, or "" when it can:
// Linux, root (namespaces, mounts, port 25) and the programs the child
// uses. version is Postfix's mail_version.
func postfixProbe() (version, why string) {
	if runtime.GOOS != "linux" {
		return "", "network namespaces are Linux's"
	}
	if os.Geteuid() != 0 {
		return "", "needs root (namespaces, mounts, port 25)"
	}
	var missing []string
	for _, p := range []string{"postfix", "postconf", "unshare", "ip", "mount", "cp", "chown"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return "", strings.Join(missing, ", ") + " not installed (apt-get install postfix iproute2 util-linux)"
	}
	out, err := exec.Command("postconf", "-d", "-h", "mail_version").Output()
	if err != nil {
		return "", "postconf -d -h mail_version: " + err.Error()
	}
	return strings.TrimSpace(string(out)), ""
}

// peerWorlds parses -postfix: the world names, each of which must be a
// world of the benchmark ("none" or empty: no Postfix runs).
func peerWorlds(list string, all []benchWorld) (map[string]bool, error) {
	want := map[string]bool{}
	if list == "none" {
		return want, nil
	}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.ContainsFunc(all, func(bw benchWorld) bool { return bw.name == n }) {
			return nil, fmt.Errorf("-postfix: no world named %s (worlds: %s)", n, worldNames(all))
		}
		want[n] = true
	}
	return want, nil
}

// runPostfix runs the peer once on world name: feedbench itself again
// under unshare, in the mode postfixChild. The child's output and
// Postfix's log stay in dir.
func runPostfix(name string, o benchOpts, dir string) (peerResult, error) {
	res := peerResult{World: name}
	err := os.MkdirAll(dir, 0o755)
	if err != nil {
		return res, err
	}
	// Postfix's unprivileged processes read below it.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		return res, err
	}
	self := o.exe
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return res, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), postfixLimit+postfixSetup)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "-m", "-p", "-u", "-i", "-f", "--kill-child", "--mount-proc",
		self, "-postfix-child", name, "-seed", fmt.Sprint(o.seed), "-postfix-dir", dir, "-connect", o.connect.String())
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	os.WriteFile(filepath.Join(dir, "child.log"), out, 0o644)
	if ctx.Err() != nil {
		return res, fmt.Errorf("postfix run of %s: no result within %v (killed); see %s", name, postfixLimit+postfixSetup, dir)
	}
	if err != nil {
		return res, fmt.Errorf("postfix run of %s: %v: %s", name, err, lastLines(string(out), 5))
	}
	b, err := os.ReadFile(filepath.Join(dir, peerResultFile))
	if err != nil {
		return res, fmt.Errorf("postfix run of %s left no result: %w", name, err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("postfix run of %s: %s: %w", name, peerResultFile, err)
	}
	if res.Err != "" {
		return res, fmt.Errorf("postfix run of %s: %s (files in %s)", name, res.Err, dir)
	}
	return res, nil
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// peerRow is one world's Postfix runs: the median by last delivery in
// res, or why there is none.
type peerRow struct {
	res  *peerResult
	runs []peerResult
	why  string
}

// benchPostfix runs the peer o.repeat times on one world and keeps the
// median run by last delivery (a run that missed recipients counts as
// the slowest).
func benchPostfix(name string, o benchOpts, stdout io.Writer) peerRow {
	var row peerRow
	for i := range o.repeat {
		dir := filepath.Join(o.dir, fmt.Sprintf("postfix-%s-%d", name, i+1))
		res, err := runPostfix(name, o, dir)
		if err != nil {
			row.why = err.Error()
			fmt.Fprintf(stdout, "world %s, Postfix: %v\n", name, err)
			return row
		}
		fmt.Fprintf(stdout, "world %s, Postfix run %d/%d: %d of %d delivered, last %v, submission %v; files in %s\n",
			name, i+1, o.repeat, res.Delivered, res.Expected, ms(res.Last), ms(res.Submit), dir)
		row.runs = append(row.runs, res)
	}
	row.res = &row.runs[medianBy(row.runs, func(r peerResult) time.Duration {
		if r.Missing > 0 {
			return time.Duration(math.MaxInt64)
		}
		return r.Last
	})]
	return row
}
