package main

import (
	"bufio"
	"bytes"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"smtpfeed/cmd/simnet/sim"
)

// lmtpTally is what an LMTP session's output says: recipients accepted at
// RCPT, and the replies after the final dot, in order.
type lmtpTally struct {
	accepted int
	data     bool // DATA got its 354
	replies  []string
}

func tallyLMTP(out string) lmtpTally {
	var t lmtpTally
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	// Replies come in command order: 220, LHLO, MAIL, then one per RCPT.
	n := 0
	for sc.Scan() {
		l := sc.Text()
		if len(l) > 3 && l[3] == '-' {
			continue
		}
		n++
		switch {
		case strings.HasPrefix(l, "354"):
			t.data = true
		case t.data && !strings.HasPrefix(l, "221"):
			t.replies = append(t.replies, l)
		case !t.data && n > 3 && strings.HasPrefix(l, "250"):
			t.accepted++
		}
	}
	return t
}

// TestEveryFlag runs the binary with each documented option, alone and in
// the combinations operators use, on one LMTP message to a small world:
// no run may crash, every accepted recipient gets exactly one reply after
// the final dot, and where cheap the option's effect shows in the replies.
func TestEveryFlag(t *testing.T) {
	// Every host offers STARTTLS, with its own self-signed certificate.
	s, err := sim.Start(sim.Config{Seed: 8, Domains: 6, Hosts: 3, Users: 2, StartTLS: 3, DNSAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // after the parallel runs, unlike defer
	session := worldSession(t, s)
	rcpts := s.World.Addresses()
	dir := t.TempDir()
	rcptFile := filepath.Join(dir, "rcpts")
	if err := os.WriteFile(rcptFile, []byte(strings.Join(rcpts, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The hosts' certificates as roots, for -T secure; a policy file
	// that names every domain of the world at level encrypt, and one
	// with a mistake on its second line.
	var roots bytes.Buffer
	for _, h := range s.World.Hosts {
		if c := h.Cert(); c != nil {
			pem.Encode(&roots, &pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
		}
	}
	caFile, policyFile, badPolicy := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "policy"), filepath.Join(dir, "bad-policy")
	var policy strings.Builder
	for _, d := range s.World.Domains {
		fmt.Fprintf(&policy, "%s encrypt\n", d.Name)
	}
	for f, content := range map[string]string{caFile: roots.String(), policyFile: policy.String(), badPolicy: "example.com may\nexample.net sometimes\n"} {
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"-nameserver", s.DNSAddr().String(), "-port", fmt.Sprint(s.SMTPPort()), "-c", "feed.test",
		"-l", "stderr", "-t", "connect=2s", "-t", "dns=3s", "-t", "idle=1s", "-allow-local", "127.0.0.0/8"}

	type flagRun struct {
		name  string
		args  []string
		stdin bool   // an LMTP session on stdin
		want  string // every reply after the dot starts with it; "" any
		code  int
	}
	runs := []flagRun{
		{"defaults", nil, true, "250 ", exitOK},
		{"-c", []string{"-c", "other.test"}, true, "250 ", exitOK},
		{"-1", []string{"-1"}, true, "250 ", exitOK},
		{"-2", []string{"-2"}, true, "250 ", exitOK},
		{"-1 -2", []string{"-1", "-2"}, true, "250 ", exitOK},
		{"-R 1", []string{"-R", "1"}, true, "250 ", exitOK},
		{"-R 100000", []string{"-R", "100000"}, true, "250 ", exitOK},
		{"-n 1", []string{"-n", "1"}, true, "250 ", exitOK},
		{"-u", []string{"-u"}, true, "250 ", exitOK},
		{"-F", []string{"-F"}, true, "250 ", exitOK},
		{"-1 -F", []string{"-1", "-F"}, true, "250 ", exitOK},
		{"-received-for", []string{"-received-for", "-1"}, true, "250 ", exitOK},
		{"-F -F", []string{"-F", "-F"}, true, "250 ", exitOK},
		{"-1 -F -F", []string{"-1", "-F", "-F"}, true, "250 ", exitOK},
		{"-verp -verp-delims", []string{"-verp", "-verp-delims", "-="}, true, "250 ", exitOK},
		{"-F -F -F", []string{"-F", "-F", "-F"}, false, "", exitUsage},
		{"-verp-delims bad", []string{"-verp", "-verp-delims", "+@"}, false, "", exitUsage},
		{"-P 1", []string{"-P", "1"}, true, "250 ", exitOK},
		{"-P 0", []string{"-P", "0"}, false, "", exitUsage},
		{"-reuse-limit 1", []string{"-reuse-limit", "1"}, true, "250 ", exitOK},
		{"-reuse-limit -1", []string{"-reuse-limit", "-1"}, false, "", exitUsage},
		{"-rate", []string{"-rate", "100000"}, true, "250 ", exitOK},
		{"-rate -1", []string{"-rate", "-1"}, false, "", exitUsage},
		{"-m address literal", []string{"-m", "[127.0.0.1]"}, true, "250 ", exitOK},
		{"-m name", []string{"-m", "nowhere.invalid"}, true, "250 ", exitOK},
		{"-a", []string{"-a", "alias.test", "-a", "another.test"}, true, "250 ", exitOK},
		{"-N 4", []string{"-N", "4"}, true, "250 ", exitOK},
		{"-4", []string{"-4"}, true, "250 ", exitOK},
		{"-prefer 6 in an IPv4 world", []string{"-prefer", "6"}, true, "250 ", exitOK},
		{"-prefer 5", []string{"-prefer", "5"}, false, "", exitUsage},
		{"-N 6 in an IPv4 world", []string{"-N", "6"}, true, "4", exitOK},
		{"-o", []string{"-o", "127.0.0.1"}, true, "250 ", exitOK},
		{"-o -N 4", []string{"-o", "127.0.0.1", "-N", "4"}, true, "250 ", exitOK},
		{"-d D", []string{"-d", "D"}, true, "451 4.3.0", exitOK},
		{"-d Q", []string{"-d", "Q"}, true, "450 4.3.0", exitOK},
		{"-d QD", []string{"-d", "QD"}, true, "450 4.3.0", exitOK},
		{"-d DQ -2", []string{"-d", "DQ", "-2"}, true, "450 4.3.0", exitOK},
		{"-d Q recipients", append([]string{"-d", "Q"}, rcpts...), false, "", exitOK},
		{"-d QD -r", []string{"-d", "QD", "-r", rcptFile}, false, "", exitOK},
		{"-size", []string{"-size", "100"}, true, "", exitOK},
		{"-max-rcpts", []string{"-max-rcpts", "2"}, true, "250 ", exitOK},
		{"-max-queries", []string{"-max-queries", "1"}, true, "250 ", exitOK},
		{"-mx-addrs -host-addrs", []string{"-mx-addrs", "1", "-host-addrs", "1"}, true, "250 ", exitOK},
		{"-T none", []string{"-T", "none"}, true, "250 ", exitOK},
		{"-T may", []string{"-T", "may"}, true, "250 ", exitOK},
		{"-T encrypt", []string{"-T", "encrypt"}, true, "250 ", exitOK},
		{"-T dane without -trust-ad", []string{"-T", "dane"}, true, "250 ", exitOK},
		{"-T dane -trust-ad, unsigned world", []string{"-T", "dane", "-trust-ad"}, true, "250 ", exitOK},
		{"-T dane-only", []string{"-T", "dane-only", "-trust-ad"}, true, "451 4.7.5", exitOK},
		{"-T secure, system roots", []string{"-T", "secure"}, true, "451 4.7.5", exitOK},
		{"-T secure -tls-ca", []string{"-T", "secure", "-tls-ca", caFile}, true, "250 ", exitOK},
		{"-T none -tls-policy encrypt", []string{"-T", "none", "-tls-policy", policyFile}, true, "250 ", exitOK},
		{"-T bogus", []string{"-T", "bogus"}, false, "", exitUsage},
		{"-tls-policy with a bad line", []string{"-tls-policy", badPolicy}, false, "", exitConfig},
		{"-tls-policy missing", []string{"-tls-policy", filepath.Join(dir, "none")}, false, "", exitConfig},
		{"-tls-ca not PEM", []string{"-tls-ca", rcptFile}, false, "", exitConfig},
		{"-V", []string{"-V"}, false, "", exitOK},
		{"-h", []string{"-h"}, false, "", exitUsage},
	}
	// What stderr must say for a configuration refused.
	wantStderr := map[string]string{
		"-tls-policy with a bad line": "bad-policy:2: unknown TLS security level \"sometimes\"",
		"-tls-ca not PEM":             "no PEM certificate",
		"-T bogus":                    "unknown TLS security level \"bogus\"",
	}
	names := make([]string, 0, len(timeoutNames))
	for n := range timeoutNames {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		runs = append(runs, flagRun{"-t " + n, []string{"-t", n + "=30s"}, true, "250 ", exitOK})
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			args := append(slices.Clone(base), r.args...)
			var in []byte
			if r.stdin {
				in = session
			}
			out, errOut, err := smtpfeedChild(t, args, in)
			code := exitOK
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(errOut, "panic:") || strings.Contains(errOut, "goroutine ") {
				t.Fatalf("smtpfeed %q crashed:\n%s", r.args, errOut)
			}
			if code != r.code {
				t.Fatalf("smtpfeed %q exited %d, want %d; stderr:\n%s", r.args, code, r.code, errOut)
			}
			if want := wantStderr[r.name]; !strings.Contains(errOut, want) {
				t.Errorf("smtpfeed %q: stderr does not say %q:\n%s", r.args, want, errOut)
			}
			if !r.stdin {
				return
			}
			tl := tallyLMTP(out)
			if tl.data && len(tl.replies) != tl.accepted {
				t.Fatalf("smtpfeed %q: %d replies after the dot for %d accepted recipients; stdout:\n%s", r.args, len(tl.replies), tl.accepted, out)
			}
			for i, rep := range tl.replies {
				if !strings.HasPrefix(rep, r.want) {
					t.Errorf("smtpfeed %q: reply %d = %q, want %q...", r.args, i, rep, r.want)
				}
			}
		})
	}
}
