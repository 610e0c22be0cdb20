package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// TestMain lets the test binary stand in for smtpfeed in a child process,
// so the mailer runs with real pipes on its standard input and output.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("SMTPFEED_TEST_MAIN"); ok {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// smtpfeedChild runs smtpfeed with args, stdin from in, and returns its
// stdout, stderr and exit error.
func smtpfeedChild(t *testing.T, args []string, in []byte) (string, string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SMTPFEED_TEST_MAIN="+strings.Join(args, " "))
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), errb.String(), err
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("smtpfeed did not finish within 60s; stderr:\n%s", errb.String())
	}
	return "", "", nil
}

// worldSession is the LMTP session that hands s's list to smtpfeed.
func worldSession(t *testing.T, s *sim.Sim) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := s.World.WriteLMTP(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestStdioSession: smtpfeed as sendmail runs it, on pipes, delivering the
// generated LMTP session of a simnet world: one reply per recipient after
// DATA, in order, matching the world's outcomes; exit status 0.
func TestStdioSession(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Domains, cfg.Hosts = 200, 30
	s, err := sim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	session := worldSession(t, s)
	args := []string{"-nameserver", s.DNSAddr().String(), "-port", fmt.Sprint(s.SMTPPort()), "-c", "feed.test",
		"-l", "stderr", "-N", "4", "-t", "connect=1s", "-t", "dns=2s", "-t", "idle=1s", "-allow-local", "127.0.0.0/8"}
	out, errOut, err := smtpfeedChild(t, args, session)
	if err != nil {
		t.Fatalf("smtpfeed: %v; stderr:\n%s", err, errOut)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	var codes []string
	afterData := false
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "354") {
			afterData = true
			continue
		}
		if afterData && !strings.HasPrefix(l, "221") {
			codes = append(codes, l)
		}
	}
	rcpts := s.World.Addresses()
	if len(codes) != len(rcpts) {
		t.Fatalf("%d replies after DATA for %d recipients; stdout:\n%s", len(codes), len(rcpts), out)
	}
	class := map[sim.Outcome]byte{sim.Delivered: '2', sim.Deferred: '4', sim.Bounced: '5'}
	for i, a := range rcpts {
		if want := class[s.World.Recipient(a).Expect]; codes[i][0] != want {
			t.Errorf("reply %d (%s) = %q, want %cxx", i, a, codes[i], want)
		}
	}
	if !strings.Contains(errOut, "stat=Sent") || !strings.Contains(errOut, "nrcpts=") {
		t.Errorf("log on stderr lacks the recipient and summary lines:\n%s", errOut)
	}
	// The summary counts the DNS queries: at least one per domain, since
	// the process started with an empty cache.
	if m := regexp.MustCompile(`nrcpts=.* queries=(\d+), datagrams=\d+, tcp=\d+, dns-cached=\d+`).FindStringSubmatch(errOut); m == nil {
		t.Errorf("summary line lacks the DNS counts:\n%s", errOut)
	} else if n, _ := strconv.Atoi(m[1]); n < len(s.World.Domains) {
		t.Errorf("summary says %d queries for %d domains, want at least one each", n, len(s.World.Domains))
	}
	if !strings.HasSuffix(strings.TrimSpace(out), "221 2.0.0 Bye") && !strings.Contains(out, "\r\n221 ") {
		t.Errorf("no 221 at the end of the session:\n%s", out[max(0, len(out)-300):])
	}
}
